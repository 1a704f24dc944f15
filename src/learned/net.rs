//! The network: a stack of 3x3 (or 1x1) convolutions with ReLU, channel-last (HWC)
//! tensors, forward for inference and forward + backward for training.
//!
//! Layout gotcha: every tensor here is `[row][col][channel]` (HWC), and a kernel is
//! `[ky][kx][cin][cout]`, so the innermost loop of both passes runs over output
//! channels, contiguous in memory, which the compiler vectorises. Padding is zero
//! ("same" convolution); a stride-2 layer halves each side (rounding up).
//!
//! Determinism: every output value is a fixed-order sum, whatever the thread count
//! (rows are split across threads, never a reduction).

use rayon::prelude::*;

/// What a layer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Convolution + bias (+ ReLU) of the previous output.
    #[default]
    Conv,
    /// Nearest-neighbour upsampling of the previous output to the size of layer `from`.
    Up2,
    /// The previous output's channels followed by those of layer `from` (same size).
    Concat,
}

/// One layer's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerSpec {
    #[serde(default)]
    pub op: Op,
    /// Earlier layer used by `Up2` (its size) and `Concat` (its channels).
    #[serde(default)]
    pub from: usize,
    pub cin: usize,
    pub cout: usize,
    /// Kernel side: 1 or 3.
    pub k: usize,
    pub stride: usize,
    pub dilation: usize,
    pub relu: bool,
}

impl LayerSpec {
    /// A convolution layer.
    pub fn conv(cin: usize, cout: usize, k: usize, stride: usize, dilation: usize, relu: bool) -> LayerSpec {
        LayerSpec {
            op: Op::Conv,
            from: 0,
            cin,
            cout,
            k,
            stride,
            dilation,
            relu,
        }
    }

    /// Number of weights (kernel, then bias).
    pub fn n_params(&self) -> usize {
        match self.op {
            Op::Conv => self.k * self.k * self.cin * self.cout + self.cout,
            Op::Up2 | Op::Concat => 0,
        }
    }
    /// Output size for an input of `h` x `w`.
    pub fn out_dims(&self, h: usize, w: usize) -> (usize, usize) {
        (h.div_ceil(self.stride), w.div_ceil(self.stride))
    }
}

/// A tensor `[h][w][c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(h: usize, w: usize, c: usize) -> Tensor {
        Tensor {
            h,
            w,
            c,
            data: vec![0.0; h * w * c],
        }
    }
}

/// Input offsets of output pixel `o` for tap `t` (None when in the zero padding).
#[inline]
fn tap(o: usize, t: usize, l: &LayerSpec, n: usize) -> Option<usize> {
    let half = (l.k / 2) * l.dilation;
    let p = (o * l.stride + t * l.dilation) as isize - half as isize;
    (p >= 0 && (p as usize) < n).then_some(p as usize)
}

/// One output pixel, accumulators in registers for a known channel count.
#[inline(always)]
fn pixel_fixed<const CO: usize>(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    let mut acc = [0.0f32; CO];
    acc.copy_from_slice(&w[l.k * l.k * l.cin * CO..][..CO]);
    for ky in 0..l.k {
        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
        for kx in 0..l.k {
            let Some(ix) = tap(ox, kx, l, x.w) else { continue };
            let inp = &x.data[(iy * x.w + ix) * x.c..][..x.c];
            let wk = &w[(ky * l.k + kx) * l.cin * CO..][..l.cin * CO];
            for (v, wr) in inp.iter().zip(wk.chunks_exact(CO)) {
                for co in 0..CO {
                    acc[co] += v * wr[co];
                }
            }
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = if l.relu { a.max(0.0) } else { a };
    }
}

/// One output pixel, any channel count.
fn pixel_any(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    let co_n = l.cout;
    out.copy_from_slice(&w[l.k * l.k * l.cin * co_n..][..co_n]);
    for ky in 0..l.k {
        let Some(iy) = tap(oy, ky, l, x.h) else { continue };
        for kx in 0..l.k {
            let Some(ix) = tap(ox, kx, l, x.w) else { continue };
            let inp = &x.data[(iy * x.w + ix) * x.c..][..x.c];
            let wk = &w[(ky * l.k + kx) * l.cin * co_n..][..l.cin * co_n];
            for (v, wr) in inp.iter().zip(wk.chunks_exact(co_n)) {
                for (a, ww) in out.iter_mut().zip(wr) {
                    *a += v * ww;
                }
            }
        }
    }
    if l.relu {
        out.iter_mut().for_each(|a| *a = a.max(0.0));
    }
}

#[inline(always)]
fn row_forward_body(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    for (ox, out) in row.chunks_exact_mut(l.cout).enumerate() {
        match l.cout {
            32 => pixel_fixed::<32>(x, l, w, oy, ox, out),
            24 => pixel_fixed::<24>(x, l, w, oy, ox, out),
            16 => pixel_fixed::<16>(x, l, w, oy, ox, out),
            12 => pixel_fixed::<12>(x, l, w, oy, ox, out),
            8 => pixel_fixed::<8>(x, l, w, oy, ox, out),
            2 => pixel_fixed::<2>(x, l, w, oy, ox, out),
            _ => pixel_any(x, l, w, oy, ox, out),
        }
    }
}

/// The same code compiled for AVX2: the per-channel loops are element-wise (no
/// reassociated sums, no fused multiply-add), so both versions give identical bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_forward_avx2(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    row_forward_body(x, l, w, oy, row)
}

fn row_forward(x: &Tensor, l: &LayerSpec, w: &[f32], oy: usize, row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { row_forward_avx2(x, l, w, oy, row) };
    }
    row_forward_body(x, l, w, oy, row)
}

/// Convolution + bias (+ ReLU) of `x` by layer `l` with weights `w`; rows in parallel
/// when `parallel`.
pub fn conv_forward(x: &Tensor, l: &LayerSpec, w: &[f32], parallel: bool) -> Tensor {
    assert_eq!(x.c, l.cin, "input channels");
    assert_eq!(w.len(), l.n_params(), "weight count");
    let (oh, ow) = l.out_dims(x.h, x.w);
    let mut out = Tensor::zeros(oh, ow, l.cout);
    let row_len = ow * l.cout;
    if row_len == 0 {
        return out;
    }
    if parallel {
        out.data
            .par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(oy, row)| row_forward(x, l, w, oy, row));
    } else {
        for (oy, row) in out.data.chunks_mut(row_len).enumerate() {
            row_forward(x, l, w, oy, row);
        }
    }
    out
}

/// Backward pass of one layer: given the layer input `x`, its output `y` (after ReLU)
/// and the loss gradient `dy` w.r.t. `y`, adds the weight gradient into `dw` and returns
/// the gradient w.r.t. `x`.
pub fn conv_backward(
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    dw: &mut [f32],
) -> Tensor {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { conv_backward_avx2(x, y, dy, l, w, dw) };
    }
    conv_backward_body(x, y, dy, l, w, dw)
}

/// [`conv_backward`] compiled for AVX2 (identical results, see [`row_forward_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn conv_backward_avx2(
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    dw: &mut [f32],
) -> Tensor {
    conv_backward_body(x, y, dy, l, w, dw)
}

#[inline(always)]
fn conv_backward_body(
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    l: &LayerSpec,
    w: &[f32],
    dw: &mut [f32],
) -> Tensor {
    let co_n = l.cout;
    let mut dx = Tensor::zeros(x.h, x.w, x.c);
    let (kw_len, bias_at) = (l.cin * co_n, l.k * l.k * l.cin * co_n);
    let mut g = vec![0.0f32; co_n];
    for oy in 0..y.h {
        for ox in 0..y.w {
            let o = (oy * y.w + ox) * co_n;
            let mut any = false;
            for (co, gc) in g.iter_mut().enumerate() {
                let gv = if l.relu && y.data[o + co] <= 0.0 {
                    0.0
                } else {
                    dy.data[o + co]
                };
                *gc = gv;
                any |= gv != 0.0;
            }
            if !any {
                continue;
            }
            for (b, gv) in dw[bias_at..].iter_mut().zip(&g) {
                *b += gv;
            }
            for ky in 0..l.k {
                let Some(iy) = tap(oy, ky, l, x.h) else { continue };
                for kx in 0..l.k {
                    let Some(ix) = tap(ox, kx, l, x.w) else { continue };
                    let base = (iy * x.w + ix) * x.c;
                    let woff = (ky * l.k + kx) * kw_len;
                    for ci in 0..l.cin {
                        let v = x.data[base + ci];
                        let wr = &w[woff + ci * co_n..][..co_n];
                        let dwr = &mut dw[woff + ci * co_n..][..co_n];
                        let mut s = 0.0f32;
                        for co in 0..co_n {
                            dwr[co] += v * g[co];
                            s += wr[co] * g[co];
                        }
                        dx.data[base + ci] += s;
                    }
                }
            }
        }
    }
    dx
}

/// Nearest-neighbour upsampling of `x` to `h` x `w` (source pixel `(r / 2, c / 2)`).
fn up2(x: &Tensor, h: usize, w: usize) -> Tensor {
    let mut out = Tensor::zeros(h, w, x.c);
    for r in 0..h {
        let sr = (r / 2).min(x.h - 1);
        for c in 0..w {
            let sc = (c / 2).min(x.w - 1);
            out.data[(r * w + c) * x.c..][..x.c].copy_from_slice(&x.data[(sr * x.w + sc) * x.c..][..x.c]);
        }
    }
    out
}

/// Channels of `a` then `b` (same size).
fn concat(a: &Tensor, b: &Tensor) -> Tensor {
    assert_eq!((a.h, a.w), (b.h, b.w), "concat sizes");
    let mut out = Tensor::zeros(a.h, a.w, a.c + b.c);
    for i in 0..a.h * a.w {
        out.data[i * out.c..][..a.c].copy_from_slice(&a.data[i * a.c..][..a.c]);
        out.data[i * out.c + a.c..][..b.c].copy_from_slice(&b.data[i * b.c..][..b.c]);
    }
    out
}

/// Offsets of each layer's weights.
fn offsets(layers: &[LayerSpec]) -> Vec<usize> {
    layers
        .iter()
        .scan(0, |o, l| {
            let s = *o;
            *o += l.n_params();
            Some(s)
        })
        .collect()
}

/// Output of layer `l` from its input and the earlier outputs.
fn apply(l: &LayerSpec, input: &Tensor, outs: &[Option<Tensor>], w: &[f32], parallel: bool) -> Tensor {
    match l.op {
        Op::Conv => conv_forward(input, l, w, parallel),
        Op::Up2 => {
            let t = outs[l.from].as_ref().expect("size source kept");
            up2(input, t.h, t.w)
        }
        Op::Concat => concat(input, outs[l.from].as_ref().expect("concat source kept")),
    }
}

/// Runs every layer; when `free`, drops each output once no later layer reads it
/// (inference), else keeps them all (training).
fn run_layers(
    x: &Tensor,
    layers: &[LayerSpec],
    weights: &[f32],
    parallel: bool,
    free: bool,
) -> Vec<Option<Tensor>> {
    let offs = offsets(layers);
    // Last layer that reads each output.
    let mut last_use: Vec<usize> = (0..layers.len()).map(|i| i + 1).collect();
    for (i, l) in layers.iter().enumerate() {
        if l.op != Op::Conv {
            last_use[l.from] = last_use[l.from].max(i);
        }
    }
    let mut outs: Vec<Option<Tensor>> = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let w = &weights[offs[i]..offs[i] + l.n_params()];
        let input = if i == 0 {
            x
        } else {
            outs[i - 1].as_ref().expect("kept")
        };
        let y = apply(l, input, &outs, w, parallel);
        outs.push(Some(y));
        if free {
            for (j, o) in outs.iter_mut().enumerate().take(i) {
                if last_use[j] <= i {
                    *o = None;
                }
            }
        }
    }
    outs
}

/// Forward through all layers; returns every layer's output (for backward).
pub fn forward_all(x: &Tensor, layers: &[LayerSpec], weights: &[f32], parallel: bool) -> Vec<Tensor> {
    run_layers(x, layers, weights, parallel, false)
        .into_iter()
        .map(|o| o.expect("kept"))
        .collect()
}

/// Forward keeping only what later layers need (inference); returns the last output.
pub fn forward(x: &Tensor, layers: &[LayerSpec], weights: &[f32], parallel: bool) -> Tensor {
    run_layers(x, layers, weights, parallel, true)
        .pop()
        .flatten()
        .unwrap_or_else(|| x.clone())
}

fn add_into(acc: &mut Option<Tensor>, g: Tensor) {
    match acc {
        Some(a) => a.data.iter_mut().zip(&g.data).for_each(|(x, y)| *x += y),
        None => *acc = Some(g),
    }
}

/// Backward through all layers given the outputs of [`forward_all`] and the gradient
/// w.r.t. the last output; returns the gradient of every weight (same order).
pub fn backward_all(
    x: &Tensor,
    outs: &[Tensor],
    dlast: Tensor,
    layers: &[LayerSpec],
    weights: &[f32],
) -> Vec<f32> {
    let mut grads = vec![0.0f32; weights.len()];
    let offs = offsets(layers);
    let n = layers.len();
    let mut d: Vec<Option<Tensor>> = vec![None; n];
    d[n - 1] = Some(dlast);
    for i in (0..n).rev() {
        let Some(dy) = d[i].take() else { continue };
        let l = &layers[i];
        let input = if i == 0 { x } else { &outs[i - 1] };
        let dx = match l.op {
            Op::Conv => {
                let (a, b) = (offs[i], offs[i] + l.n_params());
                conv_backward(input, &outs[i], &dy, l, &weights[a..b], &mut grads[a..b])
            }
            Op::Up2 => {
                let mut dx = Tensor::zeros(input.h, input.w, input.c);
                for r in 0..dy.h {
                    let sr = (r / 2).min(input.h - 1);
                    for c in 0..dy.w {
                        let sc = (c / 2).min(input.w - 1);
                        let src = &dy.data[(r * dy.w + c) * dy.c..][..dy.c];
                        for (o, g) in dx.data[(sr * input.w + sc) * input.c..][..input.c]
                            .iter_mut()
                            .zip(src)
                        {
                            *o += g;
                        }
                    }
                }
                dx
            }
            Op::Concat => {
                let (ca, cb) = (input.c, dy.c - input.c);
                let mut da = Tensor::zeros(dy.h, dy.w, ca);
                let mut db = Tensor::zeros(dy.h, dy.w, cb);
                for p in 0..dy.h * dy.w {
                    da.data[p * ca..][..ca].copy_from_slice(&dy.data[p * dy.c..][..ca]);
                    db.data[p * cb..][..cb].copy_from_slice(&dy.data[p * dy.c + ca..][..cb]);
                }
                add_into(&mut d[l.from], db);
                da
            }
        };
        if i > 0 {
            add_into(&mut d[i - 1], dx);
        }
    }
    grads
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
