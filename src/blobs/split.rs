//! Packed rows: a component too large for one vehicle but as wide as a vehicle is long
//! (side by side) or as wide as one is wide (nose to tail) is counted by its period.
//!
//! The brightness profile is sampled along the component's major axis over the middle
//! half of its width; its normalised autocorrelation peaks at the spacing of the
//! vehicles (bodies, shadows and the gaps between them repeat), and the row holds
//! round(length / period) vehicles, provided that agrees within 50 % with the area
//! divided by the class's nominal footprint. Without a clear, visible period only two
//! or three vehicles are inferred from the footprint, and only when each share is
//! vehicle-shaped: a long packed row whose gaps are fully closed is undercounted rather
//! than a road or a hedge being counted as vehicles.

use ndarray::ArrayView2;

use super::{Blob, ClassSpec, Moments, Polarity};

/// Autocorrelation a period must reach to be trusted.
pub const MIN_PERIODICITY: f64 = 0.2;
/// Standard deviation of the profile, as a share of the detection contrast, below which
/// the profile is flat (noise) and no period is looked for.
pub const MIN_SWING: f64 = 0.1;

/// Brightness profile along the major axis, one sample per pixel of length.
fn profile(img: ArrayView2<f32>, m: &Moments) -> Vec<f64> {
    let (h, w) = img.dim();
    let (c, s) = (m.angle.cos(), m.angle.sin());
    let half_len = m.len_px / 2.0;
    let half_wid = m.wid_px / 4.0;
    let n = m.len_px.floor() as usize;
    (0..n)
        .map(|i| {
            let t = -half_len + i as f64 + 0.5;
            let mut acc = (0.0, 0.0);
            let steps = (2.0 * half_wid).ceil().max(1.0) as usize;
            for j in 0..=steps {
                let v = -half_wid + 2.0 * half_wid * j as f64 / steps as f64;
                let x = m.cx + t * c - v * s;
                let y = m.cy + t * s + v * c;
                if x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h {
                    acc.0 += img[(y as usize, x as usize)] as f64;
                    acc.1 += 1.0;
                }
            }
            if acc.1 > 0.0 {
                acc.0 / acc.1
            } else {
                0.0
            }
        })
        .collect()
}

/// Dominant period (in samples) of `p` between `lo` and `hi` samples, with its
/// normalised autocorrelation; parabolic refinement around the best lag.
pub fn period(p: &[f64], lo: usize, hi: usize) -> Option<(f64, f64)> {
    let n = p.len();
    if n < 4 || lo < 1 {
        return None;
    }
    let mean = p.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = p.iter().map(|v| v - mean).collect();
    let e: f64 = d.iter().map(|v| v * v).sum();
    if e <= 0.0 {
        return None;
    }
    let r = |k: usize| -> f64 {
        if k >= n {
            return f64::NEG_INFINITY;
        }
        // Unbiased: scale by n / (n - k) so longer lags are not penalised.
        d[..n - k].iter().zip(&d[k..]).map(|(a, b)| a * b).sum::<f64>() / e * n as f64 / (n - k) as f64
    };
    let hi = hi.min(n / 2);
    let mut best: Option<(usize, f64)> = None;
    for k in lo..=hi {
        let v = r(k);
        // The first local maximum above the threshold wins (multiples come later).
        if v >= MIN_PERIODICITY && v >= r(k - 1) && v >= r(k + 1) {
            best = Some((k, v));
            break;
        }
    }
    let (k, v) = best?;
    let (a, b, c) = (r(k - 1), v, r(k + 1));
    let denom = a - 2.0 * b + c;
    let off = if denom.abs() > 1e-12 && a.is_finite() && c.is_finite() {
        0.5 * (a - c) / denom
    } else {
        0.0
    };
    Some((k as f64 + off.clamp(-0.5, 0.5), v))
}

/// True when each of `n` equal shares of `m` along its axis has a vehicle's shape.
fn part_fits(m: &Moments, n: usize, gsd_m: f64, spec: &ClassSpec) -> bool {
    let (a, b) = (m.len_px * gsd_m / n as f64, m.wid_px * gsd_m);
    let (len, wid) = (a.max(b), a.min(b));
    spec.fits(m.area_px as f64 * gsd_m * gsd_m / n as f64, len, wid)
}

/// How many vehicles a packed-row component holds along the axis of `m`, 0 when it
/// is no row of vehicles along that axis.
fn count_along(img: ArrayView2<f32>, m: &Moments, gsd_m: f64, spec: &ClassSpec, min_contrast: f32) -> usize {
    let area_m2 = m.area_px as f64 * gsd_m * gsd_m;
    let length_m = m.len_px * gsd_m;
    let lo = (spec.min_width_m / gsd_m).floor().max(2.0) as usize;
    let hi = (spec.max_length_m / gsd_m).ceil() as usize;
    let by_area = area_m2 / ((spec.min_area_m2 + spec.max_area_m2) / 2.0);
    let pr = profile(img, m);
    // The repetition must be visible, not noise: the profile has to swing by a good
    // part of the detection contrast.
    let mean = pr.iter().sum::<f64>() / pr.len().max(1) as f64;
    let sd = (pr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / pr.len().max(1) as f64).sqrt();
    let found = if sd >= MIN_SWING * min_contrast as f64 {
        period(&pr, lo, hi)
    } else {
        None
    };
    let Some((p, _)) = found else {
        // No visible period: two or three vehicles whose gaps shadows have closed are
        // still counted when each share of the component is itself vehicle-shaped.
        let n = by_area.round() as usize;
        return if (2..=3).contains(&n) && part_fits(m, n, gsd_m, spec) {
            n
        } else {
            0
        };
    };
    // The period and the footprint must roughly agree, or this is no row of vehicles
    // (a road, a hedge, a building's shadow).
    let by_period = length_m / (p * gsd_m);
    if (by_period - by_area).abs() > 0.5 * by_period.max(by_area) {
        return 0;
    }
    let n = by_period.round() as usize;
    let per = area_m2 / n.max(1) as f64;
    if n < 2 || per < spec.min_area_m2 || per > spec.max_area_m2 {
        return 0;
    }
    n
}

/// How many vehicles a packed-row component holds, and the axis they line up along
/// (0 when it is no row of vehicles). The major axis is tried first; for a short row
/// (two or three vehicles side by side) the component can be nearly square and its
/// major axis arbitrary, so the minor axis is tried too.
pub fn count_in_row(
    img: ArrayView2<f32>,
    m: &Moments,
    gsd_m: f64,
    spec: &ClassSpec,
    min_contrast: f32,
) -> (usize, Moments) {
    let n = count_along(img, m, gsd_m, spec, min_contrast);
    if n > 0 {
        return (n, *m);
    }
    let across = Moments {
        len_px: m.wid_px,
        wid_px: m.len_px,
        angle: m.angle + std::f64::consts::FRAC_PI_2,
        ..*m
    };
    (count_along(img, &across, gsd_m, spec, min_contrast), across)
}

/// `n` vehicles evenly spaced along the major axis of `m`.
pub fn split_row(m: &Moments, n: usize, gsd_m: f64, polarity: Polarity) -> Vec<Blob> {
    let (c, s) = (m.angle.cos(), m.angle.sin());
    let step = m.len_px / n as f64;
    let (a, b) = (step * gsd_m, m.wid_px * gsd_m);
    (0..n)
        .map(|k| {
            let t = (k as f64 - (n as f64 - 1.0) / 2.0) * step;
            Blob {
                col: m.cx + t * c,
                row: m.cy + t * s,
                area_px: m.area_px / n,
                area_m2: m.area_px as f64 * gsd_m * gsd_m / n as f64,
                length_m: a.max(b),
                width_m: a.min(b),
                polarity,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_of_a_square_wave() {
        let p: Vec<f64> = (0..64).map(|i| if i % 8 < 5 { 30.0 } else { 150.0 }).collect();
        let (k, r) = period(&p, 3, 30).unwrap();
        assert!((k - 8.0).abs() < 0.3 && r > 0.5, "{k} {r}");
        assert!(period(&vec![1.0; 40], 3, 20).is_none());
    }

    #[test]
    fn a_packed_row_of_five_is_five() {
        // Five 3.3 m x 7 m dark vehicles side by side with 0.5 m gaps, 0.5 m pixels.
        let (w, h) = (60, 30);
        let mut img = vec![200.0f32; w * h];
        let mut mask = vec![false; w * h];
        for v in 0..5 {
            let x0 = 5 + v * 8; // 4 m pitch
            for y in 8..22 {
                for x in x0..x0 + 7 {
                    img[y * w + x] = 40.0;
                }
                for x in x0..x0 + 8 {
                    mask[y * w + x] = x < 5 + 5 * 8 - 1; // merged by blur into one blob
                }
            }
        }
        let (l, n) = crate::blobs::label(&mask, w, h, crate::blobs::Connectivity::Eight);
        let m = crate::blobs::measure(&l, n, w)[0];
        let spec = crate::blobs::VehicleClass::Military.spec();
        let img = ndarray::Array2::from_shape_vec((h, w), img).unwrap();
        assert_eq!(count_in_row(img.view(), &m, 0.5, &spec, 10.0).0, 5);
        let parts = split_row(&m, 5, 0.5, Polarity::Dark);
        assert_eq!(parts.len(), 5);
        assert!((parts[1].col - parts[0].col - 8.0).abs() < 0.5);
    }
}
