//! Resampling a raster onto an analysis [`Grid`]: bilinear interpolation, or an area
//! average (box filter over the target pixel's footprint, exact fractional coverage)
//! when downsampling by more than 1.5x, as GDAL's `-r average` does.
//!
//! Every grid pixel centre is carried into the source CRS and through the inverse
//! geotransform; only the window of source pixels those positions touch is read. Output
//! is NaN where the pixel falls outside the source or touches nodata. A grid on the
//! source's own pixel lattice (same CRS and pixel size, whole-pixel offset: two dates of
//! one product grid) skips the transform: its centres are the source's.

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::crs::{Crs, Transformer};
use super::grid::Grid;
use super::{RasterSource, Window};
use crate::error::{Error, Result};

/// Downsampling factor above which the area average replaces bilinear interpolation.
pub const AREA_AVERAGE_ABOVE: f64 = 1.5;

/// How source pixels are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Bilinear,
    /// Box average over a footprint `factor` source pixels wide.
    Average {
        factor: f64,
    },
}

/// The resampled bands `[band, row, col]` and how many source pixels were read.
pub struct Resampled {
    pub data: Array3<f32>,
    pub method: Method,
    pub window: Option<Window>,
}

impl Resampled {
    /// A grid wholly outside the source: NaN everywhere, nothing read.
    fn outside(shape: (usize, usize, usize), method: Method) -> Resampled {
        Resampled {
            data: Array3::from_elem(shape, f32::NAN),
            method,
            window: None,
        }
    }
}

/// Spacing of the grid pixels carried exactly through the CRS transform; positions in
/// between are interpolated bilinearly (GDAL's approximate transformer does the same).
const KNOT_STEP: usize = 16;
/// Largest interpolation error accepted in a cell, source pixels (GDAL's default).
const MAX_APPROX_ERROR_PX: f64 = 0.125;

/// Lattice positions along an axis of `n` pixels: every [`KNOT_STEP`] and the last.
fn knots(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).step_by(KNOT_STEP).collect();
    if v.last() != Some(&(n - 1)) {
        v.push(n - 1);
    }
    v
}

/// Source pixel coordinates (fractional, corner convention) of every grid pixel centre,
/// row-major; NaN where the transform fails.
///
/// The exact transform (proj4rs, two projections and a datum shift per point) is run on
/// a lattice every `KNOT_STEP` (16) pixels; each lattice cell is interpolated bilinearly
/// when the interpolation at its centre is within `MAX_APPROX_ERROR_PX` (0.125 px) of the exact
/// position and all its corners transform, and transformed exactly otherwise. Map
/// projections are smooth, so over a site grid the error is far below that bound.
pub fn source_coords(
    src_crs: &Crs,
    src_inv: &super::GeoTransform,
    grid: &Grid,
    grid_crs: &Crs,
) -> Vec<(f64, f64)> {
    let tr = Transformer::new(grid_crs, src_crs);
    let exact = |c: usize, r: usize| {
        let (x, y) = grid.pixel_center(c, r);
        match tr.apply(x, y) {
            Some((sx, sy)) => src_inv.apply(sx, sy),
            None => (f64::NAN, f64::NAN),
        }
    };
    let (w, h) = (grid.width, grid.height);
    if w < 2 || h < 2 {
        return (0..h)
            .flat_map(|r| (0..w).map(move |c| (c, r)))
            .map(|(c, r)| exact(c, r))
            .collect();
    }
    let (kc, kr) = (knots(w), knots(h));
    let lattice: Vec<Vec<(f64, f64)>> = kr
        .par_iter()
        .map(|&r| kc.iter().map(|&c| exact(c, r)).collect())
        .collect();
    let lerp = |i: usize, j: usize, c: usize, r: usize| {
        let fx = (c - kc[i]) as f64 / (kc[i + 1] - kc[i]) as f64;
        let fy = (r - kr[j]) as f64 / (kr[j + 1] - kr[j]) as f64;
        let (p00, p01) = (lattice[j][i], lattice[j][i + 1]);
        let (p10, p11) = (lattice[j + 1][i], lattice[j + 1][i + 1]);
        let mix = |a: f64, b: f64, cc: f64, d: f64| {
            (1.0 - fy) * ((1.0 - fx) * a + fx * b) + fy * ((1.0 - fx) * cc + fx * d)
        };
        (mix(p00.0, p01.0, p10.0, p11.0), mix(p00.1, p01.1, p10.1, p11.1))
    };
    // Whether each cell may be interpolated.
    let approx_ok: Vec<Vec<bool>> = (0..kr.len() - 1)
        .into_par_iter()
        .map(|j| {
            (0..kc.len() - 1)
                .map(|i| {
                    let (c, r) = ((kc[i] + kc[i + 1]) / 2, (kr[j] + kr[j + 1]) / 2);
                    let (e, a) = (exact(c, r), lerp(i, j, c, r));
                    let err = (e.0 - a.0).hypot(e.1 - a.1);
                    err.is_finite() && err <= MAX_APPROX_ERROR_PX
                })
                .collect()
        })
        .collect();
    let cell = |k: &[usize], v: usize| k.partition_point(|&x| x <= v).clamp(1, k.len() - 1) - 1;
    let mut out = vec![(0.0, 0.0); w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(r, row)| {
        let j = cell(&kr, r);
        for (c, o) in row.iter_mut().enumerate() {
            let i = cell(&kc, c);
            *o = if approx_ok[j][i] {
                lerp(i, j, c, r)
            } else {
                exact(c, r)
            };
        }
    });
    out
}

/// Resamples `src` onto `grid`. `factor` is the grid pixel size in source pixels.
pub fn resample(src: &dyn RasterSource, src_crs: &Crs, grid: &Grid, grid_crs: &Crs) -> Result<Resampled> {
    // A lattice grid's source transform is north-up with nonzero pixel sizes, so
    // invertible; the transform path reports a singular one.
    if let Some(offset) = lattice_offset(&src.info().transform, src_crs, grid, grid_crs) {
        return resample_on_lattice(src, grid, offset);
    }
    resample_transformed(src, src_crs, grid, grid_crs)
}

/// [`resample`] through the transform: every grid pixel centre carried into the source.
fn resample_transformed(
    src: &dyn RasterSource,
    src_crs: &Crs,
    grid: &Grid,
    grid_crs: &Crs,
) -> Result<Resampled> {
    let info = src.info();
    let inv = info
        .transform
        .invert()
        .ok_or_else(|| Error::no_georef(&info.path, "singular geotransform"))?;
    let coords = source_coords(src_crs, &inv, grid, grid_crs);
    let factor = scale_factor(&coords, grid.width, grid.height);
    let method = if factor > AREA_AVERAGE_ABOVE {
        Method::Average { factor }
    } else {
        Method::Bilinear
    };
    let half = match method {
        Method::Bilinear => 1.0,
        Method::Average { factor } => factor / 2.0 + 1.0,
    };
    let (mut c0, mut r0, mut c1, mut r1) =
        (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &(c, r) in &coords {
        if c.is_finite() && r.is_finite() {
            c0 = c0.min(c - half);
            r0 = r0.min(r - half);
            c1 = c1.max(c + half);
            r1 = r1.max(r + half);
        }
    }
    let shape = (info.bands, grid.height, grid.width);
    let Some(window) = Window::covering(c0, r0, c1, r1, 1, info.width, info.height) else {
        return Ok(Resampled::outside(shape, method));
    };
    // Every pixel of every band is written below (NaN where the source has none).
    let mut out = Array3::<f32>::zeros(shape);
    let block = src.read_window(window)?;
    let bw = window.width;
    let bh = window.height;
    let bands = info.bands;
    let data = block.data.as_standard_layout();
    let planes: Vec<_> = (0..bands).map(|b| data.index_axis(ndarray::Axis(0), b)).collect();
    let (img_w, img_h) = (info.width as f64, info.height as f64);
    let local = |&(c, r): &(f64, f64)| {
        (c >= 0.0 && r >= 0.0 && c <= img_w && r <= img_h)
            .then_some((c - window.col_off as f64, r - window.row_off as f64))
    };
    // Bilinear taps are computed once for all bands; they index the window with u32.
    assert!(
        bw * bh <= u32::MAX as usize,
        "bilinear window of {bw}x{bh} pixels exceeds the u32 tap index"
    );
    let taps: Vec<Option<Tap>> = match method {
        Method::Bilinear => coords
            .par_iter()
            .map(|p| local(p).map(|(lc, lr)| Tap::new(bw, bh, lc, lr)))
            .collect(),
        Method::Average { .. } => Vec::new(),
    };
    for (b, band) in planes.iter().enumerate() {
        let flat = band.as_slice().expect("standard layout");
        let mut dst = out.index_axis_mut(ndarray::Axis(0), b);
        let dst = dst.as_slice_mut().expect("a fresh array is in standard layout");
        match method {
            Method::Bilinear => dst
                .par_iter_mut()
                .zip(&taps)
                .for_each(|(d, t)| *d = t.as_ref().map_or(f32::NAN, |t| t.apply(flat))),
            Method::Average { factor } => dst.par_iter_mut().zip(&coords).for_each(|(d, p)| {
                *d = local(p).map_or(f32::NAN, |(lc, lr)| area_average(*band, lc, lr, factor))
            }),
        }
    }
    Ok(Resampled {
        data: out,
        method,
        window: Some(window),
    })
}

/// When `grid` lies on the source's own pixel lattice (same CRS, both north-up, the same
/// pixel size, origins a whole number of pixels apart, all exact in f64), the source
/// column and row of grid pixel (0, 0). Two dates of one product grid, and every site
/// and context grid cut from it (they are snapped to the pixel size), are such a case.
fn lattice_offset(
    src_t: &super::GeoTransform,
    src_crs: &Crs,
    grid: &Grid,
    grid_crs: &Crs,
) -> Option<(i64, i64)> {
    let (s, g) = (&src_t.0, &grid.transform.0);
    let same = Transformer::new(grid_crs, src_crs).is_identity()
        && s[2] == 0.0
        && s[4] == 0.0
        && g[2] == 0.0
        && g[4] == 0.0
        && s[1] == g[1]
        && s[5] == g[5]
        && s[1] != 0.0
        && s[5] != 0.0;
    if !same {
        return None;
    }
    let whole = |from: f64, to: f64, step: f64| {
        let k = ((to - from) / step).round();
        (k.is_finite() && k.abs() < 1e12 && from + k * step == to).then_some(k as i64)
    };
    Some((whole(s[0], g[0], s[1])?, whole(s[3], g[3], s[5])?))
}

/// [`resample`] when grid pixel (c, r) is source pixel (c + `kc`, r + `kr`): bilinear
/// interpolation at exactly the source pixel centres, so the positions are not carried
/// through the transform and no tap is stored. Same window, same neighbours and the same
/// arithmetic as the general path with zero weights (NaN when any of the four
/// neighbours is not finite, as there), so the values are those of an exact transform.
fn resample_on_lattice(src: &dyn RasterSource, grid: &Grid, (kc, kr): (i64, i64)) -> Result<Resampled> {
    let info = src.info();
    let shape = (info.bands, grid.height, grid.width);
    let method = Method::Bilinear;
    // The general path's window: every centre with one pixel around, padded by one.
    let last = |k: i64, n: usize| (k + n as i64 - 1) as f64 + 0.5;
    let window = Window::covering(
        kc as f64 + 0.5 - 1.0,
        kr as f64 + 0.5 - 1.0,
        last(kc, grid.width) + 1.0,
        last(kr, grid.height) + 1.0,
        1,
        info.width,
        info.height,
    );
    let Some(window) = window else {
        return Ok(Resampled::outside(shape, method));
    };
    let block = src.read_window(window)?;
    let data = block.data.as_standard_layout();
    let (bw, bh) = (window.width, window.height);
    assert!(
        bw * bh <= u32::MAX as usize,
        "bilinear window of {bw}x{bh} pixels exceeds the u32 tap index"
    );
    // Window column of each grid column (None outside the image), likewise rows.
    let local = |k: i64, n: usize, off: usize, size: usize| -> Vec<Option<usize>> {
        (0..n as i64)
            .map(|i| {
                let s = k + i;
                (s >= 0 && s < size as i64).then(|| (s - off as i64) as usize)
            })
            .collect()
    };
    let cols = local(kc, grid.width, window.col_off, info.width);
    let rows = local(kr, grid.height, window.row_off, info.height);
    // The grid columns inside the image are one run of consecutive window columns.
    let first = cols.iter().position(Option::is_some).unwrap_or(0);
    let inside = cols.iter().filter(|c| c.is_some()).count();
    let x_first = cols.get(first).copied().flatten().unwrap_or(0);
    debug_assert!(cols[first..first + inside]
        .iter()
        .enumerate()
        .all(|(i, c)| *c == Some(x_first + i)));
    let mut out = Array3::<f32>::zeros(shape);
    for b in 0..info.bands {
        let band = data.index_axis(ndarray::Axis(0), b);
        let flat = band.as_slice().expect("standard layout");
        let mut dst = out.index_axis_mut(ndarray::Axis(0), b);
        let dst = dst.as_slice_mut().expect("a fresh array is in standard layout");
        dst.par_chunks_mut(grid.width).zip(&rows).for_each(|(row, y)| {
            row.fill(f32::NAN);
            if let Some(y0) = *y {
                let run = &mut row[first..first + inside];
                lattice_run(flat, (bw, bh), (x_first, y0), run);
            }
        });
    }
    Ok(Resampled {
        data: out,
        method,
        window: Some(window),
    })
}

/// Grid pixels on source pixels (`x0`.., `y0`) of a `bw` x `bh` window: the general
/// path's tap at each pixel centre (weights 0), with the same arithmetic
/// ([`lerp2`]). Pixels whose right neighbour is inside the window take their four
/// neighbours from two row slices, which the compiler turns into vector code; the last
/// window column clamps as [`Tap::at_pixel`] does.
fn lattice_run(flat: &[f32], (bw, bh): (usize, usize), (x0, y0): (usize, usize), out: &mut [f32]) {
    let y1 = (y0 + 1).min(bh - 1);
    let (r0, r1) = (&flat[y0 * bw..][..bw], &flat[y1 * bw..][..bw]);
    let n = out.len().min((bw - 1).saturating_sub(x0));
    let (a, b) = (&r0[x0..x0 + n], &r0[x0 + 1..x0 + 1 + n]);
    let (c, d) = (&r1[x0..x0 + n], &r1[x0 + 1..x0 + 1 + n]);
    for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(a).zip(b).zip(c).zip(d) {
        *o = lerp2([a, b, c, d], 0.0, 0.0);
    }
    for (i, o) in out.iter_mut().enumerate().skip(n) {
        *o = Tap::at_pixel(bw, bh, x0 + i, y0, 0.0, 0.0).apply(flat);
    }
}

/// Bilinear interpolation of the four neighbours (top-left, top-right, bottom-left,
/// bottom-right) with weights (`fx`, `fy`): the one formula of every bilinear sample.
#[inline(always)]
fn lerp2([a, b, c, d]: [f32; 4], fx: f32, fy: f32) -> f32 {
    let top = a + (b - a) * fx;
    let bot = c + (d - c) * fx;
    // Exact weights of zero still propagate NaN through this arithmetic; that is the
    // conservative behaviour wanted next to nodata.
    top + (bot - top) * fy
}

/// Median spacing, in source pixels, between horizontally adjacent grid pixel centres.
fn scale_factor(coords: &[(f64, f64)], w: usize, h: usize) -> f64 {
    let mut d = Vec::new();
    let step_r = (h / 16).max(1);
    let step_c = (w / 16).max(1);
    for r in (0..h).step_by(step_r) {
        for c in (0..w.saturating_sub(1)).step_by(step_c) {
            let a = coords[r * w + c];
            let b = coords[r * w + c + 1];
            let s = (b.0 - a.0).hypot(b.1 - a.1);
            if s.is_finite() {
                d.push(s);
            }
        }
    }
    if d.is_empty() {
        return 1.0;
    }
    d.sort_by(|a, b| a.total_cmp(b));
    d[d.len() / 2]
}

/// Bilinear sample at fractional corner-convention position (c, r) of a `[row, col]`
/// band; positions within half a pixel of the border are clamped to the edge pixels. NaN
/// when any contributing pixel is NaN.
pub fn bilinear(band: ArrayView2<f32>, c: f64, r: f64) -> f32 {
    let (h, w) = band.dim();
    let band = band.as_standard_layout();
    Tap::new(w, h, c, r).apply(band.as_slice().expect("standard layout"))
}

/// Where a bilinear sample reads a `w` x `h` band and with which weights: computed once
/// per grid pixel and applied to every band (as the flat row-major slice of a
/// standard-layout band, so a tap is four loads).
#[derive(Debug, Clone, Copy)]
struct Tap {
    /// Indexes of the four neighbours: (x0, y0), (x1, y0), (x0, y1), (x1, y1).
    at: [u32; 4],
    fx: f32,
    fy: f32,
}

impl Tap {
    fn new(w: usize, h: usize, c: f64, r: f64) -> Tap {
        // Site grids are at most 20,000 px a side and bilinear only reads up to 1.5x as
        // many source pixels a side, so windows stay far below 2^32 pixels; `resample`
        // checks it in release builds too.
        debug_assert!(w * h <= u32::MAX as usize);
        let x = (c - 0.5).clamp(0.0, (w - 1) as f64);
        let y = (r - 0.5).clamp(0.0, (h - 1) as f64);
        let x0 = x.floor() as usize;
        let y0 = y.floor() as usize;
        Tap::at_pixel(w, h, x0, y0, (x - x0 as f64) as f32, (y - y0 as f64) as f32)
    }

    /// The tap whose top-left neighbour is pixel (x0, y0), with weights (fx, fy); the
    /// right and lower neighbours are clamped to the band.
    fn at_pixel(w: usize, h: usize, x0: usize, y0: usize, fx: f32, fy: f32) -> Tap {
        let x1 = (x0 + 1).min(w - 1);
        let y1 = (y0 + 1).min(h - 1);
        let i = |xx: usize, yy: usize| (yy * w + xx) as u32;
        Tap {
            at: [i(x0, y0), i(x1, y0), i(x0, y1), i(x1, y1)],
            fx,
            fy,
        }
    }

    fn apply(&self, band: &[f32]) -> f32 {
        lerp2(self.at.map(|i| band[i as usize]), self.fx, self.fy)
    }
}

/// Area-weighted mean over the `factor` x `factor` source footprint centred on (c, r);
/// NaN when less than half the footprint holds valid pixels.
pub fn area_average(band: ArrayView2<f32>, c: f64, r: f64, factor: f64) -> f32 {
    let (h, w) = band.dim();
    let half = factor / 2.0;
    let (x0, x1) = ((c - half).max(0.0), (c + half).min(w as f64));
    let (y0, y1) = ((r - half).max(0.0), (r + half).min(h as f64));
    if x1 <= x0 || y1 <= y0 {
        return f32::NAN;
    }
    let mut sum = 0.0f64;
    let mut wsum = 0.0f64;
    for yy in (y0.floor() as usize)..(y1.ceil() as usize).min(h) {
        let wy = (y1.min(yy as f64 + 1.0) - y0.max(yy as f64)).max(0.0);
        for xx in (x0.floor() as usize)..(x1.ceil() as usize).min(w) {
            let wx = (x1.min(xx as f64 + 1.0) - x0.max(xx as f64)).max(0.0);
            let v = band[(yy, xx)];
            if v.is_finite() {
                sum += (wx * wy) * v as f64;
                wsum += wx * wy;
            }
        }
    }
    if wsum < 0.5 * factor * factor {
        f32::NAN
    } else {
        (sum / wsum) as f32
    }
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;
