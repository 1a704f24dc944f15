//! GeoTIFF georeferencing tags (GeoTIFF 1.1, OGC 19-008r4): the raster-to-model
//! transform from ModelTransformation (34264) or ModelPixelScale (33550) +
//! ModelTiepoint (33922), and the EPSG code from the GeoKeyDirectory (34735):
//! ProjectedCSTypeGeoKey (3072), else GeographicTypeGeoKey (2048).
//!
//! Gotcha: the GeoKeyDirectory is a flat array of u16 quadruples (key, location, count,
//! value) after a 4-value header; a value whose location is not 0 lives in another tag
//! and is not an EPSG code.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::GeoTransform;
use crate::error::{Error, Result};

const TAG_MODEL_PIXEL_SCALE: u16 = 33550;
const TAG_MODEL_TIEPOINT: u16 = 33922;
const TAG_MODEL_TRANSFORMATION: u16 = 34264;
const TAG_GEO_KEY_DIRECTORY: u16 = 34735;

const KEY_MODEL_TYPE: u16 = 1024;
/// RasterTypeGeoKey: 1 PixelIsArea, 2 PixelIsPoint.
pub const KEY_RASTER_TYPE: u16 = 1025;
const KEY_GEOGRAPHIC_TYPE: u16 = 2048;
const KEY_PROJECTED_CS_TYPE: u16 = 3072;
/// A GeoKey value meaning "user-defined" (no EPSG code).
const USER_DEFINED: u16 = 32767;

fn f64_tag(dec: &mut Decoder<BufReader<File>>, path: &Path, tag: u16) -> Result<Option<Vec<f64>>> {
    match dec.find_tag(Tag::Unknown(tag)) {
        Ok(Some(v)) => Ok(Some(v.into_f64_vec().map_err(|e| Error::decode(path, e))?)),
        Ok(None) => Ok(None),
        Err(e) => Err(Error::decode(path, e)),
    }
}

pub fn read_transform(dec: &mut Decoder<BufReader<File>>, path: &Path) -> Result<GeoTransform> {
    if let Some(m) = f64_tag(dec, path, TAG_MODEL_TRANSFORMATION)? {
        if m.len() < 16 {
            return Err(Error::no_georef(
                path,
                "ModelTransformation has fewer than 16 values",
            ));
        }
        let gt = GeoTransform([m[3], m[0], m[1], m[7], m[4], m[5]]);
        return check_transform(path, gt);
    }
    let scale = f64_tag(dec, path, TAG_MODEL_PIXEL_SCALE)?;
    let ties = f64_tag(dec, path, TAG_MODEL_TIEPOINT)?;
    match (scale, ties) {
        (Some(s), Some(t)) if s.len() >= 2 && t.len() >= 6 => {
            let (i, j, x, y) = (t[0], t[1], t[3], t[4]);
            let gt = GeoTransform([x - i * s[0], s[0], 0.0, y + j * s[1], 0.0, -s[1]]);
            check_transform(path, gt)
        }
        (None, Some(t)) if t.len() >= 12 => Err(Error::unsupported(
            path,
            "georeferencing by ground control points only",
        )),
        _ => Err(Error::no_georef(
            path,
            "no ModelPixelScale+ModelTiepoint or ModelTransformation tags",
        )),
    }
}

fn check_transform(path: &Path, gt: GeoTransform) -> Result<GeoTransform> {
    if gt.0.iter().all(|v| v.is_finite()) && gt.invert().is_some() {
        Ok(gt)
    } else {
        Err(Error::no_georef(path, "degenerate geotransform"))
    }
}

/// The GeoKeyDirectory as (key id, short value) pairs; keys stored elsewhere are skipped.
pub fn read_geokeys(dec: &mut Decoder<BufReader<File>>, path: &Path) -> Result<Vec<(u16, u16)>> {
    let dir: Vec<u16> = match dec.find_tag(Tag::Unknown(TAG_GEO_KEY_DIRECTORY)) {
        Ok(Some(v)) => v.into_u16_vec().map_err(|e| Error::decode(path, e))?,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Err(Error::decode(path, e)),
    };
    if dir.len() < 4 {
        return Err(Error::no_georef(path, "truncated GeoKeyDirectory"));
    }
    let n = dir[3] as usize;
    let mut keys = Vec::with_capacity(n);
    for k in 0..n {
        let base = 4 + 4 * k;
        if base + 4 > dir.len() {
            return Err(Error::no_georef(path, "truncated GeoKeyDirectory"));
        }
        if dir[base + 1] == 0 {
            keys.push((dir[base], dir[base + 3]));
        }
    }
    Ok(keys)
}

pub fn read_epsg(dec: &mut Decoder<BufReader<File>>, path: &Path) -> Result<u32> {
    let keys = read_geokeys(dec, path)?;
    if keys.is_empty() {
        return Err(Error::no_georef(path, "no GeoKeyDirectory (CRS unknown)"));
    }
    let get = |id: u16| keys.iter().find(|(k, _)| *k == id).map(|(_, v)| *v);
    let model = get(KEY_MODEL_TYPE).unwrap_or(0);
    let code = match model {
        1 => get(KEY_PROJECTED_CS_TYPE),
        2 => get(KEY_GEOGRAPHIC_TYPE),
        _ => get(KEY_PROJECTED_CS_TYPE).or(get(KEY_GEOGRAPHIC_TYPE)),
    };
    match code {
        Some(c) if c != USER_DEFINED && c != 0 => Ok(c as u32),
        _ => Err(Error::unsupported(path, "a CRS without an EPSG code")),
    }
}
