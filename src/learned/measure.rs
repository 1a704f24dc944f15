//! Measuring a detector on labelled frames: one-to-one matching of detections to
//! labelled vehicle centres within half the vehicle's length (greedy, closest pairs
//! first), recall, precision, count error per frame, and false positives per km² for the
//! evidence model's error terms (`stagewatch calibrate`).

use ndarray::Array3;
use rayon::prelude::*;

use super::frames::{entry_boxes, read_rgb, Entry, LBox};
use super::image::resize;
use super::model::Model;
use super::{detect, length_window};
use crate::blobs::VehicleClass;
use crate::error::Result;

/// Scores of one frame at one pixel size.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FrameScore {
    pub frame: String,
    pub source: String,
    pub sequence: String,
    /// Pixel size the frame was presented at, metres.
    pub gsd_m: f64,
    pub truth: usize,
    pub detected: usize,
    pub matched: usize,
    /// Area over which counts are taken, km².
    pub area_km2: f64,
}

impl FrameScore {
    pub fn recall(&self) -> f64 {
        self.matched as f64 / self.truth.max(1) as f64
    }
    pub fn precision(&self) -> f64 {
        self.matched as f64 / self.detected.max(1) as f64
    }
    /// |detected - truth| / truth.
    pub fn count_error(&self) -> f64 {
        (self.detected as f64 - self.truth as f64).abs() / self.truth.max(1) as f64
    }
}

/// Greedy one-to-one matching: pairs within `radius_px[j]` of truth `j`, closest first.
pub fn match_count(det: &[(f64, f64)], truth: &[(f64, f64)], radius_px: &[f64]) -> usize {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, d) in det.iter().enumerate() {
        for (j, t) in truth.iter().enumerate() {
            let dist = (d.0 - t.0).hypot(d.1 - t.1);
            if dist <= radius_px[j] {
                pairs.push((dist, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut di, mut tj) = (vec![false; det.len()], vec![false; truth.len()]);
    let mut n = 0;
    for (_, i, j) in pairs {
        if !di[i] && !tj[j] {
            di[i] = true;
            tj[j] = true;
            n += 1;
        }
    }
    n
}

/// A labelled entry as the detector sees it: decoded and, when `gsd_m` is coarser than
/// its own pixel size, resized to it; boxes and the completely labelled region carried
/// into its pixels.
pub struct Presented {
    pub name: String,
    /// `[band, row, col]`.
    pub img: Array3<f32>,
    pub boxes: Vec<LBox>,
    pub gsd_m: f64,
    pub region: Option<[f64; 4]>,
}

impl Presented {
    /// Reads entry `e` presented at `gsd_m` (None = its own pixel size).
    pub fn load(e: &Entry, gsd_m: Option<f64>) -> Result<Presented> {
        let raw = read_rgb(&e.image)?;
        let boxes = entry_boxes(e, raw.w, raw.h)?;
        let g = gsd_m.unwrap_or(e.gsd_m).max(e.gsd_m);
        let s = e.gsd_m / g;
        let (rh, rw) = (raw.h as f64, raw.w as f64);
        let img = if (s - 1.0).abs() < 1e-9 {
            raw
        } else {
            let (oh, ow) = (
                (rh * s).round().max(1.0) as usize,
                (rw * s).round().max(1.0) as usize,
            );
            resize(&raw, oh, ow)
        };
        let (sx, sy) = (img.w as f64 / rw, img.h as f64 / rh);
        Ok(Presented {
            name: e
                .image
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            img: Array3::from_shape_fn((3, img.h, img.w), |(b, r, c)| img.data[(r * img.w + c) * 3 + b]),
            boxes: boxes
                .iter()
                .map(|b| LBox {
                    x: (b.x as f64 * sx) as f32,
                    y: (b.y as f64 * sy) as f32,
                    ..*b
                })
                .collect(),
            gsd_m: g,
            region: e.region.map(|r| [r[0] * sx, r[1] * sx, r[2] * sx, r[3] * sx]),
        })
    }

    /// True when pixel point (x, y) is in the completely labelled region.
    pub fn inside(&self, x: f64, y: f64) -> bool {
        self.region
            .is_none_or(|r| x >= r[0] && x < r[2] && y >= r[1] && y < r[3])
    }

    /// Area over which counts are taken, km².
    pub fn area_km2(&self) -> f64 {
        let (_, h, w) = self.img.dim();
        let px = self
            .region
            .map(|r| (r[2] - r[0]) * (r[3] - r[1]))
            .unwrap_or((w * h) as f64);
        px * self.gsd_m * self.gsd_m / 1e6
    }

    /// Every pixel valid.
    pub fn all_valid(&self) -> Vec<bool> {
        let (_, h, w) = self.img.dim();
        vec![true; h * w]
    }
}

/// Detections of one frame (with scores) and its truth, ready to score at any
/// threshold at or above the one they were found with.
#[derive(Debug, Clone)]
pub struct Scored {
    pub frame: String,
    pub source: String,
    pub sequence: String,
    pub gsd_m: f64,
    /// Detected centres in the presented pixels, with their heat-map scores.
    pub det: Vec<(f64, f64, f32)>,
    pub truth: Vec<(f64, f64)>,
    pub radius_px: Vec<f64>,
    pub area_km2: f64,
}

impl Scored {
    /// The frame's scores counting detections at or above `threshold`.
    pub fn at(&self, threshold: f32) -> FrameScore {
        let det: Vec<(f64, f64)> = self
            .det
            .iter()
            .filter(|d| d.2 >= threshold)
            .map(|d| (d.0, d.1))
            .collect();
        FrameScore {
            frame: self.frame.clone(),
            source: self.source.clone(),
            sequence: self.sequence.clone(),
            gsd_m: self.gsd_m,
            truth: self.truth.len(),
            detected: det.len(),
            matched: match_count(&det, &self.truth, &self.radius_px),
            area_km2: self.area_km2,
        }
    }
}

/// Runs `model` on one entry at `gsd_m` (None = native), class `class`.
pub fn detect_entry(e: &Entry, gsd_m: Option<f64>, model: &Model, class: VehicleClass) -> Result<Scored> {
    let f = Presented::load(e, gsd_m)?;
    let (lo, hi) = length_window(class);
    let det: Vec<(f64, f64, f32)> = detect(&f.img, &f.all_valid(), f.gsd_m, model)
        .into_iter()
        .filter(|d| d.length_m >= lo && d.length_m <= hi && f.inside(d.col, d.row))
        .map(|d| (d.col, d.row, d.score))
        .collect();
    let truth: Vec<&LBox> = f
        .boxes
        .iter()
        .filter(|b| f.inside(b.x as f64, b.y as f64))
        .collect();
    Ok(Scored {
        source: e.source.clone(),
        sequence: e.sequence.clone(),
        gsd_m: f.gsd_m,
        det,
        truth: truth.iter().map(|b| (b.x as f64, b.y as f64)).collect(),
        radius_px: truth.iter().map(|b| 0.5 * b.len_m as f64 / f.gsd_m).collect(),
        area_km2: f.area_km2(),
        frame: f.name,
    })
}

/// Runs the model on every entry (in parallel, results in entry order).
pub fn detect_all(
    entries: &[Entry],
    gsd_m: Option<f64>,
    model: &Model,
    class: VehicleClass,
) -> Result<Vec<Scored>> {
    entries
        .par_iter()
        .map(|e| detect_entry(e, gsd_m, model, class))
        .collect()
}

/// Scores every entry at the model's threshold.
pub fn score_all(
    entries: &[Entry],
    gsd_m: Option<f64>,
    model: &Model,
    class: VehicleClass,
) -> Result<Vec<FrameScore>> {
    let t = model.header.threshold;
    Ok(detect_all(entries, gsd_m, model, class)?
        .iter()
        .map(|s| s.at(t))
        .collect())
}

/// Totals over frames: recall, precision, false positives per km², median and worst
/// per-frame count error (frames with at least `min_truth` vehicles).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub frames: usize,
    pub truth: usize,
    pub detected: usize,
    pub recall: f64,
    pub precision: f64,
    pub false_positives_per_km2: f64,
    pub count_error_median: f64,
    pub count_error_worst: f64,
}

/// Summarises frame scores.
pub fn summarise(s: &[FrameScore], min_truth: usize) -> Summary {
    let (t, d, m): (usize, usize, usize) = s.iter().fold((0, 0, 0), |a, f| {
        (a.0 + f.truth, a.1 + f.detected, a.2 + f.matched)
    });
    let area: f64 = s.iter().map(|f| f.area_km2).sum();
    let mut errs: Vec<f32> = s
        .iter()
        .filter(|f| f.truth >= min_truth)
        .map(|f| f.count_error() as f32)
        .collect();
    errs.sort_by(|a, b| a.total_cmp(b));
    Summary {
        frames: s.len(),
        truth: t,
        detected: d,
        recall: m as f64 / t.max(1) as f64,
        precision: m as f64 / d.max(1) as f64,
        false_positives_per_km2: (d - m) as f64 / area.max(1e-12),
        count_error_median: crate::stats::median(errs.iter().copied()).unwrap_or(0.0) as f64,
        count_error_worst: errs.last().copied().unwrap_or(0.0) as f64,
    }
}

/// Coefficient of variation of the false-positive rate between frames, beyond the
/// Poisson noise of each frame's count: with the pooled rate λ = ΣFP / ΣA, a frame's
/// count has variance λA + σ²A² when rates vary with variance σ² (a gamma-Poisson
/// mixture), so σ² = Σ((FP − λA)² − λA) / ΣA² (method of moments; Cameron & Trivedi,
/// *Regression Analysis of Count Data*, 2013, ch. 3). 0 when the counts vary no more
/// than Poisson noise, or there are no false positives.
pub fn false_positive_rate_cv(s: &[FrameScore]) -> f64 {
    let fp = |f: &FrameScore| (f.detected - f.matched) as f64;
    let area: f64 = s.iter().map(|f| f.area_km2).sum();
    let area2: f64 = s.iter().map(|f| f.area_km2 * f.area_km2).sum();
    let total: f64 = s.iter().map(fp).sum();
    if total <= 0.0 || area2 <= 0.0 {
        return 0.0;
    }
    let rate = total / area;
    let excess: f64 = s
        .iter()
        .map(|f| (fp(f) - rate * f.area_km2).powi(2) - rate * f.area_km2)
        .sum();
    (excess / area2).max(0.0).sqrt() / rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_one_to_one_and_closest_first() {
        let det = [(0.0, 0.0), (1.0, 0.0), (10.0, 0.0)];
        let truth = [(0.9, 0.0), (20.0, 0.0)];
        assert_eq!(match_count(&det, &truth, &[2.0, 2.0]), 1);
        assert_eq!(match_count(&det, &truth, &[0.05, 2.0]), 0);
    }

    #[test]
    fn summary_counts() {
        let f = |t, d, m| FrameScore {
            frame: "f".into(),
            source: "s".into(),
            sequence: "q".into(),
            gsd_m: 0.5,
            truth: t,
            detected: d,
            matched: m,
            area_km2: 0.01,
        };
        let s = summarise(&[f(10, 8, 8), f(20, 22, 18)], 5);
        // 0 and 4 false positives on equal areas, rate 200 / km²: each frame's excess
        // over its Poisson variance is (2² - 2) = 2, so σ² = 4 / 2e-4 and cv = √2 / 2.
        let cv = false_positive_rate_cv(&[f(10, 8, 8), f(20, 22, 18)]);
        assert!((cv - 2f64.sqrt() / 2.0).abs() < 1e-9, "{cv}");
        // Equal counts on equal areas vary less than Poisson noise: no spread.
        assert_eq!(false_positive_rate_cv(&[f(10, 12, 8), f(20, 22, 18)]), 0.0);
        assert!((s.recall - 26.0 / 30.0).abs() < 1e-12);
        assert!((s.false_positives_per_km2 - 200.0).abs() < 1e-9);
        assert!((s.count_error_worst - 0.2).abs() < 1e-6);
    }
}
