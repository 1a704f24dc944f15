//! Residual translation between two co-gridded dates by phase correlation, refined to
//! sub-pixel precision with the upsampled cross-power spectrum of Guizar-Sicairos,
//! Thurman & Fienup, "Efficient subpixel image registration algorithms", Opt. Lett. 33
//! (2008): the whole-pixel peak of the inverse FFT of the normalised cross-power spectrum
//! is refined by evaluating the inverse DFT on a grid `upsample` times finer within
//! 1.5 pixels of it (a matrix-product DFT, so no large upsampled FFT is needed).
//!
//! Inputs are high-passed (minus a box mean) so that illumination gradients do not
//! dominate, unobserved pixels are set to zero after the high-pass, and a Hann window
//! suppresses the wrap-around edges. The `peak_ratio` is the correlation peak over the
//! highest value found more than 2 pixels away from it: below `min_peak_ratio`, or with a
//! shift beyond `max_shift_px`, the estimate is flagged unreliable and not applied.
//!
//! Convention: `(dx_px, dy_px)` is how far the *moving* image's content is displaced
//! from the reference's (columns right, rows down): moving(c, r) ~ reference(c - dx, r - dy).

use ndarray::{Array2, ArrayView2};
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Tunables.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoregParams {
    pub upsample: usize,
    pub min_peak_ratio: f64,
    pub max_shift_px: f64,
    /// Radius of the box mean subtracted as a high-pass, pixels.
    pub highpass_radius_px: usize,
    /// How far beyond the site grid the surroundings used for alignment extend, metres.
    pub context_m: f64,
}

impl Default for CoregParams {
    fn default() -> Self {
        CoregParams {
            upsample: 100,
            min_peak_ratio: 1.5,
            max_shift_px: 10.0,
            highpass_radius_px: 4,
            context_m: 100.0,
        }
    }
}

/// The estimated shift.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    pub dx_px: f64,
    pub dy_px: f64,
    pub peak_ratio: f64,
    pub reliable: bool,
}

type C = Complex<f64>;

/// A row and a column plan of one 2-D transform.
type Plans = (
    std::sync::Arc<dyn rustfft::Fft<f64>>,
    std::sync::Arc<dyn rustfft::Fft<f64>>,
);

/// Plans of every (width, height, direction) seen, each made by a fresh planner, and so
/// reused across sites of the same grid size. Gotcha: a planner kept across calls is
/// *not* a substitute: rustfft builds a length's plan from the sub-plans it has cached,
/// so the plan, and the last bits of the result, would depend on which sizes came
/// before, and a sharded batch run would no longer match a single run byte for byte.
static PLANS: std::sync::LazyLock<std::sync::Mutex<PlanCache>> = std::sync::LazyLock::new(Default::default);

type PlanCache = std::collections::HashMap<(usize, usize, bool), Plans>;

/// In-place 2-D FFT of a row-major `h` x `w` array.
fn fft2(data: &mut [C], w: usize, h: usize, inverse: bool) {
    let (fr, fc) = {
        let mut plans = PLANS.lock().unwrap_or_else(|e| e.into_inner());
        // Sites of many sizes: keep memory bounded (plans are rebuilt as needed).
        if plans.len() >= 256 {
            plans.clear();
        }
        plans
            .entry((w, h, inverse))
            .or_insert_with(|| {
                let mut planner = FftPlanner::<f64>::new();
                if inverse {
                    (planner.plan_fft_inverse(w), planner.plan_fft_inverse(h))
                } else {
                    (planner.plan_fft_forward(w), planner.plan_fft_forward(h))
                }
            })
            .clone()
    };
    // One scratch buffer for every row and column (`process` would allocate one per
    // call); all rows in one call. Columns go through in blocks of COLS: gathered into
    // contiguous runs (COLS neighbouring values per row, so the reads stay in cache),
    // transformed in one call, scattered back. Each row and column gets the same plan and
    // arithmetic as one `process` call of its own, so the bits are unchanged.
    const COLS: usize = 16;
    let mut scratch = vec![C::new(0.0, 0.0); fr.get_inplace_scratch_len().max(fc.get_inplace_scratch_len())];
    fr.process_with_scratch(data, &mut scratch);
    let mut cols = vec![C::new(0.0, 0.0); COLS * h];
    for c0 in (0..w).step_by(COLS) {
        let nc = COLS.min(w - c0);
        for r in 0..h {
            for (j, v) in data[r * w + c0..][..nc].iter().enumerate() {
                cols[j * h + r] = *v;
            }
        }
        fc.process_with_scratch(&mut cols[..nc * h], &mut scratch);
        for r in 0..h {
            for (j, v) in data[r * w + c0..][..nc].iter_mut().enumerate() {
                *v = cols[j * h + r];
            }
        }
    }
}

/// Summed-area table of a `h` x `w` image (Crow 1984): box sums in O(1) per pixel.
struct SummedArea {
    w: usize,
    h: usize,
    /// `(h + 1) x (w + 1)`, a zero first row and column.
    sat: Vec<f64>,
}

impl SummedArea {
    /// The table of the values `value(i)`, `i` row-major.
    fn new(w: usize, h: usize, value: impl Fn(usize) -> f64) -> SummedArea {
        let mut sat = vec![0.0f64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0.0;
            for x in 0..w {
                row += value(y * w + x);
                sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
            }
        }
        SummedArea { w, h, sat }
    }

    /// Mean over the box of radius `r` around (x, y), clipped at the border.
    #[inline]
    fn mean(&self, x: usize, y: usize, r: usize) -> f64 {
        let (w, h, sat) = (self.w, self.h, &self.sat);
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
        let s =
            sat[y1 * (w + 1) + x1] - sat[y0 * (w + 1) + x1] - sat[y1 * (w + 1) + x0] + sat[y0 * (w + 1) + x0];
        s / ((y1 - y0) * (x1 - x0)) as f64
    }
}

/// Box mean of radius `r` over a `[row, col]` image (the box clipped at the border).
pub fn box_mean(v: ArrayView2<f64>, r: usize) -> Array2<f64> {
    let (h, w) = v.dim();
    let v = v.as_standard_layout();
    let v = v.as_slice().expect("standard layout");
    let table = SummedArea::new(w, h, |i| v[i]);
    let out = (0..w * h).map(|i| table.mean(i % w, i / w, r)).collect();
    Array2::from_shape_vec((h, w), out).expect("h x w values")
}

/// The FFT input of one date: valid pixels (gaps filled with the mean) minus their box
/// mean, under a Hann window; zero outside `valid` (row-major, the image's shape). The
/// filled image and its box mean are evaluated per pixel, never stored.
fn prepare(img: ArrayView2<f32>, valid: &[bool], r: usize) -> Vec<C> {
    let (h, w) = img.dim();
    let img = img.as_standard_layout();
    let img = img.as_slice().expect("standard layout");
    let n_valid = valid.iter().filter(|&&v| v).count().max(1);
    let mean = img
        .iter()
        .zip(valid)
        .filter(|(_, &v)| v)
        .map(|(&x, _)| x as f64)
        .sum::<f64>()
        / n_valid as f64;
    let filled = |i: usize| {
        let x = img[i];
        if valid[i] && x.is_finite() {
            x as f64
        } else {
            mean
        }
    };
    let low = SummedArea::new(w, h, filled);
    let hann = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
            .collect()
    };
    let (hx, hy) = (hann(w), hann(h));
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let v = if valid[i] {
                (filled(i) - low.mean(x, y, r)) * hx[x] * hy[y]
            } else {
                0.0
            };
            C::new(v, 0.0)
        })
        .collect()
}

/// Signed frequency index of bin `k` of an `n`-point DFT.
fn freq(k: usize, n: usize) -> f64 {
    if k < n.div_ceil(2) {
        k as f64
    } else {
        k as f64 - n as f64
    }
}

/// Output columns of [`dft_peak`]'s row products computed at once.
const LANES: usize = 8;

/// `t(k, j) = sum_l spectrum(k, l) e(l, j)` for every row `k` of the `w`-wide spectrum
/// and the `n` output columns (`e` stored by `l` then `j`, `np` columns, real and
/// imaginary parts apart). Built for AVX-512 or AVX2 when the CPU has them: wider vectors
/// of the same multiplies and adds in the same order (Rust never fuses a multiply and an
/// add), so the bits do not depend on the CPU.
fn row_products(spectrum: &[C], dims: (usize, usize, usize), e: (&[f64], &[f64]), t: &mut [C]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { row_products_avx512(spectrum, dims, e, t) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { row_products_avx2(spectrum, dims, e, t) };
        }
    }
    row_products_body(spectrum, dims, e, t)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_products_avx512(spectrum: &[C], dims: (usize, usize, usize), e: (&[f64], &[f64]), t: &mut [C]) {
    row_products_body(spectrum, dims, e, t)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_products_avx2(spectrum: &[C], dims: (usize, usize, usize), e: (&[f64], &[f64]), t: &mut [C]) {
    row_products_body(spectrum, dims, e, t)
}

#[inline(always)]
fn row_products_body(
    spectrum: &[C],
    (w, n, np): (usize, usize, usize),
    (er, ei): (&[f64], &[f64]),
    t: &mut [C],
) {
    for (k, row) in spectrum.chunks_exact(w).enumerate() {
        for j0 in (0..np).step_by(LANES) {
            let (mut sr, mut si) = ([0.0f64; LANES], [0.0f64; LANES]);
            for (l, a) in row.iter().enumerate() {
                let (rr, ii) = (&er[l * np + j0..][..LANES], &ei[l * np + j0..][..LANES]);
                for q in 0..LANES {
                    sr[q] += a.re * rr[q] - a.im * ii[q];
                    si[q] += a.re * ii[q] + a.im * rr[q];
                }
            }
            for q in 0..LANES.min(n.saturating_sub(j0)) {
                t[k * n + j0 + q] = C::new(sr[q], si[q]);
            }
        }
    }
}

/// The maximum of the inverse DFT of `spectrum` sampled on a grid of `step` pixels
/// within `half` pixels of `centre` (matrix-product DFT, Guizar-Sicairos et al. 2008).
fn dft_peak(spectrum: &[C], w: usize, h: usize, centre: (f64, f64), half: f64, step: f64) -> (f64, f64) {
    let n = (2.0 * half / step).round() as usize + 1;
    let xs: Vec<f64> = (0..n).map(|i| centre.0 - half + i as f64 * step).collect();
    let ys: Vec<f64> = (0..n).map(|i| centre.1 - half + i as f64 * step).collect();
    let two_pi = 2.0 * std::f64::consts::PI;
    // T(k, j) = sum_l R(k, l) exp(i 2 pi l xs_j / w), the kernel stored by l, then j
    // (real and imaginary parts apart, columns padded to a multiple of LANES), so the
    // inner loop runs over LANES output columns at once; each T(k, j) is still the same
    // products summed in the order of `l`, so the bits are those of one sum at a time.
    let np = n.div_ceil(LANES) * LANES;
    let (mut er, mut ei) = (vec![0.0f64; w * np], vec![0.0f64; w * np]);
    for (j, &x) in xs.iter().enumerate() {
        for l in 0..w {
            let e = C::from_polar(1.0, two_pi * freq(l, w) * x / w as f64);
            er[l * np + j] = e.re;
            ei[l * np + j] = e.im;
        }
    }
    let mut t = vec![C::new(0.0, 0.0); h * n];
    row_products(spectrum, (w, n, np), (&er, &ei), &mut t);
    let (mut best, mut at) = (f64::NEG_INFINITY, centre);
    for &y in &ys {
        let ey: Vec<C> = (0..h)
            .map(|k| C::from_polar(1.0, two_pi * freq(k, h) * y / h as f64))
            .collect();
        for (j, &x) in xs.iter().enumerate() {
            let v: f64 = (0..h).map(|k| (t[k * n + j] * ey[k]).re).sum();
            if v > best {
                best = v;
                at = (x, y);
            }
        }
    }
    at
}

/// Estimates the shift of `moving` relative to `reference` (`[row, col]` images of one
/// shape), using only pixels where `valid` (row-major, the same shape). `None` when
/// there is too little to correlate.
pub fn estimate_shift(
    reference: ArrayView2<f32>,
    moving: ArrayView2<f32>,
    valid: &[bool],
    p: &CoregParams,
) -> Option<Shift> {
    assert_eq!(reference.dim(), moving.dim(), "both dates on one grid");
    let (h, w) = reference.dim();
    if w < 16 || h < 16 || valid.iter().filter(|&&v| v).count() < 256 {
        return None;
    }
    let mut a = prepare(reference, valid, p.highpass_radius_px);
    let mut b = prepare(moving, valid, p.highpass_radius_px);
    fft2(&mut a, w, h, false);
    fft2(&mut b, w, h, false);
    // Cross-power spectrum of moving against reference: its inverse peaks at +shift.
    // Half-whitened cross-power (|X|^-1/2 weighting) for the sub-pixel refinement: the
    // plain cross-correlation Guizar-Sicairos et al. refine is biased by the scene's
    // dominant low frequencies, full phase normalisation by noisy high ones; on the real
    // Sentinel-2 pair the half-way weighting was the most stable across sub-windows.
    // Fully phase-normalised for the robust whole-pixel peak.
    // Both spectra are computed in place (`b` becomes the half-whitened spectrum, `a` the
    // phase-normalised one), so only two transform-sized buffers are ever alive.
    for (fa, fb) in a.iter_mut().zip(b.iter_mut()) {
        let x = *fb * fa.conj();
        let m = x.norm();
        *fb = if m > 1e-12 { x / m.sqrt() } else { C::new(0.0, 0.0) };
        let m = fb.norm();
        *fa = if m > 1e-12 { *fb / m } else { C::new(0.0, 0.0) };
    }
    let (mut r, spectrum) = (a, b);
    fft2(&mut r, w, h, true);
    // The correlation surface is the real part of `r`, read in place.
    let (mut best, mut bi) = (f64::NEG_INFINITY, 0);
    for (i, v) in r.iter().enumerate() {
        if v.re > best {
            best = v.re;
            bi = i;
        }
    }
    let (px, py) = (bi % w, bi / w);
    let (sx, sy) = (freq(px, w), freq(py, h));
    // Second peak: the highest value more than 2 px (circularly) from the main one.
    let far = |i: usize, at: usize, n: usize| freq((i + n - at) % n, n).abs() > 2.0;
    let far_x: Vec<bool> = (0..w).map(|x| far(x, px, w)).collect();
    let mut second = f64::NEG_INFINITY;
    for (y, row) in r.chunks(w).enumerate() {
        let far_y = far(y, py, h);
        for (v, &fx) in row.iter().zip(&far_x) {
            if (fx || far_y) && v.re > second {
                second = v.re;
            }
        }
    }
    drop(r);
    let peak_ratio = if second > 0.0 {
        best / second
    } else {
        f64::INFINITY
    };
    // Upsampled DFT around the whole-pixel peak, in two stages (1/10 px over +-0.75 px,
    // then the final step over +-1.5 coarse steps), which costs far less than one
    // fine stage over the whole +-0.75 px and gives the same peak for a smooth surface.
    let u = p.upsample.max(1) as f64;
    let mut centre = (sx, sy);
    let mut stages = vec![(0.75, 10.0_f64.min(u))];
    if u > 10.0 {
        stages.push((0.15, u));
    }
    for (half, step_inv) in stages {
        centre = dft_peak(&spectrum, w, h, centre, half, 1.0 / step_inv);
    }
    let (dx, dy) = centre;
    let reliable = peak_ratio >= p.min_peak_ratio && dx.hypot(dy) <= p.max_shift_px;
    Some(Shift {
        dx_px: dx,
        dy_px: dy,
        peak_ratio,
        reliable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Broadband, smooth texture (value noise with smoothstep interpolation, cells of 4
    /// and 11 px) sampled at (x - dx, y - dy): content displaced by (dx, dy). Sub-pixel
    /// estimation presumes nearly band-limited data, as real optics deliver.
    fn scene(w: usize, h: usize, dx: f64, dy: f64) -> Array2<f32> {
        let noise = |x: f64, y: f64, cell: f64| {
            let (gx, gy) = (x / cell, y / cell);
            let (x0, y0) = (gx.floor(), gy.floor());
            let sm = |t: f64| t * t * (3.0 - 2.0 * t);
            let (fx, fy) = (sm(gx - x0), sm(gy - y0));
            let v = |i: f64, j: f64| crate::synth::scene::hash01(i as i64, j as i64, cell as u64);
            let a = v(x0, y0) * (1.0 - fx) + v(x0 + 1.0, y0) * fx;
            let b = v(x0, y0 + 1.0) * (1.0 - fx) + v(x0 + 1.0, y0 + 1.0) * fx;
            a * (1.0 - fy) + b * fy
        };
        Array2::from_shape_fn((h, w), |(y, x)| {
            let (x, y) = (x as f64 - dx, y as f64 - dy);
            (100.0 * noise(x, y, 4.0) + 60.0 * noise(x, y, 11.0)) as f32
        })
    }

    #[test]
    fn recovers_integer_and_subpixel_shifts() {
        let (w, h) = (96, 80);
        let valid = vec![true; w * h];
        for (dx, dy) in [(3.0, -2.0), (1.25, 0.6), (-2.4, 1.8)] {
            let s = estimate_shift(
                scene(w, h, 0.0, 0.0).view(),
                scene(w, h, dx, dy).view(),
                &valid,
                &CoregParams::default(),
            )
            .unwrap();
            assert!(
                (s.dx_px - dx).abs() < 0.1 && (s.dy_px - dy).abs() < 0.1,
                "want {dx},{dy} got {s:?}"
            );
            assert!(s.reliable, "{s:?}");
        }
    }

    #[test]
    fn noise_is_unreliable() {
        let (w, h) = (64, 64);
        let a = Array2::from_shape_fn((h, w), |(y, x)| ((y * w + x) * 7919 % 101) as f32);
        let b = Array2::from_shape_fn((h, w), |(y, x)| ((y * w + x) * 104_729 % 97) as f32);
        let s = estimate_shift(a.view(), b.view(), &vec![true; w * h], &CoregParams::default()).unwrap();
        assert!(!s.reliable, "{s:?}");
    }

    /// The row products built for the CPU's widest vectors give the bits of the
    /// baseline build, on a spectrum and kernel of awkward values.
    #[test]
    fn row_products_equal_the_baseline_build_bit_for_bit() {
        let (w, h, n): (usize, usize, usize) = (37, 5, 13);
        let np = n.div_ceil(LANES) * LANES;
        let val = |i: usize| ((i * 2654435761) % 1000) as f64 / 7.0 - 71.3;
        let spectrum: Vec<C> = (0..w * h)
            .map(|i| C::new(val(i), val(i + 5000).abs().sqrt()))
            .collect();
        let er: Vec<f64> = (0..w * np).map(|i| (val(i) * 0.013).sin()).collect();
        let ei: Vec<f64> = (0..w * np).map(|i| (val(i + 99) * 0.017).cos()).collect();
        let (mut fast, mut base) = (vec![C::new(0.0, 0.0); h * n], vec![C::new(0.0, 0.0); h * n]);
        row_products(&spectrum, (w, n, np), (&er, &ei), &mut fast);
        row_products_body(&spectrum, (w, n, np), (&er, &ei), &mut base);
        let bits = |v: &[C]| {
            v.iter()
                .flat_map(|c| [c.re.to_bits(), c.im.to_bits()])
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&fast), bits(&base));
    }

    #[test]
    fn box_mean_on_literals() {
        let v = ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(box_mean(v.view(), 1), Array2::from_elem((2, 2), 2.5));
        let row = ndarray::arr2(&[[1.0, 2.0, 3.0, 4.0]]);
        assert_eq!(box_mean(row.view(), 0), row);
    }
}
