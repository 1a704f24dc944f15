//! Raster reading through GDAL (`--features gdal`): every format GDAL reads (JPEG2000,
//! JPEG-in-TIFF, NITF, ...). Georeferencing comes from the dataset's geotransform and the
//! EPSG code of its spatial reference (identified by GDAL when the file carries WKT
//! only); nodata from band 1.
//!
//! Gotchas: GDAL band indexes start at 1; `read_as` takes (cols, rows) where ndarray
//! wants (rows, cols); a GDAL dataset is not thread-safe, so each read opens its own
//! handle. JPEG2000 files are opened with `STRICT=NO` (needed by GDAL 3.6 for some
//! Sentinel-2 JP2s).

use std::path::{Path, PathBuf};

use gdal::raster::GdalDataType;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags, Metadata};
use ndarray::{Array3, ArrayViewMut3};

use super::{Block, DataType, GeoTransform, RasterInfo, RasterSource, Window};
use crate::error::{Error, Result};

/// A raster opened through GDAL.
#[derive(Debug)]
pub struct GdalRaster {
    info: RasterInfo,
}

fn open_ds(path: &Path) -> Result<Dataset> {
    let jp2 = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jp2"));
    let opts = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY,
        open_options: if jp2 { Some(&["STRICT=NO"]) } else { None },
        ..Default::default()
    };
    // GDAL would block on a FIFO like any reader: regular files only.
    crate::fsutil::check_regular(path)?;
    Dataset::open_ex(path, opts).map_err(|e| Error::decode(path, e))
}

impl GdalRaster {
    /// Opens `path` and reads its metadata.
    pub fn open(path: &Path) -> Result<GdalRaster> {
        let ds = open_ds(path)?;
        let (width, height) = ds.raster_size();
        let bands = ds.raster_count();
        if width == 0 || height == 0 || bands == 0 {
            return Err(Error::not_raster(path, "no raster bands"));
        }
        let gt = ds
            .geo_transform()
            .map_err(|_| Error::no_georef(path, "no geotransform"))?;
        let transform = GeoTransform(gt);
        if transform.invert().is_none() {
            return Err(Error::no_georef(path, "degenerate geotransform"));
        }
        let mut srs = ds
            .spatial_ref()
            .map_err(|_| Error::no_georef(path, "no coordinate reference system"))?;
        let epsg = match srs.auth_code() {
            Ok(c) => c,
            Err(_) => {
                let _ = srs.auto_identify_epsg();
                srs.auth_code()
                    .map_err(|_| Error::no_georef(path, "its CRS has no EPSG code"))?
            }
        };
        let band = ds.rasterband(1).map_err(|e| Error::decode(path, e))?;
        let data_type = match band.band_type() {
            GdalDataType::UInt8 => DataType::Byte,
            GdalDataType::UInt16 => DataType::UInt16,
            GdalDataType::Int16 => DataType::Int16,
            GdalDataType::UInt32 => DataType::UInt32,
            GdalDataType::Int32 => DataType::Int32,
            GdalDataType::Float32 => DataType::Float32,
            GdalDataType::Float64 => DataType::Float64,
            t => return Err(Error::not_raster(path, format!("unsupported band type {t:?}"))),
        };
        let nodata = band.no_data_value();
        let datetime = ds.metadata_item("TIFFTAG_DATETIME", "");
        Ok(GdalRaster {
            info: RasterInfo {
                path: PathBuf::from(path),
                width,
                height,
                bands,
                data_type,
                epsg: epsg as u32,
                transform,
                nodata,
                datetime,
            },
        })
    }
}

impl RasterSource for GdalRaster {
    fn info(&self) -> &RasterInfo {
        &self.info
    }

    fn read_window(&self, window: Window) -> Result<Block> {
        let info = &self.info;
        window.check_inside(info)?;
        let ds = open_ds(&info.path)?;
        let mut out = super::alloc_block(&info.path, info.bands, window.height, window.width, 0.0)?;
        read_into(&ds, info, window, &mut out.view_mut())?;
        Ok(Block { window, data: out })
    }

    /// One dataset handle for all rows, so GDAL's block cache decodes each tile or strip
    /// once (one-row windows through [`Self::read_window`] each open a handle, with an
    /// empty cache, and decoded a tile row once per sampled row: the report's quicklook
    /// took longer than the whole analysis).
    fn read_rows(&self, rows: &[usize]) -> Result<Array3<f32>> {
        let info = &self.info;
        let ds = open_ds(&info.path)?;
        let mut out = super::alloc_block(&info.path, info.bands, rows.len(), info.width, f32::NAN)?;
        for (i, &r) in rows.iter().enumerate() {
            let window = Window {
                col_off: 0,
                row_off: r,
                width: info.width,
                height: 1,
            };
            window.check_inside(info)?;
            read_into(
                &ds,
                info,
                window,
                &mut out.slice_mut(ndarray::s![.., i..i + 1, ..]),
            )?;
        }
        Ok(out)
    }
}

/// Reads `window` of every band of `ds` into `out` (`[band, row, col]`, the window's
/// size), nodata mapped to NaN.
fn read_into(ds: &Dataset, info: &RasterInfo, window: Window, out: &mut ArrayViewMut3<f32>) -> Result<()> {
    let path = info.path.as_path();
    for b in 0..info.bands {
        let band = ds.rasterband(b + 1).map_err(|e| Error::decode(path, e))?;
        let buf = band
            .read_as::<f64>(
                (window.col_off as isize, window.row_off as isize),
                (window.width, window.height),
                (window.width, window.height),
                None,
            )
            .map_err(|e| Error::decode(path, e))?;
        let nd = band.no_data_value();
        for (o, &v) in out.index_axis_mut(ndarray::Axis(0), b).iter_mut().zip(buf.data()) {
            *o = match nd {
                Some(n) if !n.is_nan() && v == n => f32::NAN,
                _ => v as f32,
            };
        }
    }
    Ok(())
}
