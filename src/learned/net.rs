//! The network: a stack of 3x3 (or 1x1) convolutions with ReLU, channel-last (HWC)
//! tensors, forward for inference and forward + backward for training.
//!
//! Layout gotcha: every tensor here is `[row][col][channel]` (HWC), and a kernel is
//! `[ky][kx][cin][cout]`, which is the `(k*k*cin) x cout` matrix the convolutions of
//! [`super::conv`] multiplies by. Padding is zero ("same" convolution); a stride-2 layer
//! halves each side (rounding up).
//!
//! Determinism: every output value is a fixed-order sum, whatever the thread count
//! (blocks of pixels are split across threads, never a reduction).

pub use super::conv::{conv_backward, conv_weight_gradient};
use rayon::prelude::*;

pub use super::direct::{conv_forward, conv_forward_in};

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

/// A tensor `[h][w][c]`, the network's activations. Channels last, unlike the crate's
/// `[band, row, col]` images: the convolution kernels ([`super::direct`], [`super::conv`])
/// read all input channels of one pixel as one contiguous run and keep all output
/// channels of a few pixels in vector registers. `super::prepare` turns an image
/// into one.
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

/// Buffers of tensors no longer needed, reused for new ones within one inference (the
/// layers of a forward pass, the four views). Measured on this project's machine: a
/// fresh allocation per layer output spent about a fifth of a forward pass in the
/// kernel (page faults and zeroing of new pages, serialised across threads).
#[derive(Debug, Default)]
pub struct Pool(Vec<Vec<f32>>);

impl Pool {
    /// Kept buffers at most (the network keeps at most three outputs alive at once).
    pub(crate) const KEEP: usize = 6;

    /// A zeroed `h` x `w` x `c` tensor, on the smallest kept buffer that holds it.
    pub fn tensor(&mut self, h: usize, w: usize, c: usize) -> Tensor {
        let len = h * w * c;
        let best = (0..self.0.len())
            .filter(|&i| self.0[i].capacity() >= len)
            .min_by_key(|&i| self.0[i].capacity());
        let mut data = best.map(|i| self.0.swap_remove(i)).unwrap_or_default();
        data.clear();
        data.resize(len, 0.0);
        Tensor { h, w, c, data }
    }

    /// Keeps `t`'s buffer for a later [`Pool::tensor`].
    pub fn give(&mut self, t: Tensor) {
        if self.0.len() < Self::KEEP {
            self.0.push(t.data);
        }
    }
}

/// Nearest-neighbour upsampling of `x` to `h` x `w` (source pixel `(r / 2, c / 2)`).
fn up2(x: &Tensor, h: usize, w: usize, pool: &mut Pool, parallel: bool) -> Tensor {
    let mut out = pool.tensor(h, w, x.c);
    for_rows(&mut out.data, w * x.c, parallel, |r, row| {
        let sr = (r / 2).min(x.h - 1);
        for (c, px) in row.chunks_exact_mut(x.c).enumerate() {
            let sc = (c / 2).min(x.w - 1);
            px.copy_from_slice(&x.data[(sr * x.w + sc) * x.c..][..x.c]);
        }
    });
    out
}

/// Channels of `a` then `b` (same size).
fn concat(a: &Tensor, b: &Tensor, pool: &mut Pool, parallel: bool) -> Tensor {
    assert_eq!((a.h, a.w), (b.h, b.w), "concat sizes");
    let mut out = pool.tensor(a.h, a.w, a.c + b.c);
    let c = out.c;
    for_rows(&mut out.data, a.w * c, parallel, |r, row| {
        for (i, px) in row.chunks_exact_mut(c).enumerate() {
            let p = r * a.w + i;
            px[..a.c].copy_from_slice(&a.data[p * a.c..][..a.c]);
            px[a.c..].copy_from_slice(&b.data[p * b.c..][..b.c]);
        }
    });
    out
}

/// `f(row index, row)` over the rows of `data` (`row_len` values each), on rayon's
/// threads when `parallel` (copies only, so the result is the same either way).
fn for_rows(data: &mut [f32], row_len: usize, parallel: bool, f: impl Fn(usize, &mut [f32]) + Sync) {
    if row_len == 0 {
        return;
    }
    if parallel {
        data.par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    } else {
        data.chunks_mut(row_len)
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    }
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
fn apply(
    l: &LayerSpec,
    input: &Tensor,
    outs: &[Option<Tensor>],
    w: &[f32],
    parallel: bool,
    pool: &mut Pool,
) -> Tensor {
    match l.op {
        Op::Conv => conv_forward_in(input, l, w, parallel, pool),
        Op::Up2 => {
            let t = outs[l.from].as_ref().expect("size source kept");
            up2(input, t.h, t.w, pool, parallel)
        }
        Op::Concat => concat(
            input,
            outs[l.from].as_ref().expect("concat source kept"),
            pool,
            parallel,
        ),
    }
}

/// Runs every layer; when `free`, drops each output once no later layer reads it
/// (inference), else keeps them all (training).
fn run_layers(
    x: &Tensor,
    layers: &[LayerSpec],
    weights: &[f32],
    parallel: bool,
    free: Option<&mut Pool>,
) -> Vec<Option<Tensor>> {
    let mut own = Pool::default();
    let (pool, free) = match free {
        Some(p) => (p, true),
        None => (&mut own, false),
    };
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
        let y = apply(l, input, &outs, w, parallel, pool);
        outs.push(Some(y));
        if free {
            for (j, o) in outs.iter_mut().enumerate().take(i) {
                if last_use[j] <= i {
                    if let Some(t) = o.take() {
                        pool.give(t);
                    }
                }
            }
        }
    }
    outs
}

/// Forward through all layers; returns every layer's output (for backward).
pub fn forward_all(x: &Tensor, layers: &[LayerSpec], weights: &[f32], parallel: bool) -> Vec<Tensor> {
    run_layers(x, layers, weights, parallel, None)
        .into_iter()
        .map(|o| o.expect("kept"))
        .collect()
}

/// Forward keeping only what later layers need (inference); returns the last output.
pub fn forward(x: &Tensor, layers: &[LayerSpec], weights: &[f32], parallel: bool) -> Tensor {
    forward_in(x, layers, weights, parallel, &mut Pool::default())
}

/// [`forward`] taking and returning buffers from `pool` (for several passes in a row).
pub fn forward_in(
    x: &Tensor,
    layers: &[LayerSpec],
    weights: &[f32],
    parallel: bool,
    pool: &mut Pool,
) -> Tensor {
    run_layers(x, layers, weights, parallel, Some(pool))
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
                if i == 0 {
                    // The image needs no gradient: the same weight gradient, no dx.
                    conv_weight_gradient(input, &outs[i], &dy, l, &weights[a..b], &mut grads[a..b]);
                    continue;
                }
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
