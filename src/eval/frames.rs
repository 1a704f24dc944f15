//! Wrapping a labelled aerial frame (a plain PNG with YOLO boxes) as a georeferenced
//! scene: the PNG becomes a GeoTIFF at a given GSD in a local projected CRS (an
//! arbitrary origin in UTM zone 32N), the boxes become truth points (box centres) and
//! the frame outline becomes the one site. YOLO rows are `class cx cy w h`, normalised
//! to the image size.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::raster::crs::{Crs, Transformer};
use crate::raster::write::{write_geotiff, GeoMeta, Samples};
use crate::raster::GeoTransform;

/// CRS and origin of the local frame (UTM 32N, near Munich; any would do).
pub const FRAME_EPSG: u32 = 32632;
const ORIGIN: (f64, f64) = (690_000.0, 5_336_000.0);

/// Files written by [`wrap_frame`].
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: PathBuf,
    pub sites: PathBuf,
    pub truth: PathBuf,
    pub vehicles: usize,
}

/// Wraps `png` (+ `yolo` labels of the given classes) as a scene in `out`.
pub fn wrap_frame(png: &Path, yolo: &Path, gsd_m: f64, classes: &[u32], out: &Path) -> Result<Frame> {
    crate::fsutil::check_regular(png)?;
    let img = image::open(png).map_err(|e| Error::decode(png, e))?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let gt = GeoTransform::north_up(ORIGIN.0, ORIGIN.1, gsd_m, gsd_m);
    let stem = png
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "frame".into());
    let image_path = out.join(format!("{stem}.tif"));
    let meta = GeoMeta {
        epsg: FRAME_EPSG,
        transform: gt,
        nodata: None,
        datetime: None,
    };
    write_geotiff(&image_path, w, h, 3, Samples::U8(img.as_raw()), &meta)?;
    let to_wgs = Transformer::new(&Crs::from_epsg(FRAME_EPSG)?, &Crs::wgs84());
    let ll = |c: f64, r: f64| -> Result<[f64; 2]> {
        let (x, y) = gt.apply(c, r);
        let (lon, lat) = to_wgs.apply_checked(x, y)?;
        Ok([lon, lat])
    };
    let text = crate::fsutil::read_text_input(yolo, crate::fsutil::limits::GEOJSON)?;
    let mut feats = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let nums: Option<Vec<f64>> = f.iter().map(|x| x.parse::<f64>().ok()).collect();
        let Some(n) = nums.filter(|n| n.len() == 5) else {
            return Err(Error::input(
                yolo,
                format!("line {}: not `class cx cy w h`", i + 1),
            ));
        };
        if !classes.contains(&(n[0] as u32)) {
            continue;
        }
        let p = ll(n[1] * w as f64, n[2] * h as f64)?;
        feats.push(
            json!({"type": "Feature", "properties": {"site_id": stem, "class": n[0] as u32,
            "length_m": n[3].max(n[4]) * gsd_m * w.max(h) as f64},
            "geometry": {"type": "Point", "coordinates": p}}),
        );
    }
    let vehicles = feats.len();
    let truth = out.join(format!("{stem}.truth.geojson"));
    let fc = json!({"type": "FeatureCollection", "features": feats});
    write_atomic(
        &truth,
        serde_json::to_string_pretty(&fc).expect("json").as_bytes(),
    )?;
    let ring = vec![
        ll(0.0, 0.0)?,
        ll(w as f64, 0.0)?,
        ll(w as f64, h as f64)?,
        ll(0.0, h as f64)?,
        ll(0.0, 0.0)?,
    ];
    let sites = out.join(format!("{stem}.sites.geojson"));
    let fc = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"id": stem}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]});
    write_atomic(
        &sites,
        serde_json::to_string_pretty(&fc).expect("json").as_bytes(),
    )?;
    Ok(Frame {
        image: image_path,
        sites,
        truth,
        vehicles,
    })
}
