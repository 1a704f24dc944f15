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
//! `buffer_m` to cover thin cloud edges and haze.

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
    let l: Vec<f64> = bt
        .iter()
        .zip(bo.iter())
        .zip(usable)
        .map(|((&bt, &bo), &u)| {
            if u && bt > 0.0 && bo > 0.0 {
                (bt as f64 / bo as f64).ln()
            } else {
                f64::NAN
            }
        })
        .collect();
    let Some(m) = mode(&l, 0.01) else {
        return vec![false; w * h];
    };
    let sat = saturation(this);
    let tex_r = ((2.0 / gsd_m).round() as usize).max(1);
    let tex = relative_texture(bt, tex_r);
    let cand: Vec<bool> = (l.iter().zip(usable))
        .zip(sat.iter().zip(tex.iter()))
        .map(|((&l, &u), (&sat, &tex))| {
            u && l - m > p.min_brightening && sat < p.max_saturation && tex < p.max_texture
        })
        .collect();
    // Drop small regions, then grow the rest by the buffer.
    let (labels, n) = crate::blobs::label(&cand, w, h, crate::blobs::Connectivity::Eight);
    let mut area = vec![0usize; n as usize + 1];
    for &lb in &labels {
        area[lb as usize] += 1;
    }
    let min_px = (p.min_area_m2 / (gsd_m * gsd_m)).ceil() as usize;
    let big: Vec<bool> = labels
        .iter()
        .map(|&lb| lb != 0 && area[lb as usize] >= min_px)
        .collect();
    let r = (p.buffer_m / gsd_m).round() as usize;
    morph(&big, w, h, r, crate::blobs::Morph::Dilate)
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
