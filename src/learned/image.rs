//! Image preparation for the network: resizing to the working pixel size and the
//! robust per-band stretch, both pure functions on HWC `f32` buffers.
//!
//! Resizing is separable with precomputed weights: an exact box (area) average when
//! shrinking (each output pixel averages the source area it covers, partial pixels
//! weighted by overlap) and a triangle (bilinear) filter when enlarging; this is the
//! classic "resample with support" scheme (Wolberg, *Digital Image Warping*, 1990, §5).

use super::net::Tensor;
use crate::stats::quantile;

/// Source taps and weights of every output index along one axis.
fn axis_weights(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f32)>> {
    let f = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let mut taps = Vec::new();
            if f >= 1.0 {
                let (a, b) = (o as f64 * f, (o as f64 + 1.0) * f);
                let mut i = a.floor() as usize;
                while (i as f64) < b && i < n_in {
                    let ov = (b.min(i as f64 + 1.0) - a.max(i as f64)).max(0.0);
                    if ov > 0.0 {
                        taps.push((i, (ov / f) as f32));
                    }
                    i += 1;
                }
            } else {
                let x = ((o as f64 + 0.5) * f - 0.5).clamp(0.0, (n_in - 1) as f64);
                let i0 = x.floor() as usize;
                let t = x - i0 as f64;
                taps.push((i0, (1.0 - t) as f32));
                if i0 + 1 < n_in && t > 0.0 {
                    taps.push((i0 + 1, t as f32));
                }
            }
            taps
        })
        .collect()
}

/// Resizes `x` to `oh` x `ow` (area average when shrinking, bilinear when enlarging).
pub fn resize(x: &Tensor, oh: usize, ow: usize) -> Tensor {
    let c = x.c;
    let wx = axis_weights(x.w, ow);
    let wy = axis_weights(x.h, oh);
    // Horizontal pass: x.h rows of ow pixels.
    let mut tmp = vec![0.0f32; x.h * ow * c];
    for r in 0..x.h {
        let src = &x.data[r * x.w * c..][..x.w * c];
        let dst = &mut tmp[r * ow * c..][..ow * c];
        for (o, taps) in wx.iter().enumerate() {
            let d = &mut dst[o * c..][..c];
            for &(i, wgt) in taps {
                for (dv, sv) in d.iter_mut().zip(&src[i * c..][..c]) {
                    *dv += wgt * sv;
                }
            }
        }
    }
    let mut out = Tensor::zeros(oh, ow, c);
    for (o, taps) in wy.iter().enumerate() {
        let dst = &mut out.data[o * ow * c..][..ow * c];
        for &(i, wgt) in taps {
            for (dv, sv) in dst.iter_mut().zip(&tmp[i * ow * c..][..ow * c]) {
                *dv += wgt * sv;
            }
        }
    }
    out
}

/// Smallest stretch range as a share of the band's median level: a window of bland
/// ground (texture a few percent of its brightness) is not blown up to the contrast of a
/// scene with vehicles, which would make texture look like vehicles.
pub const MIN_RANGE_OF_MEDIAN: f32 = STRETCH_FLOOR;

const STRETCH_FLOOR: f32 = 1.0;

/// Per-band robust stretch in place: `(v - median) / max(p98 - p2, f x median)` over the
/// pixels where `valid` (`f` = [`MIN_RANGE_OF_MEDIAN`]); invalid pixels become 0 (the
/// median). Returns false when nothing is valid.
pub fn stretch(x: &mut Tensor, valid: &[bool]) -> bool {
    let n = x.h * x.w;
    if !valid.iter().any(|&v| v) {
        x.data.iter_mut().for_each(|v| *v = 0.0);
        return false;
    }
    // Subsample large windows for the quantiles (every k-th valid pixel).
    let n_valid = valid.iter().filter(|&&v| v).count();
    let step = (n_valid / 200_000).max(1);
    for b in 0..x.c {
        let vals: Vec<f32> = (0..n)
            .filter(|&i| valid[i])
            .step_by(step)
            .map(|i| x.data[i * x.c + b])
            .collect();
        let q = |p: f64| quantile(&vals, p).unwrap_or(0.0);
        let (lo, med, hi) = (q(0.02), q(0.5), q(0.98));
        let scale = 1.0 / (hi - lo).max(MIN_RANGE_OF_MEDIAN * med.abs()).max(1e-6);
        for (px, &ok) in x.data.chunks_exact_mut(x.c).zip(valid) {
            px[b] = if ok { (px[b] - med) * scale } else { 0.0 };
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_blocks() {
        let x = Tensor {
            h: 2,
            w: 4,
            c: 1,
            data: vec![1.0, 3.0, 5.0, 7.0, 1.0, 3.0, 5.0, 7.0],
        };
        let y = resize(&x, 1, 2);
        assert_eq!(y.data, vec![2.0, 6.0]);
    }

    #[test]
    fn non_integer_shrink_keeps_the_mean() {
        let x = Tensor {
            h: 1,
            w: 5,
            c: 1,
            data: vec![2.0; 5],
        };
        let y = resize(&x, 1, 2);
        for v in y.data {
            assert!((v - 2.0).abs() < 1e-6);
        }
    }

    #[test]
    fn enlarging_interpolates() {
        let x = Tensor {
            h: 1,
            w: 2,
            c: 1,
            data: vec![0.0, 4.0],
        };
        let y = resize(&x, 1, 4);
        assert_eq!(y.data, vec![0.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn stretch_centres_and_scales() {
        let mut x = Tensor {
            h: 1,
            w: 101,
            c: 1,
            data: (0..101).map(|i| i as f32).collect(),
        };
        let mut valid = vec![true; 101];
        valid[0] = false;
        assert!(stretch(&mut x, &valid));
        assert_eq!(x.data[0], 0.0);
        let mid = x.data[51];
        assert!(mid.abs() < 0.02, "{mid}");
    }
}
