//! Resampling a raster onto an analysis [`Grid`]: bilinear interpolation, or an area
//! average (box filter over the target pixel's footprint, exact fractional coverage)
//! when downsampling by more than 1.5x, as GDAL's `-r average` does.
//!
//! Every grid pixel centre is carried into the source CRS and through the inverse
//! geotransform; only the window of source pixels those positions touch is read. Output
//! is NaN where the pixel falls outside the source or touches nodata.

use ndarray::Array3;
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

/// Source pixel coordinates (fractional, corner convention) of every grid pixel centre,
/// row-major; NaN where the transform fails.
pub fn source_coords(
    src_crs: &Crs,
    src_inv: &super::GeoTransform,
    grid: &Grid,
    grid_crs: &Crs,
) -> Vec<(f64, f64)> {
    let tr = Transformer::new(grid_crs, src_crs);
    (0..grid.height)
        .into_par_iter()
        .flat_map_iter(|r| {
            let tr = &tr;
            (0..grid.width).map(move |c| {
                let (x, y) = grid.pixel_center(c, r);
                match tr.apply(x, y) {
                    Some((sx, sy)) => src_inv.apply(sx, sy),
                    None => (f64::NAN, f64::NAN),
                }
            })
        })
        .collect()
}

/// Resamples `src` onto `grid`. `factor` is the grid pixel size in source pixels.
pub fn resample(src: &dyn RasterSource, src_crs: &Crs, grid: &Grid, grid_crs: &Crs) -> Result<Resampled> {
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
    let mut out = Array3::<f32>::from_elem((info.bands, grid.height, grid.width), f32::NAN);
    let Some(window) = Window::covering(c0, r0, c1, r1, 1, info.width, info.height) else {
        return Ok(Resampled {
            data: out,
            method,
            window: None,
        });
    };
    let block = src.read_window(window)?;
    let bw = window.width;
    let bh = window.height;
    let bands = info.bands;
    let slices: Vec<Vec<f32>> = (0..bands)
        .map(|b| {
            block
                .data
                .index_axis(ndarray::Axis(0), b)
                .iter()
                .copied()
                .collect()
        })
        .collect();
    let (img_w, img_h) = (info.width as f64, info.height as f64);
    for (b, band) in slices.iter().enumerate() {
        let vals: Vec<f32> = coords
            .par_iter()
            .map(|&(c, r)| {
                if !(c >= 0.0 && r >= 0.0 && c <= img_w && r <= img_h) {
                    return f32::NAN;
                }
                let lc = c - window.col_off as f64;
                let lr = r - window.row_off as f64;
                match method {
                    Method::Bilinear => bilinear(band, bw, bh, lc, lr),
                    Method::Average { factor } => area_average(band, bw, bh, lc, lr, factor),
                }
            })
            .collect();
        for (i, v) in vals.into_iter().enumerate() {
            out[[b, i / grid.width, i % grid.width]] = v;
        }
    }
    Ok(Resampled {
        data: out,
        method,
        window: Some(window),
    })
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

/// Bilinear sample at fractional corner-convention position (c, r) of a `w` x `h` band;
/// positions within half a pixel of the border are clamped to the edge pixels. NaN when
/// any contributing pixel is NaN.
pub fn bilinear(band: &[f32], w: usize, h: usize, c: f64, r: f64) -> f32 {
    let x = (c - 0.5).clamp(0.0, (w - 1) as f64);
    let y = (r - 0.5).clamp(0.0, (h - 1) as f64);
    let x0 = x.floor() as usize;
    let y0 = y.floor() as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = (x - x0 as f64) as f32;
    let fy = (y - y0 as f64) as f32;
    let p = |xx: usize, yy: usize| band[yy * w + xx];
    let (a, b, cc, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let top = a + (b - a) * fx;
    let bot = cc + (d - cc) * fx;
    let v = top + (bot - top) * fy;
    // Exact weights of zero still propagate NaN through the arithmetic above; that is
    // the conservative behaviour wanted next to nodata.
    v
}

/// Area-weighted mean over the `factor` x `factor` source footprint centred on (c, r);
/// NaN when less than half the footprint holds valid pixels.
pub fn area_average(band: &[f32], w: usize, h: usize, c: f64, r: f64, factor: f64) -> f32 {
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
            let v = band[yy * w + xx];
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
mod tests {
    use super::*;

    #[test]
    fn bilinear_on_literal_ramp() {
        // 3x2 band, value = 10*col + row.
        let band = [0.0, 10.0, 20.0, 1.0, 11.0, 21.0];
        assert_eq!(bilinear(&band, 3, 2, 0.5, 0.5), 0.0);
        assert_eq!(bilinear(&band, 3, 2, 1.0, 1.0), 5.5);
        assert_eq!(bilinear(&band, 3, 2, 2.5, 1.5), 21.0);
        let nan = [0.0, f32::NAN, 20.0, 1.0, 11.0, 21.0];
        assert!(bilinear(&nan, 3, 2, 1.0, 1.0).is_nan());
    }

    #[test]
    fn area_average_on_literal_block() {
        let band = [1.0, 3.0, 5.0, 7.0];
        assert_eq!(area_average(&band, 2, 2, 1.0, 1.0, 2.0), 4.0);
        let with_nan = [1.0, f32::NAN, f32::NAN, f32::NAN];
        assert!(area_average(&with_nan, 2, 2, 1.0, 1.0, 2.0).is_nan());
    }
}
