//! A raster held in memory: the [`RasterSource`] tests hand to the pipeline instead of a
//! file, and a way to analyse pixels that came from elsewhere (a decoded PNG, a
//! generator). Windows are copied out of the array exactly as a file reader returns
//! them, nodata mapped to NaN.

use ndarray::{s, Array3};

use super::{Block, DataType, GeoTransform, RasterInfo, RasterSource, Window};
use crate::error::Result;

/// Pixels `[band, row, col]` with their georeferencing.
pub struct InMemory {
    info: RasterInfo,
    data: Array3<f32>,
}

impl InMemory {
    /// A raster of `data` in CRS `epsg` placed by `transform`; `name` stands in for the
    /// path in messages and reports.
    pub fn new(
        name: &str,
        data: Array3<f32>,
        epsg: u32,
        transform: GeoTransform,
        data_type: DataType,
    ) -> InMemory {
        let (bands, height, width) = data.dim();
        InMemory {
            info: RasterInfo {
                path: name.into(),
                width,
                height,
                bands,
                data_type,
                epsg,
                transform,
                nodata: None,
                datetime: None,
            },
            data,
        }
    }

    /// Declares `v` as nodata (read back as NaN).
    pub fn with_nodata(mut self, v: f64) -> InMemory {
        self.info.nodata = Some(v);
        self
    }
}

impl RasterSource for InMemory {
    fn info(&self) -> &RasterInfo {
        &self.info
    }

    fn read_window(&self, w: Window) -> Result<Block> {
        w.check_inside(&self.info)?;
        let mut data = self
            .data
            .slice(s![
                ..,
                w.row_off..w.row_off + w.height,
                w.col_off..w.col_off + w.width
            ])
            .to_owned();
        if let Some(nd) = self.info.nodata {
            data.mapv_inplace(|v| if v as f64 == nd { f32::NAN } else { v });
        }
        Ok(Block { window: w, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_copied_and_nodata_is_nan() {
        let data = Array3::from_shape_fn((2, 4, 5), |(b, r, c)| (b * 100 + r * 10 + c) as f32);
        let src = InMemory::new(
            "mem",
            data,
            32636,
            GeoTransform::north_up(0.0, 0.0, 1.0, 1.0),
            DataType::Float32,
        )
        .with_nodata(12.0);
        let b = src
            .read_window(Window {
                col_off: 1,
                row_off: 1,
                width: 3,
                height: 2,
            })
            .unwrap();
        assert_eq!(b.data.dim(), (2, 2, 3));
        assert_eq!(b.data[[0, 0, 0]], 11.0);
        assert!(b.data[[0, 0, 1]].is_nan());
        assert_eq!(b.data[[1, 1, 2]], 123.0);
        let outside = Window {
            col_off: 4,
            row_off: 0,
            width: 2,
            height: 1,
        };
        assert!(src.read_window(outside).is_err());
    }
}
