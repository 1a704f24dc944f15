//! Co-registration on the real Sentinel-2 pair (`../shared/data/sentinel2-pair/`): the
//! shift estimated on different sub-windows agrees within 0.2 px, and applying it lowers
//! the changed fraction.

mod common;

use stagewatch::align::coreg::{estimate_shift, CoregParams};
use stagewatch::raster::resample::bilinear;
use stagewatch::raster::{geotiff::GeoTiff, read_all};
use stagewatch::stats::robust_sigma;

fn band(path: &std::path::Path) -> (Vec<f32>, usize, usize) {
    let g = GeoTiff::open(path).unwrap();
    let b = read_all(&g).unwrap();
    let (_, h, w) = b.data.dim();
    (b.data.iter().copied().collect(), w, h)
}

fn window(v: &[f32], w: usize, x0: usize, y0: usize, n: usize) -> Vec<f32> {
    (0..n * n).map(|i| v[(y0 + i / n) * w + x0 + i % n]).collect()
}

#[test]
fn shift_is_stable_across_subwindows_and_reduces_change() {
    let Some(dir) = common::shared_data("sentinel2-pair/derived_overlap_crop") else {
        return;
    };
    let (r, w, h) = band(&dir.join("ref_S2A_20160608T153121_T33UUU_sub_crop512.tif"));
    let (t, w2, h2) = band(&dir.join("tgt_S2A_20160529T153631_T33UUU_sub_crop512.tif"));
    assert_eq!((w, h), (w2, h2));
    let p = CoregParams::default();
    let n = 256;
    let mut shifts = Vec::new();
    for (x0, y0) in [(0, 0), (256, 0), (0, 256), (256, 256), (128, 128)] {
        let (a, b) = (window(&r, w, x0, y0, n), window(&t, w, x0, y0, n));
        let valid: Vec<bool> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let s = estimate_shift(&a, &b, &valid, n, n, &p).expect("enough data");
        assert!(s.reliable, "window ({x0},{y0}): {s:?}");
        shifts.push(s);
    }
    let spread = |f: &dyn Fn(&stagewatch::align::coreg::Shift) -> f64| {
        let v: Vec<f64> = shifts.iter().map(f).collect();
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max) - v.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let (sx, sy) = (spread(&|s| s.dx_px), spread(&|s| s.dy_px));
    eprintln!(
        "sub-window shifts: {:?}",
        shifts
            .iter()
            .map(|s| (s.dx_px, s.dy_px, s.peak_ratio))
            .collect::<Vec<_>>()
    );
    assert!(sx <= 0.2 && sy <= 0.2, "spread {sx:.2} x {sy:.2} px");

    // Apply the whole-image shift to the target and compare changed fractions on the
    // interior (away from the border the shift exposes).
    let valid: Vec<bool> = r
        .iter()
        .zip(&t)
        .map(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let s = estimate_shift(&r, &t, &valid, w, h, &p).unwrap();
    let shifted: Vec<f32> = (0..w * h)
        .map(|i| {
            bilinear(
                &t,
                w,
                h,
                (i % w) as f64 + 0.5 + s.dx_px,
                (i / w) as f64 + 0.5 + s.dy_px,
            )
        })
        .collect();
    let margin = 8;
    let interior: Vec<bool> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            x >= margin && y >= margin && x < w - margin && y < h - margin
        })
        .collect();
    // The same yardstick for both: the robust spread of the unaligned difference.
    let diff = |v: &[f32]| -> Vec<f32> {
        (0..w * h)
            .map(|i| if interior[i] { v[i] - r[i] } else { f32::NAN })
            .collect::<Vec<_>>()
    };
    let (m0, s0) = robust_sigma(&diff(&t)).unwrap();
    let frac = |d: Vec<f32>| {
        let (n, k) = d.iter().filter(|x| x.is_finite()).fold((0, 0), |(n, k), x| {
            (n + 1, k + ((x - m0).abs() > 3.0 * s0) as usize)
        });
        k as f64 / n as f64
    };
    let (before, after) = (frac(diff(&t)), frac(diff(&shifted)));
    eprintln!(
        "shift ({:.2}, {:.2}) px; changed fraction {before:.4} -> {after:.4}",
        s.dx_px, s.dy_px
    );
    assert!(
        after < before,
        "changed fraction did not drop: {before} -> {after}"
    );
}
