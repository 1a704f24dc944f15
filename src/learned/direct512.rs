//! The interior blocks of [`super::direct`]'s forward convolution for 16 and 32 output
//! channels, written with AVX-512 intrinsics: the register tiling of Goto & van de Geijn
//! (*Anatomy of High-Performance Matrix Multiplication*, 2008) with the kernel row held
//! in registers. For every input channel the `NV` vectors of the kernel row are loaded
//! once, each of the `P` pixels' input value is broadcast once, and `P * NV` fused
//! multiply-adds update accumulators that stay in registers.
//!
//! Why not the generic block: compiled from `[f32; CO]` arrays, it re-read the kernel
//! row from memory inside every multiply-add (at 32 channels and 6 pixels, 18 loads for
//! 12 multiply-adds, so the loads and not the arithmetic bound it; `perf annotate`,
//! eleventh session). Here it is 8 loads for 12.
//!
//! Same bits as the generic block: every output is the bias plus the same products, in
//! the same order (kernel row, column, input channel), each added with one rounding.

use std::arch::x86_64::{
    _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::conv::tap;
use super::net::{LayerSpec, Tensor};

/// `P` output pixels from `ox0` of output row `oy`, `16 * NV` channels, into `out`
/// (`P` pixels of `16 * NV` values); every tap column of the block must lie inside the
/// input (the caller, `direct::row_with`, passes only such blocks; the slices are
/// checked here).
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn block<const NV: usize, const P: usize>(
    x: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    oy: usize,
    ox0: usize,
    out: &mut [f32],
) {
    let co = 16 * NV;
    let kk = l.k * l.k * l.cin;
    assert!(l.cout == co && x.c == l.cin && out.len() == P * co && w.len() >= (kk + 1) * co);
    let mut acc = [[_mm512_setzero_ps(); NV]; P];
    for a in acc.iter_mut() {
        for (j, v) in a.iter_mut().enumerate() {
            // SAFETY: the bias, `co` values from `kk * co`, is inside `w` (asserted).
            *v = unsafe { _mm512_loadu_ps(w.as_ptr().add(kk * co + 16 * j)) };
        }
    }
    let half = (l.k / 2) * l.dilation;
    for ky in 0..l.k {
        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
        for kx in 0..l.k {
            let ix0 = ox0 * l.stride + kx * l.dilation - half;
            let first = (iy * x.w + ix0) * x.c;
            assert!(first + ((P - 1) * l.stride + 1) * x.c <= x.data.len());
            let inp = &x.data[first..];
            let wk = &w[(ky * l.k + kx) * l.cin * co..][..l.cin * co];
            for ci in 0..l.cin {
                let mut wr = [_mm512_setzero_ps(); NV];
                for (j, v) in wr.iter_mut().enumerate() {
                    // SAFETY: `ci * co + 16 * j + 16 <= l.cin * co`, the length of `wk`.
                    *v = unsafe { _mm512_loadu_ps(wk.as_ptr().add(ci * co + 16 * j)) };
                }
                for (p, a) in acc.iter_mut().enumerate() {
                    // SAFETY: pixel `p`'s channel `ci` is before the asserted end.
                    let v = _mm512_set1_ps(unsafe { *inp.get_unchecked(p * l.stride * x.c + ci) });
                    for (a, wv) in a.iter_mut().zip(&wr) {
                        *a = _mm512_fmadd_ps(v, *wv, *a);
                    }
                }
            }
        }
    }
    for (p, a) in acc.iter().enumerate() {
        for (j, v) in a.iter().enumerate() {
            // SAFETY: `p * co + 16 * j + 16 <= P * co`, the length of `out` (asserted).
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(p * co + 16 * j), *v) };
        }
    }
    if l.relu {
        out.iter_mut().for_each(|a| *a = a.max(0.0));
    }
}
