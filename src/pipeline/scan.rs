//! `stagewatch scan`: whole-scene change screening with the fused hot path
//! ([`crate::fast`]). Two Byte GeoTIFFs on the same grid (same CRS, geotransform and
//! size: typically an archive already orthorectified to one grid) are streamed strip by
//! strip; every blob of pixels whose absolute difference exceeds the threshold, after a
//! 3x3 opening, with an area in the vehicle range, becomes a polygon (its bounding box)
//! in `changes.geojson`, in lon/lat (RFC 7946), so that QGIS opens it over the images.
//!
//! This is triage, not evidence: no co-registration, radiometric normalisation or
//! cloud masking is done (use `compare` on the sites it points to). Pairs on different
//! grids are refused, naming the file, rather than compared pixel by pixel.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Error, Result};
use crate::fast::tiff::{changed_blobs_files, TiffPair};
use crate::fast::{ChangedBlob, HotParams};
use crate::raster::crs::{Crs, Transformer};
use crate::raster::geotiff::GeoTiff;
use crate::raster::RasterSource;

/// What `scan` needs.
#[derive(Debug, Clone)]
pub struct ScanArgs {
    pub before: PathBuf,
    pub after: PathBuf,
    /// The GeoJSON written.
    pub out: PathBuf,
    /// Band compared, 1-based.
    pub band: usize,
    /// Changed when |after - before| exceeds this many digital numbers.
    pub threshold: u8,
    pub min_area_m2: f64,
    pub max_area_m2: f64,
}

/// What `scan` found.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub blobs: usize,
    pub pixels: usize,
}

/// Checks that both files share one grid; the error names the after file.
fn same_grid(before: &Path, after: &Path) -> Result<(GeoTiff, GeoTiff, f64)> {
    let (b, a) = (GeoTiff::open(before)?, GeoTiff::open(after)?);
    let (ib, ia) = (b.info(), a.info());
    let close = ib
        .transform
        .0
        .iter()
        .zip(&ia.transform.0)
        .all(|(x, y)| (x - y).abs() <= 1e-6 * x.abs().max(1.0));
    let differs = if ib.epsg != ia.epsg {
        Some(format!("CRS EPSG:{} vs EPSG:{}", ia.epsg, ib.epsg))
    } else if (ib.width, ib.height) != (ia.width, ia.height) {
        Some(format!(
            "size {}x{} vs {}x{}",
            ia.width, ia.height, ib.width, ib.height
        ))
    } else if !close {
        Some(format!(
            "geotransform {:?} vs {:?}",
            ia.transform.0, ib.transform.0
        ))
    } else {
        None
    };
    if let Some(d) = differs {
        return Err(Error::input(
            after,
            format!(
                "not on the grid of {} ({d}); scan needs both dates on one grid, compare resamples",
                before.display()
            ),
        ));
    }
    if Crs::from_epsg(ib.epsg)?.is_geographic() {
        return Err(Error::input(
            before,
            "scan needs a projected CRS (metres) to size blobs",
        ));
    }
    let (px, py) = ib.transform.pixel_size();
    Ok((b, a, px * py))
}

/// Renders blobs as lon/lat bounding-box polygons.
pub fn changes_geojson(blobs: &[ChangedBlob], tiff: &GeoTiff, pixel_area_m2: f64) -> Result<String> {
    let info = tiff.info();
    let tr = Transformer::new(&Crs::from_epsg(info.epsg)?, &Crs::wgs84());
    let t = &info.transform;
    let lonlat = |c: f64, r: f64| -> Result<[f64; 2]> {
        let (x, y) = t.apply(c, r);
        let (lon, lat) = tr.apply_checked(x, y)?;
        Ok([(lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7])
    };
    let mut features = Vec::with_capacity(blobs.len());
    for b in blobs {
        let (x0, y0, x1, y1) = (b.x0 as f64, b.y0 as f64, b.x1 as f64 + 1.0, b.y1 as f64 + 1.0);
        let ring = [
            lonlat(x0, y0)?,
            lonlat(x0, y1)?,
            lonlat(x1, y1)?,
            lonlat(x1, y0)?,
            lonlat(x0, y0)?,
        ];
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {
                "area_px": b.area,
                "area_m2": (b.area as f64 * pixel_area_m2 * 100.0).round() / 100.0,
                "centroid": lonlat(b.cx + 0.5, b.cy + 0.5)?,
                "bbox_px": [b.x0, b.y0, b.x1, b.y1],
            }
        }));
    }
    let mut s = serde_json::to_string_pretty(&json!({"type": "FeatureCollection", "features": features}))
        .expect("geojson serialises");
    s.push('\n');
    Ok(s)
}

/// Runs a scan on the current rayon pool and writes `args.out` atomically.
pub fn run_scan(args: &ScanArgs) -> Result<ScanOutcome> {
    let (b, a, pixel_area_m2) = same_grid(&args.before, &args.after)?;
    let pair = TiffPair::from_opened(b, a, args.band)?;
    if !(args.min_area_m2 >= 0.0 && args.max_area_m2 >= args.min_area_m2) {
        return Err(Error::Usage(format!(
            "--min-area-m2 {} and --max-area-m2 {} do not make a range",
            args.min_area_m2, args.max_area_m2
        )));
    }
    let p = HotParams {
        threshold: args.threshold,
        min_area_px: (args.min_area_m2 / pixel_area_m2).ceil() as u32,
        max_area_px: (args.max_area_m2 / pixel_area_m2).floor().min(u32::MAX as f64) as u32,
        ..HotParams::default()
    };
    let blobs = changed_blobs_files(&pair, &p)?;
    let text = changes_geojson(&blobs, pair.before(), pixel_area_m2)?;
    crate::fsutil::write_atomic(&args.out, text.as_bytes())?;
    let (w, h) = pair.size();
    Ok(ScanOutcome {
        blobs: blobs.len(),
        pixels: w * h,
    })
}
