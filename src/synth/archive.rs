//! A large generated archive for memory and scale tests: a pair of `size` x `size`
//! 3-band Byte tiled DEFLATE GeoTIFFs at 0.5 m in UTM 36N (40000 px = 20 km square) with
//! `n_sites` staging pads on a lattice. The ground is uniform away from the sites (so
//! the files stay a few MB), textured around them (so alignment has something to lock
//! on), each pad holding 24 vehicles before; every other site is empty after.

use std::path::{Path, PathBuf};

use super::scene::hash01;
use crate::error::Result;
use crate::fsutil::write_atomic;
use crate::raster::crs::{Crs, Transformer};
use crate::raster::write::GeoMeta;
use crate::raster::write_tiled::write_tiled_u8;
use crate::raster::GeoTransform;

const GSD_M: f64 = 0.5;
const EPSG: u32 = 32636;
const X0: f64 = 300_000.0;
const Y0: f64 = 5_330_000.0;
/// Half-size of the textured block around a site, pixels.
const BLOCK_PX: i64 = 300;

/// Paths of a rendered archive.
pub struct Archive {
    pub catalog: PathBuf,
    pub sites: PathBuf,
    pub images: Vec<PathBuf>,
}

fn site_centres(size: usize, n: usize) -> Vec<(i64, i64)> {
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    (0..n)
        .map(|k| {
            let (i, j) = (k % cols, k / cols);
            (
                ((i as f64 + 0.5) / cols as f64 * size as f64) as i64,
                ((j as f64 + 0.5) / rows as f64 * size as f64) as i64,
            )
        })
        .collect()
}

/// Pixel value at (x, y) on a date (0 before, 1 after).
fn pixel(x: i64, y: i64, date: u64, centres: &[(i64, i64)]) -> [u8; 3] {
    let bg = [118u8, 112, 100];
    let Some((k, &(cx, cy))) = centres
        .iter()
        .enumerate()
        .find(|(_, &(cx, cy))| (x - cx).abs() <= BLOCK_PX && (y - cy).abs() <= BLOCK_PX)
    else {
        return bg;
    };
    let tex = (hash01(x / 3, y / 3, 11) - 0.5) * 40.0 + (hash01(x, y, 100 + date) - 0.5) * 4.0;
    let (dx, dy) = (x - cx, y - cy);
    // Pad 60 x 40 m; 4 rows x 6 vehicles of 7.2 x 3.3 m (vertical), 10 m apart.
    let mut v = if dx.abs() <= 60 && dy.abs() <= 40 {
        [150.0, 140.0, 125.0]
    } else {
        [bg[0] as f64, bg[1] as f64, bg[2] as f64]
    };
    let present = date == 0 || k % 2 == 0;
    if present && dx.abs() <= 60 && dy.abs() <= 40 {
        let (gx, gy) = (dx + 60, dy + 40);
        let (sx, sy) = (gx % 20, gy % 20);
        let (col, row) = (gx / 20, gy / 20);
        if col < 6 && row < 4 && (4..=10).contains(&sx) && (2..=16).contains(&sy) {
            v = [50.0, 55.0, 45.0];
        } else if col < 6 && row < 4 && (2..=3).contains(&sx) && (4..=18).contains(&sy) {
            v = [80.0, 78.0, 70.0]; // shadow
        }
    }
    v.map(|c| (c + tex).clamp(0.0, 255.0) as u8)
}

/// Writes `images/before.tif`, `images/after.tif`, `catalog.csv` and `sites.geojson`.
pub fn render_archive(dir: &Path, size: usize, n_sites: usize) -> Result<Archive> {
    let centres = site_centres(size, n_sites);
    let tile = 256;
    let mut images = Vec::new();
    for (date, name, day) in [
        (0u64, "before", "2026:03:02 10:00:00"),
        (1, "after", "2026:04:14 10:00:00"),
    ] {
        let meta = GeoMeta {
            epsg: EPSG,
            transform: GeoTransform::north_up(X0, Y0, GSD_M, GSD_M),
            nodata: None,
            datetime: Some(day.into()),
        };
        let path = dir.join(format!("images/{name}.tif"));
        write_tiled_u8(&path, size, size, 3, tile, &meta, |tx, ty, buf| {
            let (x0, y0) = ((tx * tile) as i64, (ty * tile) as i64);
            let near = centres.iter().any(|&(cx, cy)| {
                cx + BLOCK_PX >= x0
                    && cx - BLOCK_PX < x0 + tile as i64
                    && cy + BLOCK_PX >= y0
                    && cy - BLOCK_PX < y0 + tile as i64
            });
            for r in 0..tile {
                for c in 0..tile {
                    let v = if near {
                        pixel(x0 + c as i64, y0 + r as i64, date, &centres)
                    } else {
                        [118, 112, 100]
                    };
                    buf[(r * tile + c) * 3..(r * tile + c) * 3 + 3].copy_from_slice(&v);
                }
            }
        })?;
        images.push(path);
    }
    let to_wgs = Transformer::new(&Crs::from_epsg(EPSG)?, &Crs::wgs84());
    let mut feats = Vec::new();
    for (k, &(cx, cy)) in centres.iter().enumerate() {
        let mut ring = Vec::new();
        for (dx, dy) in [(-70, -50), (70, -50), (70, 50), (-70, 50), (-70, -50)] {
            let (x, y) = (X0 + (cx + dx) as f64 * GSD_M, Y0 - (cy + dy) as f64 * GSD_M);
            let (lon, lat) = to_wgs.apply_checked(x, y)?;
            ring.push([lon, lat]);
        }
        feats.push(
            serde_json::json!({"type": "Feature", "properties": {"id": format!("site{k:02}")},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}),
        );
    }
    let sites = dir.join("sites.geojson");
    let fc = serde_json::json!({"type": "FeatureCollection", "features": feats});
    write_atomic(&sites, fc.to_string().as_bytes())?;
    let catalog = dir.join("catalog.csv");
    write_atomic(
        &catalog,
        b"path,date\nimages/before.tif,2026-03-02\nimages/after.tif,2026-04-14\n",
    )?;
    Ok(Archive {
        catalog,
        sites,
        images,
    })
}
