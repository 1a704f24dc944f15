//! The training backward pass of a convolution as matrix products (im2col + GEMM,
//! Chellapilla et al., *High Performance Convolutional Neural Networks for Document
//! Processing*, 2006): the taps of a block of output pixels are gathered into a matrix
//! `A` (pixels x `k*k*cin`); with `G` the output gradient and `W` the kernel (`k*k*cin`
//! x `cout`, exactly the `[ky][kx][cin][cout]` layout of the weights), `dW += Aᵀ·G` and
//! `dA = G·Wᵀ` are `matrixmultiply`'s cache-blocked SGEMM, and `dA` is scattered back
//! into the input gradient (col2im). Measured on this project's machine, a training
//! step takes a quarter of the time of the direct loops. (The same im2col + GEMM
//! forward was slower than [`super::direct`]'s blocked loops for 16-32 output channels:
//! the packing costs as much as the product.)
//!
//! Determinism: the products run on one thread in a fixed block order; the SGEMM
//! kernel is chosen at run time by CPU features (FMA or not), so two CPU families may
//! differ in the last bits, one machine never does. [`reference`] holds the plain loops
//! the tests check the fast forward and backward against.

use super::net::{LayerSpec, Tensor};

/// Output pixels per GEMM block. Small enough that the im2col matrix and its gradient
/// (256 x 432 floats at most for the shipped model, 0.4 MB each) stay in the L2 cache;
/// a multiple of `matrixmultiply`'s depth block (`S_KC` = 256), so the weight gradient is
/// the same sum, bit for bit, as in one block: SGEMM sums each run of 256 pixels from
/// zero and adds it into `dW`, whether the runs come from one call or several
/// (`block_size_does_not_change_the_gradient` checks it). 4,096 pixels per block was 4 %
/// slower per training step.
const BLOCK_PX: usize = 256;

/// Input index along one axis of output `o` for tap `t` (None in the zero padding);
/// shared with [`super::direct`].
#[inline(always)]
pub(super) fn tap(o: usize, t: usize, l: &LayerSpec, n: usize) -> Option<usize> {
    let half = (l.k / 2) * l.dilation;
    let p = (o * l.stride + t * l.dilation) as isize - half as isize;
    (p >= 0 && (p as usize) < n).then_some(p as usize)
}

/// Gathers the taps of output pixels `p0..p0 + n` (row-major over the output) into
/// `a` (`n` rows of `k*k*cin`), zeros in the padding.
fn im2col(x: &Tensor, l: &LayerSpec, ow: usize, p0: usize, n: usize, a: &mut [f32]) {
    debug_assert_eq!(x.c, l.cin, "the layer input has the layer's channels");
    match l.cin {
        3 => im2col_c::<3>(x, l, ow, p0, n, a),
        16 => im2col_c::<16>(x, l, ow, p0, n, a),
        32 => im2col_c::<32>(x, l, ow, p0, n, a),
        48 => im2col_c::<48>(x, l, ow, p0, n, a),
        _ => im2col_c::<0>(x, l, ow, p0, n, a),
    }
}

/// [`im2col`] for `C` input channels (0: `l.cin`, read at run time). For the channel
/// counts of the shipped network (the image's 3 bands, 16, 32 and 48) a constant `C`
/// turns each tap's copy into a few vector moves instead of a `memcpy` call (a `memcpy`
/// per tap was a tenth of the backward pass). Output pixels whose taps all lie inside
/// the input skip the per-tap padding tests ([`tap_from`]); the copies are the same.
#[inline(always)]
fn im2col_c<const C: usize>(x: &Tensor, l: &LayerSpec, ow: usize, p0: usize, n: usize, a: &mut [f32]) {
    let cin = if C == 0 { l.cin } else { C };
    let kk = l.k * l.k * cin;
    for (i, row) in a[..n * kk].chunks_exact_mut(kk).enumerate() {
        let (oy, ox) = ((p0 + i) / ow, (p0 + i) % ow);
        let origin = interior_origin(oy, ox, l, x.h, x.w);
        for ky in 0..l.k {
            let iy = tap_from(origin.map(|o| o.0), oy, ky, l, x.h);
            for kx in 0..l.k {
                let dst = &mut row[(ky * l.k + kx) * cin..][..cin];
                match (iy, tap_from(origin.map(|o| o.1), ox, kx, l, x.w)) {
                    (Some(iy), Some(ix)) => copy_c::<C>(dst, &x.data[(iy * x.w + ix) * cin..][..cin]),
                    _ => dst.fill(0.0),
                }
            }
        }
    }
}

/// The input row and column of tap (0, 0) of output pixel (`oy`, `ox`) when every tap
/// of the pixel lies inside the `h` x `w` input (no padding), else None.
#[inline(always)]
fn interior_origin(oy: usize, ox: usize, l: &LayerSpec, h: usize, w: usize) -> Option<(usize, usize)> {
    let (half, span) = ((l.k / 2) * l.dilation, (l.k - 1) * l.dilation);
    let (y0, x0) = (
        (oy * l.stride).checked_sub(half)?,
        (ox * l.stride).checked_sub(half)?,
    );
    (y0 + span < h && x0 + span < w).then_some((y0, x0))
}

/// [`tap`] for a pixel whose interior origin along this axis ([`interior_origin`]) is
/// `origin`: the tap's index without the padding tests when there is one.
#[inline(always)]
fn tap_from(origin: Option<usize>, o: usize, t: usize, l: &LayerSpec, n: usize) -> Option<usize> {
    match origin {
        Some(o0) => Some(o0 + t * l.dilation),
        None => tap(o, t, l, n),
    }
}

/// `dst.copy_from_slice(src)` for `C` floats (0: any length) in runs of at most 16, so
/// that no length becomes a `memcpy` call (48 floats did).
#[inline(always)]
fn copy_c<const C: usize>(dst: &mut [f32], src: &[f32]) {
    if C <= 32 {
        dst.copy_from_slice(src);
        return;
    }
    for (d, s) in dst.chunks_exact_mut(16).zip(src.chunks_exact(16)) {
        let v: [f32; 16] = s.try_into().expect("16 floats");
        d.copy_from_slice(&v);
    }
    let r = C % 16;
    dst[C - r..].copy_from_slice(&src[C - r..]);
}

/// `c (m x n) = a (m x k, strides rsa, csa) · b (k x n, strides rsb, csb) + beta·c`,
/// `c` row-major.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(c.len() >= m * n);
    assert!(k == 0 || (a.len() > (m - 1) * rsa + (k - 1) * csa && b.len() > (k - 1) * rsb + (n - 1) * csb));
    // SAFETY: the asserts above keep every index of a, b and c in bounds.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Backward pass of one layer: given the layer input `x`, its output `y` (after ReLU)
/// and the loss gradient `dy` w.r.t. `y`, adds the weight gradient into `dw` and returns
/// the gradient w.r.t. `x`. Runs on one thread (training parallelises over patches).
pub fn conv_backward(
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    dw: &mut [f32],
) -> Tensor {
    SCRATCH
        .with(|s| {
            backward_with(
                (x, y, dy),
                l,
                w,
                dw,
                InputGradient::Wanted,
                &mut s.borrow_mut(),
                BLOCK_PX,
            )
        })
        .expect("the input gradient was asked for")
}

/// [`conv_backward`] without the gradient w.r.t. `x`, for the first layer, whose input
/// is the image: adds exactly the same weight gradient into `dw` and skips the `dA`
/// product and its scatter.
pub fn conv_weight_gradient(x: &Tensor, y: &Tensor, dy: &Tensor, l: &LayerSpec, w: &[f32], dw: &mut [f32]) {
    SCRATCH.with(|s| {
        backward_with(
            (x, y, dy),
            l,
            w,
            dw,
            InputGradient::Unused,
            &mut s.borrow_mut(),
            BLOCK_PX,
        )
    });
}

/// Whether a backward pass computes the gradient w.r.t. the layer input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputGradient {
    Wanted,
    Unused,
}

/// Per-thread buffers of [`conv_backward`], kept across calls: `im2col` writes every
/// element of `a`, and SGEMM with β = 0 never reads `da`, so nothing is zeroed per call
/// (zeroing them was an eighth of a training step).
#[derive(Default)]
struct Scratch {
    a: Vec<f32>,
    da: Vec<f32>,
    g: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Grows `v` to `n` elements (zeros only in the new part) and returns them.
fn at_least(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// [`conv_backward`] on the given buffers, `block_px` output pixels at a time (a multiple
/// of 256, see [`BLOCK_PX`]); `xy` is (input, output, output gradient).
fn backward_with(
    xy: (&Tensor, &Tensor, &Tensor),
    l: &LayerSpec,
    w: &[f32],
    dw: &mut [f32],
    want: InputGradient,
    s: &mut Scratch,
    block_px: usize,
) -> Option<Tensor> {
    let (x, y, dy) = xy;
    let Scratch { a, da, g } = s;
    let (co, kk) = (l.cout, l.k * l.k * l.cin);
    let mut dx = (want == InputGradient::Wanted).then(|| Tensor::zeros(x.h, x.w, x.c));
    let n_px = y.h * y.w;
    for p0 in (0..n_px).step_by(block_px) {
        let n = block_px.min(n_px - p0);
        let g = at_least(g, n * co);
        for ((gv, &yv), &dv) in g.iter_mut().zip(&y.data[p0 * co..]).zip(&dy.data[p0 * co..]) {
            *gv = if l.relu && yv <= 0.0 { 0.0 } else { dv };
        }
        for px in g.chunks_exact(co) {
            for (b, gv) in dw[kk * co..].iter_mut().zip(px) {
                *b += gv;
            }
        }
        let direct = l.k == 1 && l.stride == 1;
        let cols: &[f32] = if direct {
            &x.data[p0 * kk..(p0 + n) * kk]
        } else {
            let a = at_least(a, n * kk);
            im2col(x, l, y.w, p0, n, a);
            a
        };
        // dW (kk x co) += colsᵀ (kk x n) · G (n x co).
        sgemm(kk, n, co, cols, 1, kk, g, co, 1, 1.0, &mut dw[..kk * co]);
        let Some(dx) = dx.as_mut() else { continue };
        // dA (n x kk) = G (n x co) · Wᵀ (co x kk).
        let da = at_least(da, n * kk);
        sgemm(n, co, kk, g, co, 1, w, 1, co, 0.0, da);
        if direct {
            for (d, s) in dx.data[p0 * kk..(p0 + n) * kk].iter_mut().zip(&*da) {
                *d += s;
            }
        } else {
            col2im_add(da, l, y.w, p0, n, dx);
        }
    }
    dx
}

/// Scatter-adds the tap gradients `da` of output pixels `p0..p0 + n` into `dx`.
fn col2im_add(da: &[f32], l: &LayerSpec, ow: usize, p0: usize, n: usize, dx: &mut Tensor) {
    debug_assert_eq!(dx.c, l.cin, "the input gradient has the layer's channels");
    match l.cin {
        16 => col2im_add_c::<16>(da, l, ow, p0, n, dx),
        32 => col2im_add_c::<32>(da, l, ow, p0, n, dx),
        48 => col2im_add_c::<48>(da, l, ow, p0, n, dx),
        _ => col2im_add_c::<0>(da, l, ow, p0, n, dx),
    }
}

/// [`col2im_add`] for `C` input channels (0: `l.cin`, read at run time), as in
/// [`im2col_c`]. Each element gets the same additions in the same order whatever `C`.
#[inline(always)]
fn col2im_add_c<const C: usize>(da: &[f32], l: &LayerSpec, ow: usize, p0: usize, n: usize, dx: &mut Tensor) {
    let cin = if C == 0 { l.cin } else { C };
    let kk = l.k * l.k * cin;
    for (i, row) in da[..n * kk].chunks_exact(kk).enumerate() {
        let (oy, ox) = ((p0 + i) / ow, (p0 + i) % ow);
        let origin = interior_origin(oy, ox, l, dx.h, dx.w);
        for ky in 0..l.k {
            let Some(iy) = tap_from(origin.map(|o| o.0), oy, ky, l, dx.h) else {
                continue;
            };
            for kx in 0..l.k {
                let Some(ix) = tap_from(origin.map(|o| o.1), ox, kx, l, dx.w) else {
                    continue;
                };
                let src = &row[(ky * l.k + kx) * cin..][..cin];
                add_c::<C>(&mut dx.data[(iy * dx.w + ix) * cin..][..cin], src);
            }
        }
    }
}

/// `dst[i] += src[i]` for `C` floats (0: any length).
#[inline(always)]
fn add_c<const C: usize>(dst: &mut [f32], src: &[f32]) {
    if C == 0 {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
    } else {
        // A copy first: the compiler then knows the two do not overlap and adds whole
        // vectors (in place it added one float at a time).
        let s: [f32; C] = src.try_into().expect("C taps");
        dst.iter_mut().zip(s).for_each(|(d, s)| *d += s);
    }
}

/// The direct loops (one output pixel at a time, every tap, every channel): the
/// reference the GEMM versions are tested against.
#[cfg(test)]
pub mod reference {
    use super::*;

    pub fn conv_forward(x: &Tensor, l: &LayerSpec, w: &[f32]) -> Tensor {
        let (oh, ow) = l.out_dims(x.h, x.w);
        let mut out = Tensor::zeros(oh, ow, l.cout);
        let bias = l.k * l.k * l.cin * l.cout;
        for oy in 0..oh {
            for ox in 0..ow {
                for co in 0..l.cout {
                    let mut s = w[bias + co] as f64;
                    for ky in 0..l.k {
                        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
                        for kx in 0..l.k {
                            let Some(ix) = tap(ox, kx, l, x.w) else { continue };
                            for ci in 0..l.cin {
                                let wi = ((ky * l.k + kx) * l.cin + ci) * l.cout + co;
                                s += (x.data[(iy * x.w + ix) * x.c + ci] * w[wi]) as f64;
                            }
                        }
                    }
                    let v = s as f32;
                    out.data[(oy * ow + ox) * l.cout + co] = if l.relu { v.max(0.0) } else { v };
                }
            }
        }
        out
    }

    /// Returns (dx, dw) of one layer.
    pub fn conv_backward(
        x: &Tensor,
        y: &Tensor,
        dy: &Tensor,
        l: &LayerSpec,
        w: &[f32],
    ) -> (Tensor, Vec<f32>) {
        let mut dx = Tensor::zeros(x.h, x.w, x.c);
        let mut dw = vec![0.0f32; w.len()];
        let bias = l.k * l.k * l.cin * l.cout;
        for oy in 0..y.h {
            for ox in 0..y.w {
                for co in 0..l.cout {
                    let o = (oy * y.w + ox) * l.cout + co;
                    let g = if l.relu && y.data[o] <= 0.0 {
                        0.0
                    } else {
                        dy.data[o]
                    };
                    dw[bias + co] += g;
                    for ky in 0..l.k {
                        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
                        for kx in 0..l.k {
                            let Some(ix) = tap(ox, kx, l, x.w) else { continue };
                            for ci in 0..l.cin {
                                let wi = ((ky * l.k + kx) * l.cin + ci) * l.cout + co;
                                let xi = (iy * x.w + ix) * x.c + ci;
                                dw[wi] += x.data[xi] * g;
                                dx.data[xi] += w[wi] * g;
                            }
                        }
                    }
                }
            }
        }
        (dx, dw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weight and input gradients in blocks of [`BLOCK_PX`] are bit for bit those of one
    /// block over the whole output, for the layer shapes of the shipped network (stride 2,
    /// dilations, 1x1) on an output of 899 pixels (three full blocks and a partial one).
    #[test]
    fn block_size_does_not_change_the_gradient() {
        let mut rng = crate::learned::rng::SplitMix64::new(7);
        let shapes = [
            (3, 16, 3, 2, 1),
            (16, 32, 3, 1, 1),
            (32, 32, 3, 1, 4),
            (48, 16, 3, 1, 1),
            (16, 2, 1, 1, 1),
        ];
        for (cin, cout, k, stride, dilation) in shapes {
            let l = LayerSpec::conv(cin, cout, k, stride, dilation, true);
            let (h, w) = (31 * stride, 29 * stride);
            let mut t = |h: usize, w: usize, c: usize| Tensor {
                h,
                w,
                c,
                data: (0..h * w * c).map(|_| rng.range(-1.0, 1.0)).collect(),
            };
            let (x, y, dy) = (t(h, w, cin), t(31, 29, cout), t(31, 29, cout));
            let weights: Vec<f32> = (0..l.n_params()).map(|_| rng.range(-0.5, 0.5)).collect();
            let run = |block_px| {
                let mut dw = vec![0.25f32; weights.len()];
                let dx = backward_with(
                    (&x, &y, &dy),
                    &l,
                    &weights,
                    &mut dw,
                    InputGradient::Wanted,
                    &mut Scratch::default(),
                    block_px,
                )
                .expect("wanted");
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                (bits(&dw), bits(&dx.data))
            };
            assert_eq!(
                run(BLOCK_PX),
                run(4096),
                "layer {cin} -> {cout}, k {k}, stride {stride}"
            );
        }
    }
}
