//! Display stretch for quicklook chips: a block-average reduction to at most a given
//! size, then a per-band linear stretch between robust limits, the 2nd and 98th
//! percentiles of the clear pixels of *both* dates pooled (the "cumulative count cut
//! 2-98 %" of desktop GIS viewers), so that the same ground shows the same colour on
//! both dates once the after date is normalised onto the before date's radiometry.
//!
//! Pure: arrays in, arrays out. Percentiles by selection (`select_nth_unstable`), not
//! by sorting.

use ndarray::Array3;

/// Lower and upper display limit of one band (values at or below `low` are black).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandLimits {
    pub low: f32,
    pub high: f32,
}

/// Cut of the stretch: the share of pooled clear values clipped at each end.
pub const CLIP_FRACTION: f64 = 0.02;

/// Grid pixels per chip pixel so that neither side exceeds `max_px`.
pub fn reduction_factor(width: usize, height: usize, max_px: usize) -> usize {
    width.max(height).div_ceil(max_px.max(1)).max(1)
}

/// Block means of `k` x `k` pixels of every band over the pixels where `use_px` holds
/// and the value is finite; a block without such a pixel is NaN. The reduced clear
/// mask holds where any pixel of the block was used.
pub fn reduce(img: &Array3<f32>, use_px: &[bool], k: usize) -> (Array3<f32>, Vec<bool>) {
    let (bands, h, w) = img.dim();
    let (rh, rw) = (h.div_ceil(k), w.div_ceil(k));
    let mut out = Array3::from_elem((bands, rh, rw), f32::NAN);
    let mut any = vec![false; rh * rw];
    for b in 0..bands {
        let band = img.index_axis(ndarray::Axis(0), b);
        let mut sum = vec![0.0f64; rh * rw];
        let mut n = vec![0u32; rh * rw];
        for r in 0..h {
            let rr = r / k;
            for c in 0..w {
                let v = band[[r, c]];
                if use_px[r * w + c] && v.is_finite() {
                    let i = rr * rw + c / k;
                    sum[i] += v as f64;
                    n[i] += 1;
                }
            }
        }
        for (i, (s, n)) in sum.iter().zip(&n).enumerate() {
            if *n > 0 {
                out[[b, i / rw, i % rw]] = (*s / *n as f64) as f32;
                any[i] = true;
            }
        }
    }
    (out, any)
}

/// The `q`-quantile (0-1) of `v` by selection (nearest rank); None when empty.
pub fn quantile(v: &mut [f32], q: f64) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let k = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, x, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    Some(*x)
}

/// Per-band limits over the pixels of every `(image, clear)` pair pooled; a band
/// without a clear finite value gets `0..1`, a flat band a unit-wide window.
pub fn pooled_limits(dates: &[(&Array3<f32>, &[bool])], bands: usize) -> Vec<BandLimits> {
    (0..bands)
        .map(|b| {
            let mut v: Vec<f32> = Vec::new();
            for (img, clear) in dates {
                let band = img.index_axis(ndarray::Axis(0), b.min(img.dim().0 - 1));
                v.extend(
                    band.iter()
                        .zip(clear.iter())
                        .filter(|(x, c)| **c && x.is_finite())
                        .map(|(x, _)| *x),
                );
            }
            let low = quantile(&mut v, CLIP_FRACTION);
            let high = quantile(&mut v, 1.0 - CLIP_FRACTION);
            match (low, high) {
                (Some(l), Some(h)) if h > l => BandLimits { low: l, high: h },
                (Some(l), _) => BandLimits {
                    low: l - 0.5,
                    high: l + 0.5,
                },
                _ => BandLimits { low: 0.0, high: 1.0 },
            }
        })
        .collect()
}

/// One value through a band's limits to 0-255.
pub fn to_byte(v: f32, l: BandLimits) -> u8 {
    let t = ((v - l.low) / (l.high - l.low)).clamp(0.0, 1.0);
    (t * 255.0).round() as u8
}

/// Colour of a pixel with no data on its date (outside the image, nodata).
pub const NO_DATA_RGBA: [u8; 4] = [48, 48, 48, 255];

/// RGBA of a reduced image: bands 0, 1, 2 as red, green, blue (a single band as grey);
/// a pixel NaN in any shown band is [`NO_DATA_RGBA`]. Row-major, 4 bytes a pixel.
pub fn to_rgba(img: &Array3<f32>, limits: &[BandLimits]) -> Vec<u8> {
    let (bands, h, w) = img.dim();
    let mut out = Vec::with_capacity(h * w * 4);
    for r in 0..h {
        for c in 0..w {
            let px: [f32; 3] = std::array::from_fn(|i| img[[i.min(bands - 1), r, c]]);
            if px.iter().any(|v| !v.is_finite()) {
                out.extend_from_slice(&NO_DATA_RGBA);
            } else {
                for (i, v) in px.iter().enumerate() {
                    out.push(to_byte(*v, limits[i.min(limits.len() - 1)]));
                }
                out.push(255);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_keeps_chips_at_most_the_limit() {
        assert_eq!(reduction_factor(100, 80, 512), 1);
        assert_eq!(reduction_factor(513, 10, 512), 2);
        assert_eq!(reduction_factor(2048, 4000, 512), 8);
        assert!(4000usize.div_ceil(reduction_factor(2048, 4000, 512)) <= 512);
    }

    #[test]
    fn reduce_averages_only_used_finite_pixels() {
        let img = Array3::from_shape_vec((1, 2, 3), vec![1.0, 3.0, 10.0, 5.0, f32::NAN, 7.0]).unwrap();
        let use_px = [true, true, true, true, true, false];
        let (r, any) = reduce(&img, &use_px, 2);
        assert_eq!(r.dim(), (1, 1, 2));
        assert_eq!(r[[0, 0, 0]], 3.0); // (1 + 3 + 5) / 3: the NaN is skipped
        assert_eq!(r[[0, 0, 1]], 10.0); // 7 is not used
        assert_eq!(any, vec![true, true]);
        let (r, any) = reduce(&img, &[false; 6], 2);
        assert!(r[[0, 0, 0]].is_nan() && !any[0]);
    }

    #[test]
    fn limits_pool_both_dates_and_clip_two_percent() {
        // Before 0..99, after 100..199: pooled, the 2nd / 98th percentiles are 4 and 195.
        let b = Array3::from_shape_fn((1, 10, 10), |(_, r, c)| (r * 10 + c) as f32);
        let a = Array3::from_shape_fn((1, 10, 10), |(_, r, c)| (100 + r * 10 + c) as f32);
        let clear = vec![true; 100];
        let l = pooled_limits(&[(&b, &clear), (&a, &clear)], 1);
        assert_eq!(
            l[0],
            BandLimits {
                low: 4.0,
                high: 195.0
            }
        );
        // Unclear pixels (a bright cloud) do not stretch the limits.
        let mut cloudy = a.clone();
        cloudy[[0, 0, 0]] = 1e6;
        let mut clear_a = clear.clone();
        clear_a[0] = false;
        let l2 = pooled_limits(&[(&b, &clear), (&cloudy, &clear_a)], 1);
        assert!(l2[0].high < 200.0);
    }

    #[test]
    fn flat_and_empty_bands_get_usable_limits() {
        let flat = Array3::from_elem((1, 2, 2), 7.0f32);
        let l = pooled_limits(&[(&flat, &[true; 4])], 1);
        assert_eq!(l[0], BandLimits { low: 6.5, high: 7.5 });
        let l = pooled_limits(&[(&flat, &[false; 4])], 1);
        assert_eq!(l[0], BandLimits { low: 0.0, high: 1.0 });
    }

    #[test]
    fn bytes_clip_at_the_limits_and_nan_is_no_data() {
        let l = BandLimits {
            low: 10.0,
            high: 20.0,
        };
        assert_eq!(
            (to_byte(5.0, l), to_byte(15.0, l), to_byte(25.0, l)),
            (0, 128, 255)
        );
        let img = Array3::from_shape_vec((3, 1, 2), vec![10.0, f32::NAN, 15.0, 1.0, 20.0, 1.0]).unwrap();
        let rgba = to_rgba(&img, &[l; 3]);
        assert_eq!(rgba, vec![0, 128, 255, 255, 48, 48, 48, 255]);
        // A single band is grey.
        let g = Array3::from_elem((1, 1, 1), 15.0f32);
        assert_eq!(to_rgba(&g, &[l]), vec![128, 128, 128, 255]);
    }
}
