//! Per-pixel change between two co-gridded dates.
//!
//! Method: the after date is expected on the before date's radiometry already
//! ([`crate::align::radiometry`]); every band of both dates is scaled to
//! (x - median) / IQR of the before date over the pixels observed on both dates, so
//! bands of different ranges weigh alike. For every
//! band b the difference d_b of the scaled bands is centred on its median and divided by
//! its robust spread (1.4826 x MAD); the change magnitude is the RMS of these z-scores
//! over bands, m = sqrt(mean_b z_b^2). A pixel changed when m exceeds `k_sigma` (default
//! 3: three robust standard deviations of the difference noise), and the mask is cleaned
//! by a morphological opening (3x3 square by default) to drop isolated noise pixels.
//! Pixels outside the site or unobserved on either date are excluded from everything.

use ndarray::Array3;
use rayon::prelude::*;

use crate::blobs::Morph;
use crate::stats::{quantile, robust_sigma};

/// Tunables of the change stage.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ChangeParams {
    /// Threshold on the RMS robust z-score.
    pub k_sigma: f32,
    /// Radius of the square structuring element of the opening (1 = 3x3, 0 = none).
    pub opening_radius_px: usize,
}

impl Default for ChangeParams {
    fn default() -> Self {
        ChangeParams {
            k_sigma: 3.0,
            opening_radius_px: 1,
        }
    }
}

/// Output of [`detect_change`].
#[derive(Debug, Clone)]
pub struct Change {
    /// Magnitude per pixel, NaN where not valid.
    pub magnitude: Vec<f32>,
    /// Changed pixels after the opening.
    pub mask: Vec<bool>,
    /// Changed pixels / valid pixels.
    pub changed_fraction: f64,
}

/// Per-band linear normalisation of one date: (x - median) / interquartile range.
#[derive(Debug, Clone, Copy)]
struct Normaliser {
    median: f32,
    iqr: f32,
}

impl Normaliser {
    fn fit(band: &[f32], valid: &[bool]) -> Option<Normaliser> {
        let v: Vec<f32> = band
            .iter()
            .zip(valid)
            .map(|(&x, &ok)| if ok { x } else { f32::NAN })
            .collect();
        let median = crate::stats::median(v.iter().copied())?;
        let iqr = quantile(&v, 0.75)? - quantile(&v, 0.25)?;
        Some(Normaliser {
            median,
            iqr: if iqr > 0.0 { iqr } else { 1.0 },
        })
    }

    fn apply(&self, x: f32) -> f32 {
        (x - self.median) / self.iqr
    }
}

/// Change magnitude (RMS robust z-score over bands) at `valid` pixels; NaN elsewhere.
/// `before` and `after` are `[band, row, col]` of the same shape.
pub fn change_magnitude(before: &Array3<f32>, after: &Array3<f32>, valid: &[bool]) -> Vec<f32> {
    let (bands, h, w) = before.dim();
    let n = h * w;
    let mut sum_sq = vec![0.0f32; n];
    for b in 0..bands {
        let bb = before.index_axis(ndarray::Axis(0), b);
        let aa = after.index_axis(ndarray::Axis(0), b);
        let bs = bb.as_slice().expect("standard layout");
        let as_ = aa.as_slice().expect("standard layout");
        let Some(nb) = Normaliser::fit(bs, valid) else {
            return vec![f32::NAN; n];
        };
        let na = nb;
        let diffs: Vec<f32> = (0..n)
            .map(|i| {
                if valid[i] {
                    na.apply(as_[i]) - nb.apply(bs[i])
                } else {
                    f32::NAN
                }
            })
            .collect();
        let Some((med, sigma)) = robust_sigma(&diffs) else {
            return vec![f32::NAN; n];
        };
        // Floor: 1% of the band's normalised 2-98% range, so identical images do not
        // divide by zero.
        let vals: Vec<f32> = (0..n)
            .map(|i| if valid[i] { nb.apply(bs[i]) } else { f32::NAN })
            .collect();
        let range = match (quantile(&vals, 0.02), quantile(&vals, 0.98)) {
            (Some(lo), Some(hi)) => hi - lo,
            _ => 0.0,
        };
        let sigma = sigma.max(0.01 * range).max(1e-6);
        sum_sq.par_iter_mut().zip(diffs.par_iter()).for_each(|(s, d)| {
            let z = (d - med) / sigma;
            *s += z * z;
        });
    }
    sum_sq
        .into_par_iter()
        .enumerate()
        .map(|(i, s)| {
            if valid[i] {
                (s / bands as f32).sqrt()
            } else {
                f32::NAN
            }
        })
        .collect()
}

/// Binary erosion or dilation with a (2r+1)^2 square; pixels outside the image count as
/// background for erosion and are ignored for dilation. Outside a site grid nothing was
/// observed, so a changed region cut by the grid's edge must not survive an opening on
/// the strength of pixels nobody saw. (The whole-scene [`crate::fast`] path counts
/// outside pixels as set instead, as OpenCV's `morphologyEx` does by default: a blob
/// cut by the scene's edge is kept there, and its counts match the OpenCV baseline.)
pub fn morph(mask: &[bool], w: usize, h: usize, r: usize, op: Morph) -> Vec<bool> {
    if r == 0 {
        return mask.to_vec();
    }
    // Separable, and O(1) per pixel whatever `r`: the set pixels of each window are
    // counted from running sums (rows, then columns).
    let full = 2 * r + 1;
    // The window [i - r, i + r] of a line of `len` pixels, clipped, and whether it was.
    let window = |i: usize, len: usize| {
        let (lo, hi) = (i.saturating_sub(r), (i + r + 1).min(len));
        (lo, hi, hi - lo == full)
    };
    let decide = |count: u32, whole: bool| match op {
        // Outside pixels are background: a clipped window never erodes to set.
        Morph::Erode => whole && count as usize == full,
        Morph::Dilate => count > 0,
    };
    let mut horizontal = vec![false; w * h];
    horizontal
        .par_chunks_mut(w.max(1))
        .zip(mask.par_chunks(w.max(1)))
        .for_each(|(out, row)| {
            let mut sum = vec![0u32; w + 1];
            for (x, &v) in row.iter().enumerate() {
                sum[x + 1] = sum[x] + v as u32;
            }
            for (x, o) in out.iter_mut().enumerate() {
                let (lo, hi, whole) = window(x, w);
                *o = decide(sum[hi] - sum[lo], whole);
            }
        });
    // Column running sums, row by row: sums[y * w + x] = set pixels of column x above y.
    let mut sums = vec![0u32; (h + 1) * w];
    for y in 0..h {
        for x in 0..w {
            sums[(y + 1) * w + x] = sums[y * w + x] + horizontal[y * w + x] as u32;
        }
    }
    let mut out = vec![false; w * h];
    out.par_chunks_mut(w.max(1)).enumerate().for_each(|(y, row)| {
        let (lo, hi, whole) = window(y, h);
        for (x, o) in row.iter_mut().enumerate() {
            *o = decide(sums[hi * w + x] - sums[lo * w + x], whole);
        }
    });
    out
}

/// Opening (erosion then dilation) with a (2r+1)^2 square.
pub fn opening(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let e = morph(mask, w, h, r, Morph::Erode);
    morph(&e, w, h, r, Morph::Dilate)
}

/// Full change stage on a site grid.
pub fn detect_change(before: &Array3<f32>, after: &Array3<f32>, valid: &[bool], p: &ChangeParams) -> Change {
    let (_, h, w) = before.dim();
    let magnitude = change_magnitude(before, after, valid);
    let raw: Vec<bool> = magnitude.iter().map(|&m| m > p.k_sigma).collect();
    let mask = opening(&raw, w, h, p.opening_radius_px);
    let n_valid = valid.iter().filter(|&&v| v).count();
    let n_changed = mask.iter().zip(valid).filter(|(&m, &v)| m && v).count();
    Change {
        magnitude,
        changed_fraction: if n_valid == 0 {
            0.0
        } else {
            n_changed as f64 / n_valid as f64
        },
        mask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(vals: &[f32], h: usize, w: usize) -> Array3<f32> {
        Array3::from_shape_vec((1, h, w), vals.to_vec()).unwrap()
    }

    #[test]
    fn opening_removes_specks_keeps_blocks() {
        #[rustfmt::skip]
        let m = [
            true,  false, false, false, false, false,
            false, false, true,  true,  true,  false,
            false, false, true,  true,  true,  false,
            false, false, true,  true,  true,  false,
        ];
        let o = opening(&m, 6, 4, 1);
        assert!(!o[0]);
        assert_eq!(o.iter().filter(|&&b| b).count(), 9);
    }

    #[test]
    fn a_changed_block_is_found_and_offset_ignored() {
        let (h, w) = (20, 20);
        let mut b = vec![0.0f32; h * w];
        for (i, v) in b.iter_mut().enumerate() {
            *v = 100.0 + ((i * 7919) % 13) as f32; // texture
        }
        let mut a: Vec<f32> = b
            .iter()
            .map(|v| v + 10.0 + ((*v as usize * 31) % 3) as f32)
            .collect();
        for r in 5..10 {
            for c in 5..10 {
                a[r * w + c] += 80.0;
            }
        }
        let valid = vec![true; h * w];
        let ch = detect_change(&img(&b, h, w), &img(&a, h, w), &valid, &ChangeParams::default());
        assert_eq!(ch.mask.iter().filter(|&&m| m).count(), 25);
        assert!((ch.changed_fraction - 25.0 / 400.0).abs() < 1e-12);
    }

    #[test]
    fn invalid_pixels_are_excluded() {
        let b = img(&[1.0, 2.0, 3.0, 4.0], 2, 2);
        let a = img(&[1.0, 2.0, 3.0, 90.0], 2, 2);
        let m = change_magnitude(&b, &a, &[true, true, true, false]);
        assert!(m[3].is_nan() && m[0].is_finite());
    }
}
