//! Small robust statistics used across stages: median, median absolute deviation
//! (scaled by 1.4826 to estimate a Gaussian sigma, Rousseeuw & Croux 1993) and
//! quantiles. All take finite values only and are order-independent, so results do not
//! depend on thread count.

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

#[cfg(test)]
mod tests {
    use super::*;

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
