//! The header of a GeoTIFF as [`super::geotiff::GeoTiff`] needs it, one question per
//! function: which codec (and whether the photometric interpretation is one we read),
//! which sample type, where the raster sits on the earth (GeoTIFF 1.1, OGC 19-008r4;
//! PixelIsPoint shifted by half a pixel as GDAL does), and GDAL's nodata tag (42113)
//! and the TIFF DateTime. Every refusal names the file.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::decode::{Codec, SampleKind};
use super::georef_tags::{read_epsg, read_geokeys, read_transform, KEY_RASTER_TYPE};
use super::{DataType, GeoTransform};
use crate::error::{Error, Result};

type Dec = Decoder<BufReader<File>>;

/// Whether opening fails without georeferencing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Georef {
    Required,
    Optional,
}

const TAG_GDAL_NODATA: u16 = 42113;

/// The codec of the strips or tiles; refuses what only GDAL reads (JPEG, JPEG2000,
/// ZSTD, WebP, YCbCr).
pub(super) fn codec(dec: &mut Dec, path: &Path) -> Result<Codec> {
    let nr = |e: tiff::TiffError| Error::decode(path, e);
    let compression: u16 = dec.find_tag_unsigned(Tag::Compression).map_err(nr)?.unwrap_or(1);
    let codec = match compression {
        1 => Codec::None,
        5 => Codec::Lzw,
        8 | 32946 => Codec::Deflate,
        32773 => Codec::PackBits,
        6 | 7 => return Err(Error::unsupported(path, "JPEG-in-TIFF compression")),
        34712 | 33003 | 33005 => return Err(Error::unsupported(path, "JPEG2000 compression")),
        50000 => return Err(Error::unsupported(path, "ZSTD compression")),
        50001 => return Err(Error::unsupported(path, "WebP compression")),
        c => return Err(Error::unsupported(path, format!("TIFF compression {c}"))),
    };
    let photometric: u16 = dec
        .find_tag_unsigned(Tag::PhotometricInterpretation)
        .map_err(nr)?
        .unwrap_or(1);
    match photometric {
        0..=5 => {}
        6 => return Err(Error::unsupported(path, "YCbCr photometric interpretation")),
        p => {
            return Err(Error::unsupported(
                path,
                format!("photometric interpretation {p}"),
            ))
        }
    }
    Ok(codec)
}

/// Samples per pixel, their data type and how they are stored.
pub(super) fn sample_type(dec: &mut Dec, path: &Path) -> Result<(usize, DataType, SampleKind)> {
    let nr = |e: tiff::TiffError| Error::decode(path, e);
    let samples: usize = dec
        .find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
        .map_err(nr)?
        .unwrap_or(1) as usize;
    if samples == 0 || samples > 256 {
        return Err(Error::not_raster(path, format!("{samples} samples per pixel")));
    }
    let bits: Vec<u16> = match dec.find_tag(Tag::BitsPerSample).map_err(nr)? {
        Some(v) => v.into_u16_vec().map_err(nr)?,
        None => vec![1],
    };
    let bit = bits[0];
    if bits.iter().any(|&b| b != bit) {
        return Err(Error::unsupported(path, "bands of different bit depths"));
    }
    let sample_format: u16 = match dec.find_tag(Tag::SampleFormat).map_err(nr)? {
        Some(v) => v.into_u16_vec().map_err(nr)?.first().copied().unwrap_or(1),
        None => 1,
    };
    let (data_type, kind) = match (sample_format, bit) {
        (1, 8) => (DataType::Byte, SampleKind::U8),
        (2, 8) => (DataType::Int8, SampleKind::I8),
        (1, 16) => (DataType::UInt16, SampleKind::U16),
        (2, 16) => (DataType::Int16, SampleKind::I16),
        (1, 32) => (DataType::UInt32, SampleKind::U32),
        (2, 32) => (DataType::Int32, SampleKind::I32),
        (3, 32) => (DataType::Float32, SampleKind::F32),
        (3, 64) => (DataType::Float64, SampleKind::F64),
        (f, b) => {
            return Err(Error::unsupported(
                path,
                format!("{b}-bit samples of sample format {f}"),
            ))
        }
    };
    Ok((samples, data_type, kind))
}

/// The geotransform (pixel corner convention) and EPSG code; with [`Georef::Optional`]
/// a file without them gets the identity and code 0.
pub(super) fn georeferencing(dec: &mut Dec, path: &Path, georef: Georef) -> Result<(GeoTransform, u32)> {
    let (transform, epsg) = match (read_transform(dec, path), read_epsg(dec, path), georef) {
        (Ok(t), Ok(e), _) => (t, e),
        (Err(e), _, Georef::Required) | (_, Err(e), Georef::Required) => return Err(e),
        (_, _, Georef::Optional) => (GeoTransform::north_up(0.0, 0.0, 1.0, 1.0), 0),
    };
    let transform = if read_geokeys(dec, path)?
        .iter()
        .any(|&(k, v)| k == KEY_RASTER_TYPE && v == 2)
    {
        // PixelIsPoint: the tiepoint names a pixel centre; shift to the corner.
        let g = transform.0;
        GeoTransform([
            g[0] - 0.5 * g[1] - 0.5 * g[2],
            g[1],
            g[2],
            g[3] - 0.5 * g[4] - 0.5 * g[5],
            g[4],
            g[5],
        ])
    } else {
        transform
    };
    Ok((transform, epsg))
}

/// GDAL's nodata value (tag 42113) and the TIFF DateTime, when present.
pub(super) fn nodata_and_datetime(dec: &mut Dec, path: &Path) -> Result<(Option<f64>, Option<String>)> {
    let nr = |e: tiff::TiffError| Error::decode(path, e);
    let nodata = match dec.find_tag(Tag::Unknown(TAG_GDAL_NODATA)).map_err(nr)? {
        Some(v) => {
            let s = v.into_string().map_err(nr)?;
            let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            Some(
                parse_nodata(s)
                    .ok_or_else(|| Error::not_raster(path, format!("unreadable GDAL_NODATA value {s:?}")))?,
            )
        }
        None => None,
    };
    let datetime = match dec.find_tag(Tag::DateTime) {
        Ok(Some(v)) => v.into_string().ok().map(|s| s.trim_matches('\0').to_string()),
        _ => None,
    };
    Ok((nodata, datetime))
}

/// Parses a GDAL_NODATA string ("0", "-3.4e+38", "nan").
pub fn parse_nodata(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("nan") || t.eq_ignore_ascii_case("-nan") {
        return Some(f64::NAN);
    }
    t.parse::<f64>().ok()
}
