//! Relative radiometric normalisation of the after date onto the before date's
//! radiometry, band by band, by robust linear regression on pseudo-invariant pixels
//! (after Canty, Nielsen & Schmidt 2004, simplified): fit before = gain x after + offset
//! by least squares, drop pixels whose residual exceeds `k_sigma` robust sigmas (changed
//! pixels, vehicles that came or went), refit on the rest, and iterate. Only pixels
//! observed on both dates (no nodata, no cloud) take part.

use crate::stats::robust_sigma;

/// Tunables.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RadiometryParams {
    pub iterations: usize,
    pub k_sigma: f64,
}

impl Default for RadiometryParams {
    fn default() -> Self {
        RadiometryParams {
            iterations: 6,
            k_sigma: 2.5,
        }
    }
}

/// One band's fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BandFit {
    pub gain: f64,
    pub offset: f64,
    /// Share of the observed pixels kept as invariant in the last iteration.
    pub invariant_fraction: f64,
}

/// Least-squares line y = g x + o over the `keep` pixels; None when degenerate.
fn ols(x: &[f32], y: &[f32], keep: &[bool]) -> Option<(f64, f64)> {
    let (mut n, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..x.len() {
        if keep[i] {
            n += 1.0;
            sx += x[i] as f64;
            sy += y[i] as f64;
        }
    }
    if n < 10.0 {
        return None;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..x.len() {
        if keep[i] {
            let dx = x[i] as f64 - mx;
            sxx += dx * dx;
            sxy += dx * (y[i] as f64 - my);
        }
    }
    if sxx <= 0.0 {
        return None;
    }
    let g = sxy / sxx;
    Some((g, my - g * mx))
}

/// Fits before = gain x after + offset for one band over `valid` pixels.
pub fn fit_band(before: &[f32], after: &[f32], valid: &[bool], p: &RadiometryParams) -> Option<BandFit> {
    let mut keep: Vec<bool> = (0..before.len())
        .map(|i| valid[i] && before[i].is_finite() && after[i].is_finite())
        .collect();
    let n_valid = keep.iter().filter(|&&k| k).count();
    let (mut g, mut o) = ols(after, before, &keep)?;
    for _ in 0..p.iterations {
        let res: Vec<f32> = (0..before.len())
            .map(|i| {
                if valid[i] && before[i].is_finite() && after[i].is_finite() {
                    (before[i] as f64 - g * after[i] as f64 - o) as f32
                } else {
                    f32::NAN
                }
            })
            .collect();
        let (m, s) = robust_sigma(&res)?;
        let lim = (p.k_sigma * s as f64).max(1e-9);
        for i in 0..keep.len() {
            keep[i] = res[i].is_finite() && ((res[i] - m) as f64).abs() <= lim;
        }
        match ols(after, before, &keep) {
            Some((g2, o2)) => (g, o) = (g2, o2),
            None => break,
        }
    }
    let kept = keep.iter().filter(|&&k| k).count();
    Some(BandFit {
        gain: g,
        offset: o,
        invariant_fraction: kept as f64 / n_valid.max(1) as f64,
    })
}

/// Applies a fit in place.
pub fn apply(after: &mut [f32], fit: &BandFit) {
    for v in after.iter_mut() {
        *v = (fit.gain * *v as f64 + fit.offset) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_gain_and_offset_despite_changed_pixels() {
        let n = 2000;
        let before: Vec<f32> = (0..n).map(|i| 50.0 + ((i * 37) % 150) as f32).collect();
        let mut after: Vec<f32> = before.iter().map(|b| (b - 10.0) / 1.2).collect();
        for v in after.iter_mut().take(300) {
            *v = 5.0; // 15 % of pixels changed (dark vehicles arrived)
        }
        let f = fit_band(&before, &after, &vec![true; n], &RadiometryParams::default()).unwrap();
        assert!(
            (f.gain - 1.2).abs() < 1e-3 && (f.offset - 10.0).abs() < 1e-2,
            "{f:?}"
        );
        assert!((f.invariant_fraction - 0.85).abs() < 0.02, "{f:?}");
    }
}
