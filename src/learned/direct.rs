//! The forward convolution as direct loops with register blocking: each step computes
//! `P` neighbouring output pixels of one row at once, all `cout` channels held in
//! registers, so every kernel row loaded from cache feeds `P` pixels (the
//! register-tiling of Goto & van de Geijn, *Anatomy of High-Performance Matrix
//! Multiplication*, 2008, applied to the convolution without an im2col copy). On a CPU
//! with FMA the multiply-adds are fused; with AVX-512 the blocks are wider (twice the
//! registers), and the sums, hence the bits, are the same as with AVX2.
//!
//! Under AVX-512 the interior blocks of the 16- and 32-channel layers (all but the
//! head of the shipped network) run the explicit kernel of `learned::direct512`, which keeps
//! the kernel row in registers; the same bits again.
//!
//! Inference spends its time here; the training backward pass uses the GEMM form of
//! [`super::conv`]. Determinism: each output is the same fixed-order sum whether its
//! pixel is computed alone (at the borders) or in a block, and whatever the thread
//! count; a CPU without FMA rounds differently in the last bits (one machine never
//! varies).

use rayon::prelude::*;

use super::conv::tap;
use super::net::{LayerSpec, Pool, Tensor};

/// A multiply-add: fused where the CPU has it.
trait Madd {
    fn madd(a: f32, b: f32, c: f32) -> f32;
}

/// `a * b + c` with one rounding (compiles to one instruction under `fma`).
struct Fused;
impl Madd for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// `a * b + c` with two roundings (any CPU).
struct Plain;
impl Madd for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `P` output pixels from `ox0` whose every tap column lies inside the input.
#[inline(always)]
fn block<const CO: usize, const P: usize, M: Madd>(
    x: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    oy: usize,
    ox0: usize,
    out: &mut [f32],
) {
    let bias: &[f32; CO] = w[l.k * l.k * l.cin * CO..][..CO].try_into().expect("bias");
    let mut acc = [*bias; P];
    let half = (l.k / 2) * l.dilation;
    for ky in 0..l.k {
        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
        for kx in 0..l.k {
            let ix0 = ox0 * l.stride + kx * l.dilation - half;
            let wk = &w[(ky * l.k + kx) * l.cin * CO..][..l.cin * CO];
            let inp: [&[f32]; P] =
                std::array::from_fn(|p| &x.data[(iy * x.w + ix0 + p * l.stride) * x.c..][..l.cin]);
            for (ci, wr) in wk.chunks_exact(CO).enumerate() {
                let wr: &[f32; CO] = wr.try_into().expect("kernel row");
                for p in 0..P {
                    let v = inp[p][ci];
                    for co in 0..CO {
                        acc[p][co] = M::madd(v, wr[co], acc[p][co]);
                    }
                }
            }
        }
    }
    for (o, a) in out.chunks_exact_mut(CO).zip(acc) {
        for (o, a) in o.iter_mut().zip(a) {
            *o = if l.relu { a.max(0.0) } else { a };
        }
    }
}

/// One output pixel, any position, any channel count (taps in the padding skipped). The
/// channel count is `out.len()`: called with a `[f32; CO]` (as [`row_blocked`] does for
/// the border pixels), it is known at compile time and the channel loop is vector code;
/// the border pixels of a dilated layer are a few per cent of its pixels but, as scalar
/// code, had cost a third of its time.
#[inline(always)]
fn pixel<M: Madd>(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    let co_n = out.len();
    debug_assert_eq!(co_n, l.cout, "output channels");
    out.copy_from_slice(&w[l.k * l.k * l.cin * co_n..][..co_n]);
    for ky in 0..l.k {
        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
        for kx in 0..l.k {
            let Some(ix) = tap(ox, kx, l, x.w) else { continue };
            let inp = &x.data[(iy * x.w + ix) * x.c..][..x.c];
            let wk = &w[(ky * l.k + kx) * l.cin * co_n..][..l.cin * co_n];
            for (v, wr) in inp.iter().zip(wk.chunks_exact(co_n)) {
                for (a, ww) in out.iter_mut().zip(wr) {
                    *a = M::madd(*v, *ww, *a);
                }
            }
        }
    }
    if l.relu {
        out.iter_mut().for_each(|a| *a = a.max(0.0));
    }
}

/// How the interior blocks of a row are computed. A type rather than a closure: a
/// closure is compiled as a function of its own, without the target features of the
/// row function it sits in, and its fused multiply-adds then became calls of the
/// software `fmaf` (seen in `perf`, eleventh session); a trait method marked
/// `inline(always)` is compiled into the row function.
trait Interior {
    fn block(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, ox0: usize, out: &mut [f32]);
}

/// The generic blocks ([`block`]).
struct Generic<const CO: usize, const P: usize, M>(std::marker::PhantomData<M>);

impl<const CO: usize, const P: usize, M: Madd> Interior for Generic<CO, P, M> {
    #[inline(always)]
    fn block(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, ox0: usize, out: &mut [f32]) {
        block::<CO, P, M>(x, l, w, oy, ox0, out)
    }
}

/// The AVX-512 blocks of `16 * NV` channels (`direct512`).
#[cfg(target_arch = "x86_64")]
struct Wide<const NV: usize, const P: usize>;

#[cfg(target_arch = "x86_64")]
impl<const NV: usize, const P: usize> Interior for Wide<NV, P> {
    #[inline(always)]
    fn block(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, ox0: usize, out: &mut [f32]) {
        // SAFETY: only used by `row_wide`, which only `row_avx512` reaches, and that is
        // called once the CPU is known to have AVX-512F.
        unsafe { super::direct512::block::<NV, P>(x, l, w, oy, ox0, out) }
    }
}

/// One output row: blocks of `P` where every tap is inside, single pixels elsewhere.
#[inline(always)]
fn row_blocked<const CO: usize, const P: usize, M: Madd>(
    x: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    oy: usize,
    row: &mut [f32],
) {
    row_with::<CO, P, M, Generic<CO, P, M>>(x, l, w, oy, row)
}

/// [`row_blocked`] with the interior blocks computed by `B`.
#[inline(always)]
fn row_with<const CO: usize, const P: usize, M: Madd, B: Interior>(
    x: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    oy: usize,
    row: &mut [f32],
) {
    let ow = row.len() / CO;
    let half = (l.k / 2) * l.dilation;
    let reach = (l.k - 1) * l.dilation;
    // First output whose leftmost tap is inside; last+1 whose rightmost tap is inside.
    let lo = half.div_ceil(l.stride).min(ow);
    let hi = if x.w + half > reach {
        ((x.w + half - reach - 1) / l.stride + 1).min(ow)
    } else {
        0
    };
    let mut ox = 0;
    while ox < ow {
        if ox >= lo && ox + P <= hi {
            B::block(x, l, w, oy, ox, &mut row[ox * CO..(ox + P) * CO]);
            ox += P;
        } else {
            let mut px = [0.0f32; CO];
            pixel::<M>(x, l, w, oy, ox, &mut px);
            row[ox * CO..(ox + 1) * CO].copy_from_slice(&px);
            ox += 1;
        }
    }
}

/// Output pixels per block for `CO` channels: as many accumulators as the vector
/// registers hold beside a kernel row (16 registers of 8 lanes with AVX2, 32 of 16 with
/// AVX-512 when `WIDE`). With AVX-512 the shipped network's forward pass takes 40.8 ms
/// instead of 48.0 ms per 512x512 window at one thread (`scripts/bench-vs-onnxruntime`,
/// ninth session; 6 and 8 pixels per block for 32 and 16 channels were best of the
/// sizes tried: 8/12 and 12/16 were no faster).
#[inline(always)]
fn row_body<M: Madd, const WIDE: bool>(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    match (l.cout, WIDE) {
        (48, false) => row_blocked::<48, 2, M>(x, l, w, oy, row),
        (32, false) => row_blocked::<32, 2, M>(x, l, w, oy, row),
        (24, false) => row_blocked::<24, 4, M>(x, l, w, oy, row),
        (16, false) => row_blocked::<16, 4, M>(x, l, w, oy, row),
        (48, true) => row_blocked::<48, 4, M>(x, l, w, oy, row),
        (24, true) => row_blocked::<24, 8, M>(x, l, w, oy, row),
        (32, true) | (16, true) => row_wide::<M>(x, l, w, oy, row),
        (8, _) => row_blocked::<8, 6, M>(x, l, w, oy, row),
        (2, _) => row_blocked::<2, 8, M>(x, l, w, oy, row),
        _ => {
            for (ox, out) in row.chunks_exact_mut(l.cout).enumerate() {
                pixel::<M>(x, l, w, oy, ox, out);
            }
        }
    }
}

/// The AVX-512 rows of 16 and 32 output channels: interior blocks by
/// [`super::direct512`]'s explicit kernel; on other targets the generic blocks.
#[inline(always)]
fn row_wide<M: Madd>(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    match l.cout {
        32 => row_with::<32, 6, M, Wide<2, 6>>(x, l, w, oy, row),
        _ => row_with::<16, 8, M, Wide<1, 8>>(x, l, w, oy, row),
    }
    #[cfg(not(target_arch = "x86_64"))]
    match l.cout {
        32 => row_blocked::<32, 6, M>(x, l, w, oy, row),
        _ => row_blocked::<16, 8, M>(x, l, w, oy, row),
    }
}

/// [`row_body`] compiled for AVX2 with fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_fma(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    row_body::<Fused, false>(x, l, w, oy, row)
}

/// [`row_body`] compiled for AVX-512 (same fused multiply-adds, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn row_avx512(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    row_body::<Fused, true>(x, l, w, oy, row)
}

fn row(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU supports AVX-512F/VL and FMA (checked just above).
        return unsafe { row_avx512(x, l, w, oy, row) };
    }
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { row_fma(x, l, w, oy, row) };
    }
    row_body::<Plain, false>(x, l, w, oy, row)
}

/// Convolution + bias (+ ReLU) of `x` by layer `l` with weights `w`; rows in parallel
/// when `parallel` (identical results either way).
pub fn conv_forward(x: &Tensor, l: &LayerSpec, w: &[f32], parallel: bool) -> Tensor {
    conv_forward_in(x, l, w, parallel, &mut Pool::default())
}

/// [`conv_forward`] with the output's buffer taken from `pool` (every output value is
/// written, so the result does not depend on what the buffer held).
pub fn conv_forward_in(x: &Tensor, l: &LayerSpec, w: &[f32], parallel: bool, pool: &mut Pool) -> Tensor {
    assert_eq!(x.c, l.cin, "input channels");
    assert_eq!(w.len(), l.n_params(), "weight count");
    let (oh, ow) = l.out_dims(x.h, x.w);
    let mut out = pool.tensor(oh, ow, l.cout);
    let row_len = ow * l.cout;
    if row_len == 0 {
        return out;
    }
    if parallel {
        out.data
            .par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(oy, r)| row(x, l, w, oy, r));
    } else {
        for (oy, r) in out.data.chunks_mut(row_len).enumerate() {
            row(x, l, w, oy, r);
        }
    }
    out
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// The AVX-512 rows (explicit kernel for 16 and 32 channels, wider blocks) give the
    /// same bits as the AVX2 rows, for every kernel size, stride and dilation used.
    #[test]
    fn avx512_rows_equal_avx2_rows_bit_for_bit() {
        let wide = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("fma");
        if !wide {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        for (cin, cout, k, stride, dilation) in [
            (3, 16, 3, 2, 1),
            (16, 16, 3, 1, 1),
            (16, 32, 3, 2, 1),
            (32, 32, 3, 1, 2),
            (32, 32, 3, 1, 4),
            (48, 16, 3, 1, 1),
            (16, 2, 1, 1, 1),
        ] {
            let l = LayerSpec::conv(cin, cout, k, stride, dilation, true);
            let w: Vec<f32> = (0..l.n_params())
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 70.0)
                .collect();
            let (h, wd) = (21, 67);
            let x = Tensor {
                h,
                w: wd,
                c: cin,
                data: (0..h * wd * cin)
                    .map(|i| ((i * 13 % 29) as f32 - 14.0) / 29.0)
                    .collect(),
            };
            let (oh, ow) = l.out_dims(h, wd);
            let mut narrow = vec![0.0f32; oh * ow * cout];
            for (oy, r) in narrow.chunks_mut(ow * cout).enumerate() {
                // SAFETY: AVX-512F implies AVX2 and FMA was checked above.
                unsafe { row_fma(&x, &l, &w, oy, r) };
            }
            let got = conv_forward(&x, &l, &w, false);
            assert!(
                got.data
                    .iter()
                    .zip(&narrow)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{cin}->{cout} k{k} s{stride} d{dilation}"
            );
        }
    }
}
