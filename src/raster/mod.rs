//! Rasters: georeferencing, windows and the reader abstraction.
//!
//! A raster is described by [`RasterInfo`] (size, bands, data type, CRS as an EPSG code,
//! an affine [`GeoTransform`] in GDAL's convention, nodata) and read window by window
//! through [`RasterSource::read_window`], which returns `f32` samples with nodata mapped
//! to NaN. Only the strips/tiles that intersect the window are decoded.
//!
//! Gotchas, written where they bite: band indexes in reports start at 1 like GDAL's, but
//! the arrays here are 0-based `[band, row, col]`; a geotransform maps the *corner* of a
//! pixel (PixelIsArea), so the centre of pixel (c, r) is at (c + 0.5, r + 0.5).

pub mod cog;
pub mod crs;
pub mod decode;
#[cfg(feature = "gdal")]
pub mod gdal_reader;
pub mod georef_tags;
pub mod geotiff;
mod geotiff_header;
pub mod grid;
pub mod ifd_check;
pub mod in_memory;
pub mod resample;
mod tag_value;
pub mod write;
pub mod write_tiled;

use std::path::{Path, PathBuf};

use ndarray::Array3;

use crate::error::Result;

/// Affine pixel-to-world transform in GDAL order:
/// `x = c0 + col*c1 + row*c2`, `y = c3 + col*c4 + row*c5`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// North-up transform with square or rectangular pixels.
    pub fn north_up(origin_x: f64, origin_y: f64, pixel_w: f64, pixel_h: f64) -> Self {
        GeoTransform([origin_x, pixel_w, 0.0, origin_y, 0.0, -pixel_h])
    }

    /// World coordinates of fractional pixel position (col, row) (corner convention).
    ///
    /// ```
    /// use stagewatch::raster::GeoTransform;
    /// // 0.5 m pixels, upper-left corner at (500000, 5300000).
    /// let gt = GeoTransform::north_up(500_000.0, 5_300_000.0, 0.5, 0.5);
    /// // The centre of pixel (col 2, row 4) is half a pixel in from its corner.
    /// assert_eq!(gt.apply(2.5, 4.5), (500_001.25, 5_299_997.75));
    /// let inv = gt.invert().unwrap();
    /// assert_eq!(inv.apply(500_001.25, 5_299_997.75), (2.5, 4.5));
    /// ```
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (g[0] + col * g[1] + row * g[2], g[3] + col * g[4] + row * g[5])
    }

    /// Inverse transform; `None` when the matrix is singular.
    pub fn invert(&self) -> Option<GeoTransform> {
        let g = &self.0;
        let det = g[1] * g[5] - g[2] * g[4];
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let inv_det = 1.0 / det;
        let a = g[5] * inv_det;
        let b = -g[2] * inv_det;
        let d = -g[4] * inv_det;
        let e = g[1] * inv_det;
        Some(GeoTransform([
            -g[0] * a - g[3] * b,
            a,
            b,
            -g[0] * d - g[3] * e,
            d,
            e,
        ]))
    }

    /// Pixel size along x and y in CRS units (lengths of the column and row vectors).
    pub fn pixel_size(&self) -> (f64, f64) {
        let g = &self.0;
        (g[1].hypot(g[4]), g[2].hypot(g[5]))
    }
}

/// Storage sample type of a raster band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    Byte,
    Int8,
    UInt16,
    Int16,
    UInt32,
    Int32,
    Float32,
    Float64,
}

/// Everything known about a raster before reading pixels.
#[derive(Debug, Clone)]
pub struct RasterInfo {
    pub path: PathBuf,
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub data_type: DataType,
    /// EPSG code of the raster's CRS.
    pub epsg: u32,
    pub transform: GeoTransform,
    pub nodata: Option<f64>,
    /// Acquisition date/time from the file's metadata when present (TIFF DateTime).
    pub datetime: Option<String>,
}

/// A rectangle of pixels: columns `col_off..col_off+width`, rows `row_off..row_off+height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub col_off: usize,
    pub row_off: usize,
    pub width: usize,
    pub height: usize,
}

impl Window {
    /// The intersection of the fractional pixel box with a `width` x `height` raster,
    /// expanded to whole pixels plus `pad`; `None` when empty.
    pub fn covering(
        min_col: f64,
        min_row: f64,
        max_col: f64,
        max_row: f64,
        pad: usize,
        width: usize,
        height: usize,
    ) -> Option<Window> {
        if !(min_col.is_finite() && min_row.is_finite() && max_col.is_finite() && max_row.is_finite()) {
            return None;
        }
        let c0 = (min_col.floor() as i64 - pad as i64).max(0);
        let r0 = (min_row.floor() as i64 - pad as i64).max(0);
        let c1 = (max_col.ceil() as i64 + pad as i64).min(width as i64);
        let r1 = (max_row.ceil() as i64 + pad as i64).min(height as i64);
        if c1 <= c0 || r1 <= r0 {
            return None;
        }
        Some(Window {
            col_off: c0 as usize,
            row_off: r0 as usize,
            width: (c1 - c0) as usize,
            height: (r1 - r0) as usize,
        })
    }
}

impl Window {
    /// An error unless the window is non-empty and lies inside `info`'s raster.
    pub fn check_inside(&self, info: &RasterInfo) -> Result<()> {
        if self.width == 0
            || self.height == 0
            || self.col_off + self.width > info.width
            || self.row_off + self.height > info.height
        {
            return Err(crate::error::Error::input(
                &info.path,
                format!(
                    "window {self:?} outside the {}x{} raster",
                    info.width, info.height
                ),
            ));
        }
        Ok(())
    }
}

/// Pixels of a window, `[band, row, col]`, nodata as NaN, with the window they came from.
#[derive(Debug, Clone)]
pub struct Block {
    pub window: Window,
    pub data: Array3<f32>,
}

/// A georeferenced raster that can be read window by window, from several threads.
pub trait RasterSource: Send + Sync {
    /// Size, bands, CRS, transform and nodata.
    fn info(&self) -> &RasterInfo;
    /// Reads `window` (which must lie inside the raster), nodata mapped to NaN.
    fn read_window(&self, window: Window) -> Result<Block>;

    /// Reads whole rows (ascending, distinct), `[band, i, col]` for `rows[i]`: a sparse
    /// sample of the raster, e.g. for a quicklook. The default reads one-row windows; a
    /// reader that would decode a chunk once per row overrides it.
    fn read_rows(&self, rows: &[usize]) -> Result<Array3<f32>> {
        let info = self.info();
        let mut out = Array3::from_elem((info.bands, rows.len(), info.width), f32::NAN);
        for (i, &r) in rows.iter().enumerate() {
            let b = self.read_window(Window {
                col_off: 0,
                row_off: r,
                width: info.width,
                height: 1,
            })?;
            out.slice_mut(ndarray::s![.., i, ..])
                .assign(&b.data.slice(ndarray::s![.., 0, ..]));
        }
        Ok(out)
    }
}

/// Which implementation opens rasters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The pure-Rust GeoTIFF reader (always available).
    PureRust,
    /// GDAL, when built with `--features gdal`.
    Gdal,
}

impl Backend {
    /// GDAL when compiled in, the pure-Rust reader otherwise.
    pub fn default_for_build() -> Backend {
        if cfg!(feature = "gdal") {
            Backend::Gdal
        } else {
            Backend::PureRust
        }
    }
}

/// Opens a raster with the chosen backend.
/// A `bands x height x width` block filled with `fill`, or an error naming `path` when
/// it would not fit the memory budget ([`crate::memory::budget`]) or the allocation
/// fails: a huge (or sparse) raster gives a message, never an abort.
pub fn alloc_block(path: &Path, bands: usize, height: usize, width: usize, fill: f32) -> Result<Array3<f32>> {
    let budget_mib = crate::memory::budget().total_mib();
    let n = bands.checked_mul(height).and_then(|v| v.checked_mul(width));
    let too_big = |need: String| {
        crate::error::Error::Memory(format!(
            "{}: reading {width}x{height} pixels of {bands} band(s) needs {need}, over the memory budget of {}; read a smaller window or raise --max-site-mib",
            path.display(),
            crate::memory::show_mib(budget_mib)
        ))
    };
    let n = match n {
        Some(n) if (n as u64).saturating_mul(4) >> 20 <= budget_mib => n,
        Some(n) => {
            return Err(too_big(crate::memory::show_mib(
                (n as u64).saturating_mul(4) >> 20,
            )))
        }
        None => return Err(too_big("more than the address space".into())),
    };
    let mut v: Vec<f32> = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| too_big(crate::memory::show_mib((n as u64 * 4) >> 20)))?;
    v.resize(n, fill);
    Ok(Array3::from_shape_vec((bands, height, width), v).expect("shape matches length"))
}

pub fn open(path: &Path, backend: Backend) -> Result<Box<dyn RasterSource>> {
    match backend {
        Backend::PureRust => Ok(Box::new(geotiff::GeoTiff::open(path)?)),
        #[cfg(feature = "gdal")]
        Backend::Gdal => Ok(Box::new(gdal_reader::GdalRaster::open(path)?)),
        #[cfg(not(feature = "gdal"))]
        Backend::Gdal => Err(crate::error::Error::Usage(
            "this build has no GDAL support; rebuild with `--features gdal`".into(),
        )),
    }
}

/// Checks `path`'s magic bytes without decoding it (cheap enough for every image of a
/// catalogue): a regular file in a format `backend` reads. A truncated or corrupt TIFF
/// passes (its jobs fail one by one); a text file does not.
pub fn sniff(path: &Path, backend: Backend) -> Result<()> {
    match geotiff::sniff_format(path) {
        Err(crate::error::Error::Unsupported { .. }) if backend == Backend::Gdal => Ok(()),
        other => other,
    }
}

/// Reads a whole raster (small files and tests only).
pub fn read_all(src: &dyn RasterSource) -> Result<Block> {
    let info = src.info();
    src.read_window(Window {
        col_off: 0,
        row_off: 0,
        width: info.width,
        height: info.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geotransform_roundtrip_rotated() {
        let gt = GeoTransform([1000.0, 0.5, 0.1, 2000.0, 0.2, -0.5]);
        let inv = gt.invert().unwrap();
        let (x, y) = gt.apply(12.25, 7.5);
        let (c, r) = inv.apply(x, y);
        assert!((c - 12.25).abs() < 1e-9 && (r - 7.5).abs() < 1e-9);
    }

    #[test]
    fn window_clips_and_pads() {
        let w = Window::covering(-3.0, 2.2, 5.5, 9.0, 1, 8, 8).unwrap();
        assert_eq!(
            w,
            Window {
                col_off: 0,
                row_off: 1,
                width: 7,
                height: 7
            }
        );
        assert!(Window::covering(10.0, 10.0, 12.0, 12.0, 0, 8, 8).is_none());
    }
}
