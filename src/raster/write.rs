//! GeoTIFF writer (pure Rust, `tiff` crate): chunky multi-band Byte, UInt16 or Float32,
//! DEFLATE-compressed, with ModelPixelScale + ModelTiepoint (north-up) or
//! ModelTransformation, a GeoKeyDirectory naming the EPSG code, GDAL_NODATA and the TIFF
//! DateTime tag. Files open in QGIS and GDAL.

use std::io::Cursor;
use std::path::Path;

use tiff::encoder::colortype::ColorType;
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, TiffEncoder, TiffValue};
use tiff::tags::{PhotometricInterpretation, SampleFormat, Tag};

use super::crs::Crs;
use super::tag_value::Val;
use super::GeoTransform;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// Pixel samples, interleaved by pixel (`[row][col][band]`).
pub enum Samples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    F32(&'a [f32]),
}

/// Georeferencing and metadata written with the pixels.
#[derive(Debug, Clone)]
pub struct GeoMeta {
    pub epsg: u32,
    pub transform: GeoTransform,
    pub nodata: Option<f64>,
    /// TIFF DateTime, `YYYY:MM:DD HH:MM:SS`.
    pub datetime: Option<String>,
}

// Three or four Byte bands are tagged RGB (a fourth as an extra sample), so viewers show
// true colour; everything else is BlackIsZero with extra samples.
macro_rules! multiband {
    ($name:ident, $inner:ty, $bits:expr, $fmt:expr, $n:expr) => {
        multiband!($name, $inner, $bits, $fmt, $n, BlackIsZero);
    };
    ($name:ident, $inner:ty, $bits:expr, $fmt:expr, $n:expr, $photo:ident) => {
        struct $name;
        impl ColorType for $name {
            type Inner = $inner;
            const TIFF_VALUE: PhotometricInterpretation = PhotometricInterpretation::$photo;
            const BITS_PER_SAMPLE: &'static [u16] = &[$bits; $n];
            const SAMPLE_FORMAT: &'static [SampleFormat] = &[$fmt; $n];
            fn horizontal_predict(row: &[Self::Inner], result: &mut Vec<Self::Inner>) {
                // No predictor is used by this writer; keep samples as they are.
                result.extend_from_slice(row);
            }
        }
    };
}

multiband!(U8x1, u8, 8, SampleFormat::Uint, 1);
multiband!(U8x2, u8, 8, SampleFormat::Uint, 2);
multiband!(U8x3, u8, 8, SampleFormat::Uint, 3, RGB);
multiband!(U8x4, u8, 8, SampleFormat::Uint, 4, RGB);
multiband!(U16x1, u16, 16, SampleFormat::Uint, 1);
multiband!(U16x2, u16, 16, SampleFormat::Uint, 2);
multiband!(U16x3, u16, 16, SampleFormat::Uint, 3);
multiband!(U16x4, u16, 16, SampleFormat::Uint, 4);
multiband!(F32x1, f32, 32, SampleFormat::IEEEFP, 1);
multiband!(F32x2, f32, 32, SampleFormat::IEEEFP, 2);
multiband!(F32x3, f32, 32, SampleFormat::IEEEFP, 3);
multiband!(F32x4, f32, 32, SampleFormat::IEEEFP, 4);

/// GeoKeyDirectory for an EPSG code: projected (3072) or geographic (2048), PixelIsArea.
fn geokeys(epsg: u32, geographic: bool) -> Result<Vec<u16>> {
    let code = u16::try_from(epsg).map_err(|_| Error::Crs(format!("EPSG:{epsg} does not fit a GeoKey")))?;
    let (model, key) = if geographic { (2, 2048) } else { (1, 3072) };
    Ok(vec![
        1, 1, 0, 3, 1024, 0, 1, model, 1025, 0, 1, 1, key, 0, 1, code,
    ])
}

/// The georeferencing tags of `meta`, for all three writers (strips here, tiles in
/// [`super::write_tiled`], COGs in [`super::cog`]): ModelPixelScale (33550) +
/// ModelTiepoint (33922) for a north-up transform, else ModelTransformation (34264), then
/// the GeoKeyDirectory (34735). The reading side is [`super::georef_tags`].
pub(crate) fn georef_tags(meta: &GeoMeta) -> Result<Vec<(u16, Val)>> {
    let geographic = Crs::from_epsg(meta.epsg)?.is_geographic();
    let g = meta.transform.0;
    let mut tags = if g[2] == 0.0 && g[4] == 0.0 && g[5] < 0.0 {
        vec![
            (33550, Val::Double(vec![g[1], -g[5], 0.0])),
            (33922, Val::Double(vec![0.0, 0.0, 0.0, g[0], g[3], 0.0])),
        ]
    } else {
        let m = vec![
            g[1], g[2], 0.0, g[0], g[4], g[5], 0.0, g[3], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        ];
        vec![(34264, Val::Double(m))]
    };
    tags.push((34735, Val::Short(geokeys(meta.epsg, geographic)?)));
    Ok(tags)
}

fn encode<C: ColorType>(
    width: u32,
    height: u32,
    data: &[C::Inner],
    meta: &GeoMeta,
    band_names: &[&str],
) -> Result<Vec<u8>>
where
    [C::Inner]: TiffValue,
{
    let mut buf = Cursor::new(Vec::new());
    let err = Error::Encode;
    {
        let mut enc = TiffEncoder::new(&mut buf)
            .map_err(err)?
            .with_compression(Compression::Deflate(DeflateLevel::Fast));
        let mut img = enc.new_image::<C>(width, height).map_err(err)?;
        let n = C::BITS_PER_SAMPLE.len();
        let colour = if C::TIFF_VALUE == PhotometricInterpretation::RGB {
            3
        } else {
            1
        };
        let dir = img.encoder();
        if n > colour {
            dir.write_tag(Tag::ExtraSamples, &vec![0u16; n - colour][..])
                .map_err(err)?;
        }
        if !band_names.is_empty() {
            dir.write_tag(Tag::Unknown(42112), gdal_metadata(band_names).as_str())
                .map_err(err)?;
        }
        for (tag, v) in georef_tags(meta)? {
            match v {
                Val::Double(v) => dir.write_tag(Tag::Unknown(tag), &v[..]),
                Val::Short(v) => dir.write_tag(Tag::Unknown(tag), &v[..]),
                Val::Long(v) => dir.write_tag(Tag::Unknown(tag), &v[..]),
                Val::Ascii(v) => dir.write_tag(Tag::Unknown(tag), v.as_str()),
            }
            .map_err(err)?;
        }
        if let Some(nd) = meta.nodata {
            let s = if nd.is_nan() {
                "nan".to_string()
            } else {
                format!("{nd}")
            };
            dir.write_tag(Tag::Unknown(42113), s.as_str()).map_err(err)?;
        }
        if let Some(dt) = &meta.datetime {
            dir.write_tag(Tag::DateTime, dt.as_str()).map_err(err)?;
        }
        dir.write_tag(Tag::Software, concat!("stagewatch ", env!("CARGO_PKG_VERSION")))
            .map_err(err)?;
        img.write_data(data).map_err(err)?;
    }
    Ok(buf.into_inner())
}

/// GDAL_METADATA (TIFF tag 42112) XML giving each band its description, which QGIS and
/// `gdalinfo` show as the band's name. Names are escaped for XML.
pub(crate) fn gdal_metadata(band_names: &[&str]) -> String {
    let mut x = String::from("<GDALMetadata>");
    for (i, n) in band_names.iter().enumerate() {
        let e = n
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        x += &format!("<Item name=\"DESCRIPTION\" sample=\"{i}\" role=\"description\">{e}</Item>");
    }
    x + "</GDALMetadata>"
}

/// Writes a georeferenced GeoTIFF of `bands` (1-4) atomically to `path`.
pub fn write_geotiff(
    path: &Path,
    width: usize,
    height: usize,
    bands: usize,
    samples: Samples<'_>,
    meta: &GeoMeta,
) -> Result<()> {
    write_geotiff_described(path, width, height, bands, samples, meta, &[])
}

/// [`write_geotiff`] with a description per band (`band_names`, empty for none).
pub fn write_geotiff_described(
    path: &Path,
    width: usize,
    height: usize,
    bands: usize,
    samples: Samples<'_>,
    meta: &GeoMeta,
    band_names: &[&str],
) -> Result<()> {
    let (w, h) = (width as u32, height as u32);
    let n = width * height * bands;
    let bad = || Error::Write {
        path: path.to_path_buf(),
        msg: format!("sample count does not match {width}x{height}x{bands}"),
    };
    let bytes = match (samples, bands) {
        (Samples::U8(d), _) if d.len() != n => return Err(bad()),
        (Samples::U16(d), _) if d.len() != n => return Err(bad()),
        (Samples::F32(d), _) if d.len() != n => return Err(bad()),
        (Samples::U8(d), 1) => encode::<U8x1>(w, h, d, meta, band_names)?,
        (Samples::U8(d), 2) => encode::<U8x2>(w, h, d, meta, band_names)?,
        (Samples::U8(d), 3) => encode::<U8x3>(w, h, d, meta, band_names)?,
        (Samples::U8(d), 4) => encode::<U8x4>(w, h, d, meta, band_names)?,
        (Samples::U16(d), 1) => encode::<U16x1>(w, h, d, meta, band_names)?,
        (Samples::U16(d), 2) => encode::<U16x2>(w, h, d, meta, band_names)?,
        (Samples::U16(d), 3) => encode::<U16x3>(w, h, d, meta, band_names)?,
        (Samples::U16(d), 4) => encode::<U16x4>(w, h, d, meta, band_names)?,
        (Samples::F32(d), 1) => encode::<F32x1>(w, h, d, meta, band_names)?,
        (Samples::F32(d), 2) => encode::<F32x2>(w, h, d, meta, band_names)?,
        (Samples::F32(d), 3) => encode::<F32x3>(w, h, d, meta, band_names)?,
        (Samples::F32(d), 4) => encode::<F32x4>(w, h, d, meta, band_names)?,
        _ => {
            return Err(Error::Write {
                path: path.to_path_buf(),
                msg: format!("{bands} bands not supported by the writer"),
            })
        }
    };
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::{geotiff::GeoTiff, read_all, RasterSource};

    #[test]
    fn roundtrip_u16_three_bands_with_nodata() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tif");
        let (w, h) = (5, 4);
        let data: Vec<u16> = (0..w * h * 3).map(|i| i as u16).collect();
        let meta = GeoMeta {
            epsg: 32636,
            transform: GeoTransform::north_up(500000.0, 5300000.0, 0.5, 0.5),
            nodata: Some(0.0),
            datetime: Some("2026:01:02 03:04:05".into()),
        };
        write_geotiff(&p, w, h, 3, Samples::U16(&data), &meta).unwrap();
        let g = GeoTiff::open(&p).unwrap();
        let info = g.info();
        assert_eq!((info.width, info.height, info.bands, info.epsg), (5, 4, 3, 32636));
        assert_eq!(info.transform, meta.transform);
        assert_eq!(info.datetime.as_deref(), Some("2026:01:02 03:04:05"));
        let b = read_all(&g).unwrap();
        assert!(b.data[[0, 0, 0]].is_nan()); // sample 0 is nodata
        assert_eq!(b.data[[1, 0, 0]], 1.0);
        assert_eq!(b.data[[2, 3, 4]], ((3 * 5 + 4) * 3 + 2) as f32);
    }
}
