//! Test-time augmentation by flips: the network's outputs (heat-map logit and log
//! length) averaged over the input as it is, mirrored left-right, mirrored top-bottom
//! and both, each output mirrored back before averaging (the flip ensemble of e.g.
//! Simonyan & Zisserman 2015, Sec. 3.2; CenterNet's own flip test, Zhou et al. 2019).
//! A vehicle the network sees weakly from one side still gets a peak, a texture that
//! looks like a vehicle from one side only is damped.
//!
//! The input is padded (zeros, bottom and right) to a multiple of [`ALIGN`] working
//! pixels, so that the strided layers sample the mirrored image on the same lattice and
//! every mirrored output cell lands back on the cell it came from; the result is
//! cropped to the unpadded output size.

use super::net::{forward, forward_in, LayerSpec, Pool, Tensor};

/// Padding multiple: the product of the network's strides and upsampling must divide it.
pub const ALIGN: usize = 16;

/// `x` mirrored left-right (`h`) and/or top-bottom (`v`).
pub fn mirror(x: &Tensor, h: bool, v: bool) -> Tensor {
    mirror_in(x, h, v, &mut Pool::default())
}

fn mirror_in(x: &Tensor, h: bool, v: bool, pool: &mut Pool) -> Tensor {
    let mut o = pool.tensor(x.h, x.w, x.c);
    for r in 0..x.h {
        let sr = if v { x.h - 1 - r } else { r };
        for c in 0..x.w {
            let sc = if h { x.w - 1 - c } else { c };
            o.data[(r * x.w + c) * x.c..][..x.c].copy_from_slice(&x.data[(sr * x.w + sc) * x.c..][..x.c]);
        }
    }
    o
}

/// `x` padded with zeros to `h` x `w` (bottom and right).
fn pad(x: &Tensor, h: usize, w: usize) -> Tensor {
    let mut o = Tensor::zeros(h, w, x.c);
    for r in 0..x.h {
        o.data[r * w * x.c..][..x.w * x.c].copy_from_slice(&x.data[r * x.w * x.c..][..x.w * x.c]);
    }
    o
}

/// The top-left `h` x `w` of `x`.
fn crop(x: &Tensor, h: usize, w: usize) -> Tensor {
    let mut o = Tensor::zeros(h, w, x.c);
    for r in 0..h {
        o.data[r * w * x.c..][..w * x.c].copy_from_slice(&x.data[r * x.w * x.c..][..w * x.c]);
    }
    o
}

/// The network's output on `x`, averaged over `views` flips (1: the plain forward
/// pass; 4: all four mirror images). `stride` is the output stride.
pub fn forward_views(
    x: &Tensor,
    layers: &[LayerSpec],
    weights: &[f32],
    stride: usize,
    views: usize,
) -> Tensor {
    if views <= 1 {
        return forward(x, layers, weights, true);
    }
    let (ph, pw) = (x.h.div_ceil(ALIGN) * ALIGN, x.w.div_ceil(ALIGN) * ALIGN);
    let padded = pad(x, ph, pw);
    let mut sum: Option<Tensor> = None;
    let mut pool = Pool::default();
    for (h, v) in [(false, false), (true, false), (false, true), (true, true)] {
        let input = mirror_in(&padded, h, v, &mut pool);
        let y = forward_in(&input, layers, weights, true, &mut pool);
        pool.give(input);
        let out = mirror_in(&y, h, v, &mut pool);
        pool.give(y);
        match &mut sum {
            None => sum = Some(out),
            Some(s) => {
                s.data.iter_mut().zip(&out.data).for_each(|(a, b)| *a += b);
                pool.give(out);
            }
        }
    }
    let mut s = sum.expect("four views");
    s.data.iter_mut().for_each(|v| *v *= 0.25);
    crop(&s, x.h.div_ceil(stride), x.w.div_ceil(stride))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learned::rng::SplitMix64;
    use crate::learned::train::architecture;

    fn random(h: usize, w: usize, seed: u64) -> Tensor {
        let mut rng = SplitMix64::new(seed);
        let mut t = Tensor::zeros(h, w, 3);
        t.data.iter_mut().for_each(|v| *v = rng.f32());
        t
    }

    #[test]
    fn mirroring_twice_is_the_identity() {
        let x = random(5, 7, 1);
        assert_eq!(mirror(&mirror(&x, true, true), true, true), x);
        assert_ne!(mirror(&x, true, false), x);
        assert_eq!(mirror(&x, true, false).data[..3], x.data[6 * 3..7 * 3]);
    }

    #[test]
    fn four_views_are_mirror_equivariant_and_sized_like_one() {
        let layers = architecture(8);
        let n: usize = layers.iter().map(|l| l.n_params()).sum();
        let mut rng = SplitMix64::new(7);
        let weights: Vec<f32> = (0..n).map(|_| 0.2 * rng.normal()).collect();
        let x = random(32, 48, 3);
        let stride = 2;
        let one = forward_views(&x, &layers, &weights, stride, 1);
        let four = forward_views(&x, &layers, &weights, stride, 4);
        assert_eq!((one.h, one.w, one.c), (four.h, four.w, four.c));
        assert_ne!(one, four);
        // The mean over all mirror images of a mirrored input is the mirrored mean.
        let of_mirrored = forward_views(&mirror(&x, true, false), &layers, &weights, stride, 4);
        let back = mirror(&of_mirrored, true, false);
        for (a, b) in back.data.iter().zip(&four.data) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
