//! What a date did not really observe: saturated pixels, clouds and haze, and
//! user-supplied masks.
//!
//! Clouds are found by comparing the two dates, since a cloud is transient, bright,
//! grey and smooth: with L = ln(brightness_this / brightness_other), the mode of L over
//! the site estimates the global gain between dates (the mode, unlike the mean or the
//! median, survives a cloud over half the site); a pixel is a cloud candidate when L
//! exceeds that mode by `min_brightening` (ln 1.4 by default), its colour is desaturated
//! ((max - min) / mean over the visible bands below `max_saturation`) and its local
//! texture is low. Candidate regions smaller than `min_area_m2` (a vehicle that left a
//! gravel pad brightens too, but is small) are dropped; the rest are grown by
//! `buffer_m` to cover thin cloud edges and haze. A packed row of vehicles that left a
//! pad is not small, so a region is also dropped when it is no brighter than the ring
//! of clear ground around it on the same date and that ring did not brighten
//! (`left_ground`): a cloud is a local brightening of this date, departed vehicles
//! reveal ground that looks like its surroundings.

use crate::blobs::brightness_of_first;
use crate::change::morph;
use ndarray::{Array2, Array3, ArrayView2};

/// Tunables.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaskParams {
    /// Detect clouds and haze.
    pub clouds: bool,
    pub min_brightening: f64,
    pub max_saturation: f32,
    /// Maximum local standard deviation, as a fraction of local brightness.
    pub max_texture: f32,
    pub min_area_m2: f64,
    pub buffer_m: f64,
}

impl Default for MaskParams {
    fn default() -> Self {
        MaskParams {
            clouds: true,
            min_brightening: 1.4f64.ln(),
            max_saturation: 0.2,
            max_texture: 0.06,
            min_area_m2: 400.0,
            buffer_m: 4.0,
        }
    }
}

impl MaskParams {
    /// The smallest cloud region kept, in pixels of `gsd_m`.
    fn min_area_px(&self, gsd_m: f64) -> usize {
        (self.min_area_m2 / (gsd_m * gsd_m)).ceil() as usize
    }

    /// Whether a usable pixel with log-ratio `l` brightened beyond the dates' mode `m`
    /// by more than `min_brightening` (the first condition of a cloud candidate).
    fn brightened(&self, usable: bool, l: f64, m: f64) -> bool {
        usable && l - m > self.min_brightening
    }
}

/// ln(brightness of this date / of the other) where usable and both are positive, else
/// NaN.
fn log_ratio(bt: ArrayView2<f32>, bo: ArrayView2<f32>, usable: &[bool]) -> Vec<f64> {
    bt.iter()
        .zip(bo.iter())
        .zip(usable)
        .map(|((&bt, &bo), &u)| {
            if u && bt > 0.0 && bo > 0.0 {
                (bt as f64 / bo as f64).ln()
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Pixels where any band reaches `white` (sensor saturation).
pub fn saturated(img: &Array3<f32>, white: f32) -> Vec<bool> {
    let (bands, h, w) = img.dim();
    let mut m = vec![false; h * w];
    for b in 0..bands {
        for (i, v) in img.index_axis(ndarray::Axis(0), b).iter().enumerate() {
            if *v >= white {
                m[i] = true;
            }
        }
    }
    m
}

/// (max - min) / mean over the first three bands (all bands when fewer).
fn saturation(img: &Array3<f32>) -> Array2<f32> {
    let (bands, h, w) = img.dim();
    let nb = bands.min(3);
    let planes: Vec<Vec<f32>> = (0..nb)
        .map(|b| img.index_axis(ndarray::Axis(0), b).iter().copied().collect())
        .collect();
    let v = (0..h * w)
        .map(|i| {
            let (mut mx, mut mn, mut sum) = (f32::NEG_INFINITY, f32::INFINITY, -0.0f32);
            for p in &planes {
                let v = p[i];
                mx = mx.max(v);
                mn = mn.min(v);
                sum += v;
            }
            let mean = sum / nb as f32;
            if mean > 0.0 {
                (mx - mn) / mean
            } else {
                f32::INFINITY
            }
        })
        .collect();
    Array2::from_shape_vec((h, w), v).expect("h x w values")
}

/// Local standard deviation over a (2r+1)^2 box divided by the local mean.
fn relative_texture(b: ArrayView2<f32>, r: usize) -> Array2<f32> {
    let v = b.mapv(|x| if x.is_finite() { x as f64 } else { 0.0 });
    let sq = v.mapv(|x| x * x);
    let m = crate::align::coreg::box_mean(v.view(), r);
    let m2 = crate::align::coreg::box_mean(sq.view(), r);
    ndarray::Zip::from(&m).and(&m2).map_collect(|&a, &b| {
        if a > 0.0 {
            ((b - a * a).max(0.0).sqrt() / a) as f32
        } else {
            f32::INFINITY
        }
    })
}

/// Mode of the finite values (histogram with `bin` width, 3-bin smoothing).
fn mode(values: &[f64], bin: f64) -> Option<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let n = (((hi - lo) / bin).ceil() as usize + 1).min(100_000);
    let mut hist = vec![0u32; n];
    for v in &finite {
        hist[(((v - lo) / bin) as usize).min(n - 1)] += 1;
    }
    let sm = |i: usize| hist[i] + if i > 0 { hist[i - 1] } else { 0 } + hist.get(i + 1).copied().unwrap_or(0);
    let best = (0..n).max_by_key(|&i| (sm(i), std::cmp::Reverse(i)))?;
    Some(lo + (best as f64 + 0.5) * bin)
}

/// Brightness of the visible bands (the first three) of a date.
pub fn visible_brightness(img: &Array3<f32>) -> Array2<f32> {
    brightness_of_first(img, 3)
}

/// Cloud mask of `this` date against `other` (same grid), over pixels `usable` on both.
pub fn cloud_mask(
    this: &Array3<f32>,
    other: &Array3<f32>,
    usable: &[bool],
    gsd_m: f64,
    p: &MaskParams,
) -> Vec<bool> {
    let (bt, bo) = (visible_brightness(this), visible_brightness(other));
    cloud_mask_with(this, bt.view(), bo.view(), usable, gsd_m, p)
}

/// [`cloud_mask`] given both dates' [`visible_brightness`] (computed once for both
/// dates' masks and the co-registration).
pub fn cloud_mask_with(
    this: &Array3<f32>,
    bt: ArrayView2<f32>,
    bo: ArrayView2<f32>,
    usable: &[bool],
    gsd_m: f64,
    p: &MaskParams,
) -> Vec<bool> {
    let (_, h, w) = this.dim();
    if !p.clouds {
        return vec![false; w * h];
    }
    let l = log_ratio(bt, bo, usable);
    let Some(m) = mode(&l, 0.01) else {
        return vec![false; w * h];
    };
    // Every candidate brightens by more than `min_brightening`, and only a region of at
    // least `min_px` candidates is kept: with fewer such pixels in the whole window there
    // is no cloud, whatever their colour and texture (most windows of a clear date), so
    // the texture, saturation and region passes of `cloud_regions` are skipped with the
    // same result (`the_early_exit_gives_what_the_full_test_gives`).
    let brightened = l
        .iter()
        .zip(usable)
        .filter(|&(&l, &u)| p.brightened(u, l, m))
        .count();
    if brightened < p.min_area_px(gsd_m).max(1) {
        return vec![false; w * h];
    }
    cloud_regions(this, bt, (&l, m), usable, gsd_m, p)
}

/// The cloud test of [`cloud_mask_with`] once the log-ratio `l` of the dates and its
/// mode `m` are known: candidates, regions of at least the minimum area, left ground
/// dropped, the rest grown by the buffer.
fn cloud_regions(
    this: &Array3<f32>,
    bt: ArrayView2<f32>,
    (l, m): (&[f64], f64),
    usable: &[bool],
    gsd_m: f64,
    p: &MaskParams,
) -> Vec<bool> {
    let (_, h, w) = this.dim();
    let min_px = p.min_area_px(gsd_m);
    let sat = saturation(this);
    let tex_r = ((2.0 / gsd_m).round() as usize).max(1);
    let tex = relative_texture(bt, tex_r);
    let cand: Vec<bool> = (l.iter().zip(usable))
        .zip(sat.iter().zip(tex.iter()))
        .map(|((&l, &u), (&sat, &tex))| {
            p.brightened(u, l, m) && sat < p.max_saturation && tex < p.max_texture
        })
        .collect();
    // Drop small regions, then grow the rest by the buffer.
    let (labels, n) = crate::blobs::label(&cand, w, h, crate::blobs::Connectivity::Eight);
    let mut area = vec![0usize; n as usize + 1];
    for &lb in &labels {
        area[lb as usize] += 1;
    }
    let big: Vec<bool> = labels
        .iter()
        .map(|&lb| lb != 0 && area[lb as usize] >= min_px)
        .collect();
    if !big.contains(&true) {
        return vec![false; w * h];
    }
    let r = (p.buffer_m / gsd_m).round() as usize;
    let zone = morph(&big, w, h, r.max(1), crate::blobs::Morph::Dilate);
    let (zl, zn) = crate::blobs::label(&zone, w, h, crate::blobs::Connectivity::Eight);
    let ground = left_ground(&zl, zn, &big, &cand, usable, (bt, l, m), p.min_brightening / 2.0);
    // The kept regions, grown by the buffer (the zone already is when r >= 1).
    let grown = if r >= 1 { zone } else { big };
    grown
        .iter()
        .zip(&zl)
        .map(|(&g, &z)| g && !ground[z as usize])
        .collect()
}

/// Which zones (labels of the candidate regions grown by the buffer, at least a pixel)
/// hold no cloud but ground that a parked object left: a row of dark vehicles that drove
/// off a bright pad leaves a bright, grey, smooth area as large as a small cloud. A cloud
/// is brighter than the clear ground around it on the same date, or its thin edge
/// brightens that ground too; the ground a vehicle left looks like the ground around it,
/// and that ground did not change. So a zone is left ground when the median brightness of
/// its regions on this date exceeds that of its ring (the zone's usable pixels that are
/// no candidate) by less than `half` in log units, and the ring's median log-ratio `l`
/// exceeds the dates' mode `m` by less than `half` too. A zone without a usable ring
/// stays a cloud.
fn left_ground(
    zl: &[u32],
    zn: u32,
    big: &[bool],
    cand: &[bool],
    usable: &[bool],
    (bt, l, m): (ArrayView2<f32>, &[f64], f64),
    half: f64,
) -> Vec<bool> {
    let n = zn as usize + 1;
    let (mut inner, mut ring, mut ring_l) = (vec![Vec::new(); n], vec![Vec::new(); n], vec![Vec::new(); n]);
    for (i, (&z, &b)) in zl.iter().zip(bt.iter()).enumerate() {
        if z == 0 || !b.is_finite() {
            continue;
        }
        if big[i] {
            inner[z as usize].push(b as f64);
        } else if usable[i] && !cand[i] && l[i].is_finite() {
            ring[z as usize].push(b as f64);
            ring_l[z as usize].push(l[i]);
        }
    }
    (0..n)
        .map(|z| {
            let median = |v: &[f64]| crate::stats::quantile_f64(v, 0.5);
            match (median(&inner[z]), median(&ring[z]), median(&ring_l[z])) {
                (Some(bi), Some(br), Some(lr)) if bi > 0.0 && br > 0.0 => {
                    (bi / br).ln() < half && lr - m < half
                }
                _ => false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_grey_bright_patch_is_cloud_a_small_one_is_not() {
        let (h, w) = (60, 60);
        let mut other = Array3::<f32>::zeros((3, h, w));
        for b in 0..3 {
            for r in 0..h {
                for c in 0..w {
                    other[[b, r, c]] = 60.0 + b as f32 * 10.0 + ((r * 7 + c * 13) % 5) as f32;
                }
            }
        }
        let mut this = other.mapv(|v| v * 1.1); // a global gain
        for b in 0..3 {
            for r in 5..35 {
                for c in 5..35 {
                    this[[b, r, c]] = 220.0; // 30x30 px = 225 m2 at 0.5 m: cloud
                }
            }
            for r in 45..49 {
                for c in 45..52 {
                    this[[b, r, c]] = 220.0; // vehicle-sized bright patch: not cloud
                }
            }
        }
        let p = MaskParams {
            min_area_m2: 100.0,
            buffer_m: 0.0,
            ..MaskParams::default()
        };
        let m = cloud_mask(&this, &other, &vec![true; h * w], 0.5, &p);
        assert!(m[20 * w + 20] && !m[47 * w + 48] && !m[55 * w + 5]);
    }

    /// The early exit of [`cloud_mask_with`] (fewer brightened pixels in the window than
    /// the minimum area) gives what the full test gives: bright, grey, smooth patches of
    /// 0 to 900 px around the 400 px minimum (100 m2 at 0.5 m), under a gain, with and
    /// without texture, a buffer or an unusable strip.
    #[test]
    fn the_early_exit_gives_what_the_full_test_gives() {
        let (h, w) = (48, 48);
        for (k, n_px) in [0, 1, 150, 399, 400, 401, 420, 640, 900].into_iter().enumerate() {
            let textured = k % 2 == 0;
            let other = Array3::<f32>::from_shape_fn((3, h, w), |(b, r, c)| {
                let t = if textured {
                    ((r * 7 + c * 13) % 5) as f32
                } else {
                    0.0
                };
                60.0 + b as f32 * 10.0 + t
            });
            let mut this = other.mapv(|v| v * 1.1);
            for i in 0..n_px {
                let (r, c) = (4 + i / 30, 4 + i % 30);
                for b in 0..3 {
                    this[[b, r, c]] = 220.0;
                }
            }
            let usable: Vec<bool> = (0..h * w).map(|i| k % 3 != 1 || i % w > 2).collect();
            for buffer_m in [0.0, 2.0] {
                let p = MaskParams {
                    min_area_m2: 100.0,
                    buffer_m,
                    ..MaskParams::default()
                };
                let (bt, bo) = (visible_brightness(&this), visible_brightness(&other));
                let fast = cloud_mask_with(&this, bt.view(), bo.view(), &usable, 0.5, &p);
                let l = log_ratio(bt.view(), bo.view(), &usable);
                let m = mode(&l, 0.01).expect("usable pixels");
                let full = cloud_regions(&this, bt.view(), (&l, m), &usable, 0.5, &p);
                assert_eq!(fast, full, "{n_px} px, buffer {buffer_m} m");
                // Both sides of the exit are exercised: the large patches are clouds.
                assert_eq!(full.contains(&true), n_px >= 900, "{n_px} px");
            }
        }
    }

    /// Grass with a 40 x 200 px concrete pad at 0.5 m; on the pad (with `vehicles`) a
    /// packed row of 10 dark bodies of 14 x 14 px, 2 px apart with shadow in the gaps:
    /// 160 x 14 px, 560 m2, above the 400 m2 cloud minimum. Without, the bare pad.
    fn pad_scene(vehicles: bool) -> Array3<f32> {
        let (h, w) = (60, 220);
        Array3::from_shape_fn((3, h, w), |(b, r, c)| {
            let grain = ((r * 7 + c * 13) % 5) as f32;
            let on_pad = (10..50).contains(&r) && (10..210).contains(&c);
            let row = (20..34).contains(&r) && (20..180).contains(&c);
            if vehicles && row {
                // Bodies, and their shadows in the gaps.
                if (c - 20) % 16 < 14 {
                    40.0 + grain
                } else {
                    60.0 + grain
                }
            } else if on_pad {
                150.0 + b as f32 * 2.0 + grain
            } else {
                70.0 + b as f32 * 8.0 + grain
            }
        })
    }

    #[test]
    fn a_row_of_vehicles_leaving_a_pad_is_not_cloud_a_cloud_over_it_is() {
        let (h, w) = (60, 220);
        let (full, emptied) = (pad_scene(true), pad_scene(false));
        let p = MaskParams::default();
        let usable = vec![true; h * w];
        // Without the ring test the emptied row is one 560 m2 candidate region.
        let m = cloud_mask(&emptied, &full, &usable, 0.5, &p);
        assert!(
            m.iter().all(|&x| !x),
            "{} pixels",
            m.iter().filter(|&&x| x).count()
        );
        // A grey cloud over the pad and beyond it on the after date is still found.
        let mut clouded = emptied.clone();
        for b in 0..3 {
            for r in 0..h {
                for c in 60..200 {
                    clouded[[b, r, c]] = 235.0;
                }
            }
        }
        let m = cloud_mask(&clouded, &full, &usable, 0.5, &p);
        assert!(m[30 * w + 100] && m[5 * w + 100] && !m[30 * w + 20]);
    }

    #[test]
    fn saturation_marks_white_pixels() {
        let mut img = Array3::<f32>::zeros((2, 1, 3));
        img[[1, 0, 2]] = 255.0;
        assert_eq!(saturated(&img, 255.0), vec![false, false, true]);
    }

    #[test]
    fn mode_survives_a_large_outlier_population() {
        let mut v = vec![0.1; 600];
        v.extend((0..400).map(|i| 1.0 + i as f64 * 0.01));
        assert!((mode(&v, 0.01).unwrap() - 0.1).abs() < 0.02);
    }
}
