//! Analysis grids: a north-up pixel grid in a projected CRS onto which both dates of a
//! site are resampled, and ground sample distances measured on the ground.
//!
//! GSDs are measured, not read off the transform: the pixel's column and row vectors are
//! carried into the local UTM zone and their lengths taken there, so a geographic raster
//! (degrees) or Web Mercator (whose "metres" shrink with cos(latitude)) gets its true
//! ground size.

use super::crs::{utm_epsg_for, Crs, Transformer};
use super::{GeoTransform, RasterInfo};
use crate::error::{Error, Result};

/// A north-up grid of `width` x `height` pixels in CRS `epsg`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub epsg: u32,
    pub transform: GeoTransform,
    pub width: usize,
    pub height: usize,
    /// Pixel size on the ground, metres.
    pub gsd_m: f64,
}

impl Grid {
    /// Centre of pixel (col, row) in grid CRS coordinates.
    pub fn pixel_center(&self, col: usize, row: usize) -> (f64, f64) {
        self.transform.apply(col as f64 + 0.5, row as f64 + 0.5)
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// True for a grid without pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ground area of one pixel, square metres.
    pub fn pixel_area_m2(&self) -> f64 {
        self.gsd_m * self.gsd_m
    }
}

/// Lengths of the column and row edges of the pixel of `info` at fractional position
/// (col, row), measured after carrying its corners through `to` (`info`'s CRS to the
/// CRS to measure in); an error where the transform fails or the pixel is degenerate.
fn edge_lengths(info: &RasterInfo, to: &Transformer, col: f64, row: f64) -> Result<(f64, f64)> {
    let p = |c: f64, r: f64| {
        let (x, y) = info.transform.apply(c, r);
        to.apply_checked(x, y)
    };
    let o = p(col, row)?;
    let a = p(col + 1.0, row)?;
    let b = p(col, row + 1.0)?;
    let dx = (a.0 - o.0).hypot(a.1 - o.1);
    let dy = (b.0 - o.0).hypot(b.1 - o.1);
    if dx.is_nan() || dy.is_nan() || dx <= 0.0 || dy <= 0.0 {
        return Err(Error::no_georef(&info.path, "degenerate pixel size"));
    }
    Ok((dx, dy))
}

/// Ground size (metres) of a pixel of `info` at fractional pixel position (col, row):
/// the pixel's edges are carried into the local UTM zone and measured there.
pub fn ground_pixel_size_m(info: &RasterInfo, crs: &Crs, col: f64, row: f64) -> Result<(f64, f64)> {
    let (x, y) = info.transform.apply(col, row);
    let (lon, lat) = Transformer::new(crs, &Crs::wgs84()).apply_checked(x, y)?;
    let utm = Crs::from_epsg(utm_epsg_for(lon, lat))?;
    edge_lengths(info, &Transformer::new(crs, &utm), col, row)
}

/// Representative ground sample distance of a raster: measured at its centre, the
/// geometric mean of the two edge lengths.
pub fn raster_gsd_m(info: &RasterInfo, crs: &Crs) -> Result<f64> {
    let (dx, dy) = ground_pixel_size_m(info, crs, info.width as f64 / 2.0, info.height as f64 / 2.0)?;
    Ok((dx * dy).sqrt())
}

/// Size of one pixel of `info` expressed in units of `grid_crs`, measured at world
/// point (gx, gy) of the grid CRS: the geometric mean of the transformed pixel edges.
pub fn pixel_size_in(info: &RasterInfo, src_crs: &Crs, grid_crs: &Crs, gx: f64, gy: f64) -> Result<f64> {
    let inv = info
        .transform
        .invert()
        .ok_or_else(|| Error::no_georef(&info.path, "singular geotransform"))?;
    let (sx, sy) = Transformer::new(grid_crs, src_crs).apply_checked(gx, gy)?;
    let (c, r) = inv.apply(sx, sy);
    let (dx, dy) = edge_lengths(info, &Transformer::new(src_crs, grid_crs), c, r)?;
    Ok((dx * dy).sqrt())
}

/// Grid covering the box `[min_x, max_x] x [min_y, max_y]` (grid CRS units) plus
/// `margin`, with square pixels of `pixel` units, its origin snapped to a multiple of the
/// pixel size so that the same inputs always give the same grid.
pub fn grid_for_bbox(
    epsg: u32,
    bbox: (f64, f64, f64, f64),
    margin: f64,
    pixel: f64,
    ground_scale: f64,
) -> Result<Grid> {
    let (min_x, min_y, max_x, max_y) = bbox;
    if pixel.is_nan() || pixel <= 0.0 || !bbox.0.is_finite() || !bbox.3.is_finite() {
        return Err(Error::Grid("cannot build a grid on a degenerate box".into()));
    }
    let x0 = ((min_x - margin) / pixel).floor() * pixel;
    let y1 = ((max_y + margin) / pixel).ceil() * pixel;
    let x1 = ((max_x + margin) / pixel).ceil() * pixel;
    let y0 = ((min_y - margin) / pixel).floor() * pixel;
    let width = ((x1 - x0) / pixel).round() as usize;
    let height = ((y1 - y0) / pixel).round() as usize;
    const MAX_SIDE: usize = 20_000;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::Grid(format!(
            "{width}x{height} pixels is empty or too large (limit {MAX_SIDE} per side)"
        )));
    }
    Ok(Grid {
        epsg,
        transform: GeoTransform::north_up(x0, y1, pixel, pixel),
        width,
        height,
        gsd_m: pixel * ground_scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_snapped_and_covers_bbox() {
        let g = grid_for_bbox(32636, (100.3, 200.2, 150.9, 260.1), 5.0, 0.5, 1.0).unwrap();
        let (x0, y1) = g.transform.apply(0.0, 0.0);
        assert_eq!((x0, y1), (95.0, 265.5));
        let (x1, y0) = g.transform.apply(g.width as f64, g.height as f64);
        assert!(x1 >= 155.9 && y0 <= 195.2);
        assert_eq!(g.gsd_m, 0.5);
    }
}
