//! Grayscale dilation and erosion with a (2r+1)^2 square in O(1) comparisons per pixel
//! whatever `r`: the van Herk / Gil-Werman algorithm (van Herk 1992; Gil & Werman 1993)
//! on rows, then on columns (the square is separable). Each line is cut into blocks of
//! 2r+1 samples; a prefix and a suffix running extreme per block give every window's
//! extreme as the extreme of one suffix and one prefix value.
//!
//! Images are `[row, col]` arrays (the crate's one-band convention); the passes run on
//! the rows of a standard-layout copy (none is made when the input already is one).
//!
//! Semantics (kept from the direct definition, [`gray_morph_reference`]): the window is
//! clipped at the image border, NaN samples are ignored, and a window with no number in
//! it gives NaN. Inputs are assumed free of infinities (the padding uses them).

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Running max (`max`) or min over centred windows of `2r+1` samples of `x` into `out`.
/// `g` and `h` are scratch buffers.
fn running_extreme(x: &[f32], r: usize, max: bool, out: &mut [f32], g: &mut Vec<f32>, h: &mut Vec<f32>) {
    let (n, k) = (x.len(), 2 * r + 1);
    let e = if max { f32::NEG_INFINITY } else { f32::INFINITY };
    let pick = |a: f32, b: f32| if max { a.max(b) } else { a.min(b) };
    let m = (n + 2 * r).div_ceil(k) * k;
    let p = |i: usize| if i >= r && i < n + r { x[i - r] } else { e };
    g.clear();
    g.resize(m, e);
    h.clear();
    h.resize(m, e);
    for b in (0..m).step_by(k) {
        g[b] = p(b);
        for j in b + 1..b + k {
            g[j] = pick(g[j - 1], p(j));
        }
        h[b + k - 1] = p(b + k - 1);
        for j in (b..b + k - 1).rev() {
            h[j] = pick(h[j + 1], p(j));
        }
    }
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let v = pick(h[i], g[i + k - 1]);
        *o = if v == e { f32::NAN } else { v };
    }
}

/// A morphological operation with a square structuring element: erosion takes the
/// minimum (binary: all set) over the window, dilation the maximum (binary: any set).
/// Used by the float filters here, the binary masks of [`crate::change`] and the bit
/// rows of [`crate::fast::bits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Morph {
    Erode,
    Dilate,
}

/// Grayscale dilation or erosion of a `[row, col]` image with a (2r+1)^2 square (the
/// window clipped at the borders; NaN ignored).
pub fn gray_morph(img: ArrayView2<f32>, r: usize, op: Morph) -> Array2<f32> {
    let (h, w) = img.dim();
    let max = op == Morph::Dilate;
    if w == 0 || h == 0 {
        return Array2::zeros((h, w));
    }
    let img = img.as_standard_layout();
    let img = img.as_slice().expect("standard layout");
    let mut horiz = vec![0f32; w * h];
    horiz.par_chunks_mut(w).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(g, hb), (y, row)| running_extreme(&img[y * w..(y + 1) * w], r, max, row, g, hb),
    );
    // Columns: gathered in blocks of 16 so that each pass reads whole cache lines.
    const COLS: usize = 16;
    let blocks: Vec<Vec<f32>> = (0..w.div_ceil(COLS))
        .into_par_iter()
        .map(|bx| {
            let (x0, x1) = (bx * COLS, ((bx + 1) * COLS).min(w));
            let (mut g, mut hb) = (Vec::new(), Vec::new());
            let mut col = vec![0f32; h];
            let mut res = vec![0f32; h];
            let mut out = vec![0f32; (x1 - x0) * h];
            for x in x0..x1 {
                for (y, c) in col.iter_mut().enumerate() {
                    *c = horiz[y * w + x];
                }
                running_extreme(&col, r, max, &mut res, &mut g, &mut hb);
                out[(x - x0) * h..(x - x0 + 1) * h].copy_from_slice(&res);
            }
            out
        })
        .collect();
    let mut out = vec![0f32; w * h];
    for (bx, block) in blocks.iter().enumerate() {
        let x0 = bx * COLS;
        let n = block.len() / h;
        for y in 0..h {
            for i in 0..n {
                out[y * w + x0 + i] = block[i * h + y];
            }
        }
    }
    Array2::from_shape_vec((h, w), out).expect("h x w values")
}

/// The direct definition, for tests: the extreme over the clipped window, ignoring NaN.
pub fn gray_morph_reference(img: ArrayView2<f32>, r: usize, op: Morph) -> Array2<f32> {
    let pick = |a: f32, b: f32| if op == Morph::Dilate { a.max(b) } else { a.min(b) };
    let (h, w) = img.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        let mut v = f32::NAN;
        for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
            for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                v = pick(v, img[(yy, xx)]);
            }
        }
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_line_and_nan_windows() {
        let img = ndarray::arr2(&[[1.0, 5.0, f32::NAN, f32::NAN, f32::NAN, 2.0, 0.0]]);
        let d = gray_morph(img.view(), 1, Morph::Dilate);
        let want = [5.0, 5.0, 5.0, f32::NAN, 2.0, 2.0, 2.0];
        for (a, b) in d.iter().zip(want) {
            assert!(a == &b || (a.is_nan() && b.is_nan()), "{d:?}");
        }
        let e = gray_morph(img.view(), 1, Morph::Erode);
        assert_eq!((e[(0, 0)], e[(0, 5)], e[(0, 6)]), (1.0, 0.0, 0.0));
        assert!(e[(0, 3)].is_nan());
    }
}
