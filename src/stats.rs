//! Small robust statistics used across stages: median, median absolute deviation
//! (scaled by 1.4826 to estimate a Gaussian sigma, Rousseeuw & Croux 1993),
//! quantiles, and the standard normal quantile (Acklam's rational approximation,
//! Acklam 2003). The sample statistics take finite values only and are
//! order-independent, so results do not depend on thread count.

/// Median of the finite values (None when there are none). Sorts a copy.
pub fn median(values: impl IntoIterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    let upper = *m;
    if v.len() % 2 == 1 {
        Some(upper)
    } else {
        let lower = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        Some((lower + upper) / 2.0)
    }
}

/// Robust sigma: 1.4826 x median absolute deviation from the median.
pub fn robust_sigma(values: &[f32]) -> Option<(f32, f32)> {
    let m = median(values.iter().copied())?;
    let mad = median(values.iter().map(|x| (x - m).abs()))?;
    Some((m, 1.4826 * mad))
}

/// The q-quantile (0..=1, nearest rank) of the finite values.
pub fn quantile(values: &[f32], q: f64) -> Option<f32> {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    nearest_rank(&mut v, q, f32::total_cmp)
}

/// [`quantile`] of f64 values.
pub fn quantile_f64(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    nearest_rank(&mut v, q, f64::total_cmp)
}

/// The element of rank round((n - 1) q) by selection (reorders `v`); None when empty.
fn nearest_rank<T: Copy>(v: &mut [T], q: f64, cmp: fn(&T, &T) -> std::cmp::Ordering) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    let k = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, x, _) = v.select_nth_unstable_by(k, cmp);
    Some(*x)
}

/// The standard normal quantile Φ⁻¹(p) for p in (0, 1): Acklam's rational
/// approximation (relative error below 1.2e-9). Infinite at 0 and 1, NaN outside.
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 || p == 1.0 {
        return if p == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_on_known_values() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.05, -1.6448536269514729),
            (0.001, -3.090232306167813),
            (0.9999, 3.719016485455709),
        ] {
            assert!(
                (normal_quantile(p) - z).abs() < 1e-6,
                "{p}: {} vs {z}",
                normal_quantile(p)
            );
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn median_and_sigma_on_literals() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([f32::NAN]), None);
        let (m, s) = robust_sigma(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!(m, 3.0);
        assert!((s - 1.4826).abs() < 1e-6);
        assert_eq!(quantile(&[5.0, 1.0, 3.0], 1.0), Some(5.0));
        // Nearest rank: the upper of the two middle values of an even count.
        assert_eq!(quantile_f64(&[4.0, 1.0, f64::NAN, 3.0, 2.0], 0.5), Some(3.0));
        assert_eq!(quantile_f64(&[f64::NAN], 0.5), None);
    }
}
