//! The learned vehicle detector: a small fully convolutional network predicting a heat
//! map of vehicle centres and each vehicle's length, so that vehicles parked nose to
//! tail or side by side are counted one peak each instead of one merged blob
//! (CenterNet, Zhou et al., *Objects as Points*, 2019). Inference is pure Rust
//! ([`net`]); the weights ship in the binary ([`model`]); `stagewatch train`
//! reproduces them ([`train`], [`frames`]) and `stagewatch calibrate` measures them
//! ([`measure`]).
//!
//! Detection: the first three bands are resized to the model's working pixel size
//! (area average when finer, bilinear when coarser), stretched per band by robust
//! quantiles over the valid pixels, run through the network (averaged over the input's
//! mirror images when the model says so, [`views`]), and every heat-map cell
//! that is a 3x3 local maximum above the model's threshold is a vehicle at that cell's
//! centre. The vehicle class is a length window on the predicted length.

pub mod conv;
pub mod direct;
#[cfg(target_arch = "x86_64")]
mod direct512;
pub mod frames;
pub mod image;
pub mod measure;
pub mod model;
pub mod net;
pub mod render;
pub mod rng;
pub mod train;
pub mod views;
pub mod withdrawal;

use ndarray::Array3;

use crate::blobs::{Blob, Polarity, VehicleClass};
use image::{resize, stretch};
use model::Model;
use net::Tensor;

/// One detected vehicle in the input's pixel coordinates (pixel centres at +0.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub col: f64,
    pub row: f64,
    /// Heat-map peak (0-1).
    pub score: f32,
    /// Predicted length (longer side of its axis-aligned box), metres.
    pub length_m: f64,
}

/// Length window of a class for the learned detector, metres: `car` is up to a van,
/// `military` from a light armoured vehicle to a tank with its gun, `any` everything.
pub fn length_window(class: VehicleClass) -> (f64, f64) {
    match class {
        VehicleClass::Car => (2.5, 6.5),
        VehicleClass::Military => (5.2, 14.0),
        VehicleClass::Any => (2.5, 20.0),
    }
}

/// The image as a 3-band HWC tensor (a single band repeated), NaN set to 0.
pub fn to_tensor(img: &Array3<f32>) -> Tensor {
    let (bands, h, w) = img.dim();
    let mut t = Tensor::zeros(h, w, 3);
    for b in 0..3 {
        let src = img.index_axis(ndarray::Axis(0), b.min(bands - 1));
        for (i, v) in src.iter().enumerate() {
            t.data[i * 3 + b] = if v.is_finite() { *v } else { 0.0 };
        }
    }
    t
}

/// Heat-map peaks above `threshold` (strict 3x3 local maxima; ties broken towards
/// the first in raster order, so the result is deterministic).
pub fn peaks(out: &Tensor, threshold: f32) -> Vec<(usize, usize, f32, f32)> {
    let (h, w) = (out.h, out.w);
    let z_thr = (threshold / (1.0 - threshold)).ln();
    let z = |r: usize, c: usize| out.data[(r * w + c) * out.c];
    let mut v = Vec::new();
    for r in 0..h {
        for c in 0..w {
            let zc = z(r, c);
            if zc < z_thr {
                continue;
            }
            let mut best = true;
            for dr in -1isize..=1 {
                for dc in -1isize..=1 {
                    let (rr, cc) = (r as isize + dr, c as isize + dc);
                    if (dr, dc) == (0, 0) || rr < 0 || cc < 0 || rr >= h as isize || cc >= w as isize {
                        continue;
                    }
                    let zn = z(rr as usize, cc as usize);
                    let earlier = (dr, dc) < (0, 0);
                    if zn > zc || (earlier && zn == zc) {
                        best = false;
                    }
                }
            }
            if best {
                let p = 1.0 / (1.0 + (-zc).exp());
                v.push((r, c, p, out.data[(r * w + c) * out.c + 1]));
            }
        }
    }
    v
}

/// `img` (`[band, row, col]`, pixel size `gsd_m`) as the network sees it: a 3-band
/// tensor resized to the model's working pixel size and stretched over the pixels where
/// `valid`. None when the image is empty or nothing is valid.
pub fn prepare(img: &Array3<f32>, valid: &[bool], gsd_m: f64, model: &Model) -> Option<Tensor> {
    let (_, h, w) = img.dim();
    if h == 0 || w == 0 {
        return None;
    }
    let f = gsd_m / model.header.working_gsd_m;
    let (oh, ow) = (
        ((h as f64) * f).round().max(1.0) as usize,
        ((w as f64) * f).round().max(1.0) as usize,
    );
    let x = to_tensor(img);
    let vt = Tensor {
        h,
        w,
        c: 1,
        data: valid.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect(),
    };
    let mut xs = resize(&x, oh, ow);
    let vs: Vec<bool> = resize(&vt, oh, ow).data.iter().map(|&v| v > 0.5).collect();
    // Invalid pixels must not drag the stretch: NaN areas were set to 0 above.
    stretch(&mut xs, &vs).then_some(xs)
}

/// Vehicles in `img` (`[band, row, col]`, pixel size `gsd_m`) at pixels where `valid`.
pub fn detect(img: &Array3<f32>, valid: &[bool], gsd_m: f64, model: &Model) -> Vec<Found> {
    let (_, h, w) = img.dim();
    let Some(xs) = prepare(img, valid, gsd_m, model) else {
        return Vec::new();
    };
    let (oh, ow) = (xs.h, xs.w);
    let m = &model.header;
    let out = views::forward_views(&xs, &m.layers, &model.weights, m.output_stride, m.views);
    let stride = m.output_stride as f64;
    let (sx, sy) = (w as f64 / ow as f64, h as f64 / oh as f64);
    peaks(&out, model.header.threshold)
        .into_iter()
        .map(|(r, c, p, log_len)| Found {
            col: (c as f64 + 0.5) * stride * sx,
            row: (r as f64 + 0.5) * stride * sy,
            score: p,
            length_m: (log_len as f64).exp(),
        })
        .filter(|d| {
            let (c, r) = (d.col.floor() as usize, d.row.floor() as usize);
            c < w && r < h && valid[r * w + c]
        })
        .collect()
}

/// Detections of a class as blobs for the pipeline. The learned detector measures a
/// vehicle's length only: `width_m` is a nominal 0.45 x length and `area_m2` their
/// product, `area_px` that area in pixels.
pub fn detect_blobs(
    img: &Array3<f32>,
    valid: &[bool],
    gsd_m: f64,
    model: &Model,
    class: VehicleClass,
) -> Vec<Blob> {
    let (lo, hi) = length_window(class);
    detect(img, valid, gsd_m, model)
        .into_iter()
        .filter(|d| d.length_m >= lo && d.length_m <= hi)
        .map(|d| {
            let width_m = 0.45 * d.length_m;
            let area_m2 = d.length_m * width_m;
            Blob {
                col: d.col,
                row: d.row,
                area_px: (area_m2 / (gsd_m * gsd_m)).round() as usize,
                area_m2,
                length_m: d.length_m,
                width_m,
                polarity: Polarity::Dark,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// False detections allowed on 0.01 km² of bare textured ground. The shipped model
    /// (48,000 steps, thirteenth session) gives 0, as did the tenth session's; the sixth
    /// session's (24,000 steps) gave 11 (1,100 per km², against 361 per km² calibrated
    /// on real frames); the 8,000-step model before it gave 74 (the bound was 80 for it),
    /// the one before that 33; earlier models gave 286 without the stretch floor and 23
    /// with it. The bound is back at its first value.
    const BARE_GROUND_MAX: usize = 40;

    #[test]
    fn peaks_are_strict_local_maxima_with_deterministic_ties() {
        // Heat logits 3x4 (channel 0), size channel 1 = 0.
        let z = [0.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, -5.0];
        let mut t = Tensor::zeros(3, 4, 2);
        for (i, v) in z.iter().enumerate() {
            t.data[i * 2] = *v;
        }
        let p = peaks(&t, 0.5);
        let at: Vec<(usize, usize)> = p.iter().map(|x| (x.0, x.1)).collect();
        // (0,1) and (0,2) tie: only the first counts; (2,0) is a separate maximum.
        assert_eq!(at, vec![(0, 1), (2, 0)]);
    }

    #[test]
    fn class_windows_nest() {
        let (a0, a1) = length_window(VehicleClass::Any);
        for c in [VehicleClass::Car, VehicleClass::Military] {
            let (l, h) = length_window(c);
            assert!(l >= a0 && h <= a1 && l < h);
        }
    }

    #[test]
    fn shipped_model_finds_little_on_bare_textured_ground() {
        let m = Model::shipped();
        // 100 x 100 m of ground at 0.5 m: spatially correlated texture (noise smoothed
        // over 2 m, as gravel or grass looks) plus a little sensor noise. No vehicle.
        let mut rng = rng::SplitMix64::new(5);
        let n = 200;
        let raw: Vec<f32> = (0..n * n).map(|_| rng.normal()).collect();
        let smooth = |r: usize, c: usize| {
            let mut s = 0.0;
            for dr in 0..4 {
                for dc in 0..4 {
                    s += raw[((r + dr) % n) * n + (c + dc) % n];
                }
            }
            s / 4.0
        };
        let img = Array3::<f32>::from_shape_fn((3, n, n), |(_, r, c)| {
            100.0 + 6.0 * smooth(r, c) + 0.5 * rng.normal()
        });
        let found = detect(&img, &vec![true; n * n], 0.5, &m);
        eprintln!("{} detections on bare ground: {found:?}", found.len());
        assert!(found.len() <= BARE_GROUND_MAX, "bare ground: {}", found.len());
    }

    #[test]
    fn detections_fall_on_valid_pixels_only() {
        let m = Model::shipped();
        let mut rng = rng::SplitMix64::new(6);
        let img = Array3::<f32>::from_shape_fn((3, 120, 160), |_| 100.0 + 30.0 * rng.normal());
        let mut valid = vec![true; 120 * 160];
        valid[..60 * 160].iter_mut().for_each(|v| *v = false);
        for d in detect(&img, &valid, 0.5, &m) {
            assert!(d.row >= 60.0, "{d:?}");
        }
    }
}
