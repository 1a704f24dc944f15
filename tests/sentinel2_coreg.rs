//! Co-registration on the real Sentinel-2 pair (`../shared/data/sentinel2-pair/`): the
//! shift estimated on different sub-windows agrees within 0.2 px, and applying it lowers
//! the changed fraction.

mod common;

use ndarray::{s, Array2, ArrayView2, Axis};
use stagewatch::align::coreg::{estimate_shift, CoregParams};
use stagewatch::raster::resample::bilinear;
use stagewatch::raster::{geotiff::GeoTiff, read_all};
use stagewatch::stats::robust_sigma;

fn band(path: &std::path::Path) -> Array2<f32> {
    let g = GeoTiff::open(path).unwrap();
    read_all(&g).unwrap().data.index_axis_move(Axis(0), 0)
}

fn window(v: &Array2<f32>, x0: usize, y0: usize, n: usize) -> ArrayView2<'_, f32> {
    v.slice(s![y0..y0 + n, x0..x0 + n])
}

#[test]
fn shift_is_stable_across_subwindows_and_reduces_change() {
    let Some(dir) = common::shared_data("sentinel2-pair/derived_overlap_crop") else {
        return;
    };
    let r = band(&dir.join("ref_S2A_20160608T153121_T33UUU_sub_crop512.tif"));
    let t = band(&dir.join("tgt_S2A_20160529T153631_T33UUU_sub_crop512.tif"));
    assert_eq!(r.dim(), t.dim());
    let (h, w) = r.dim();
    let p = CoregParams::default();
    let n = 256;
    let mut shifts = Vec::new();
    for (x0, y0) in [(0, 0), (256, 0), (0, 256), (256, 256), (128, 128)] {
        let (a, b) = (window(&r, x0, y0, n), window(&t, x0, y0, n));
        let valid: Vec<bool> = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let s = estimate_shift(a, b, &valid, &p).expect("enough data");
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
    let s = estimate_shift(r.view(), t.view(), &valid, &p).unwrap();
    let shifted: Vec<f32> = (0..w * h)
        .map(|i| {
            bilinear(
                t.view(),
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
    let (rf, tf) = (r.as_slice().unwrap(), t.as_slice().unwrap());
    let diff = |v: &[f32]| -> Vec<f32> {
        (0..w * h)
            .map(|i| if interior[i] { v[i] - rf[i] } else { f32::NAN })
            .collect::<Vec<_>>()
    };
    let (m0, s0) = robust_sigma(&diff(tf)).unwrap();
    let frac = |d: Vec<f32>| {
        let (n, k) = d.iter().filter(|x| x.is_finite()).fold((0, 0), |(n, k), x| {
            (n + 1, k + ((x - m0).abs() > 3.0 * s0) as usize)
        });
        k as f64 / n as f64
    };
    let (before, after) = (frac(diff(tf)), frac(diff(&shifted)));
    eprintln!(
        "shift ({:.2}, {:.2}) px; changed fraction {before:.4} -> {after:.4}",
        s.dx_px, s.dy_px
    );
    assert!(
        after < before,
        "changed fraction did not drop: {before} -> {after}"
    );
}
