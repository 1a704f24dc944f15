//! Multi-date synthetic series with known truth, for `stagewatch timeline` and batch
//! runs: the watch list of the scenarios imaged on several dates, with per-site vehicle
//! counts per date and optional clouds.
//!
//! The built-in series `withdrawal-series` (five dates, 2026-03-02 to 2026-07-22):
//! - alpha 24, 2, 2, 2, 2: a withdrawal confirmed on the next two dates;
//! - bravo 16 on every date, under a cloud on 2026-05-20: no change, inconclusive then;
//! - charlie 6, 6, 18, 18, 18: a buildup;
//! - delta 20, 2, 20, 20, 20: a withdrawal that reverses on the next date;
//! - foxtrot 8, 8, 8, 0, 0: a withdrawal seen late, followed by one date only (pending);
//! - echo: off the imagery.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scenarios::{base_sites, image};
use super::{render, scene, site_features, world_objects, world_origin, Layout, Scenario, WORLD_EPSG};
use super::{WORLD_H_M, WORLD_W_M};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::raster::crs::{Crs, Transformer};

/// Names of the built-in series.
pub const SERIES: &[&str] = &["withdrawal-series"];

/// Truth of a rendered series.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesTruth {
    pub series: String,
    pub dates: Vec<String>,
    /// Per site: id and the number of vehicles on each date.
    pub sites: Vec<(String, Vec<usize>)>,
}

/// Paths of a rendered series.
#[derive(Debug, Clone)]
pub struct RenderedSeries {
    pub catalog: PathBuf,
    pub sites: PathBuf,
    pub images: Vec<PathBuf>,
    pub truth: SeriesTruth,
}

const DATES: [&str; 5] = [
    "2026-03-02",
    "2026-04-14",
    "2026-05-20",
    "2026-06-18",
    "2026-07-22",
];

fn counts(name: &str) -> Result<Vec<(&'static str, [usize; 5])>> {
    match name {
        "withdrawal-series" => Ok(vec![
            ("alpha", [24, 2, 2, 2, 2]),
            ("bravo", [16, 16, 16, 16, 16]),
            ("charlie", [6, 6, 18, 18, 18]),
            ("delta", [20, 2, 20, 20, 20]),
            ("foxtrot", [8, 8, 8, 0, 0]),
            ("echo", [0, 0, 0, 0, 0]),
        ]),
        _ => Err(Error::Usage(format!(
            "unknown series {name:?}; known: {}",
            SERIES.join(", ")
        ))),
    }
}

/// Renders series `name` into `dir`: `images/<date>.tif`, `catalog.csv` (`path,date`),
/// `sites.geojson` and `truth.json`.
pub fn render_series(name: &str, dir: &Path) -> Result<RenderedSeries> {
    let table = counts(name)?;
    let origin = world_origin()?;
    let bounds = (
        origin.0 - 50.0,
        origin.1 - 50.0,
        origin.0 + WORLD_W_M + 50.0,
        origin.1 + WORLD_H_M + 50.0,
    );
    let sites = base_sites(true);
    let mut images = Vec::new();
    let mut csv = String::from("path,date\n");
    for (i, &date) in DATES.iter().enumerate() {
        let mut spec = image(WORLD_EPSG, 0.5, date, 1 + i as u64);
        if i == 2 {
            // A cloud over bravo (pad centre 330, 310).
            spec.cloud = Some((330.0, 310.0, 60.0));
        }
        let mut day_sites = sites.clone();
        for s in &mut day_sites {
            let n = table
                .iter()
                .find(|(id, _)| *id == s.id)
                .map(|(_, c)| c[i])
                .unwrap_or(0);
            s.before = n;
            s.after = n;
        }
        let sc = Scenario {
            name: "series",
            description: "",
            before: spec,
            after: spec,
            sites: day_sites,
            layout: Layout::default(),
        };
        let world = scene::World::new(world_objects(&sc, origin, true), bounds);
        let rel = format!("images/{date}.tif");
        let path = dir.join(&rel);
        render::write_date(&path, &spec, &world, origin)?;
        csv.push_str(&format!("{rel},{date}\n"));
        images.push(path);
    }
    let catalog = dir.join("catalog.csv");
    write_atomic(&catalog, csv.as_bytes())?;
    let to_wgs = Transformer::new(&Crs::from_epsg(WORLD_EPSG)?, &Crs::wgs84());
    let features = site_features(&sites, origin, Layout::default(), &to_wgs)?;
    let sites_path = dir.join("sites.geojson");
    let fc = serde_json::json!({"type": "FeatureCollection", "features": features});
    write_atomic(
        &sites_path,
        serde_json::to_string_pretty(&fc).expect("json").as_bytes(),
    )?;
    let truth = SeriesTruth {
        series: name.into(),
        dates: DATES.iter().map(|d| d.to_string()).collect(),
        sites: table.iter().map(|(id, c)| (id.to_string(), c.to_vec())).collect(),
    };
    write_atomic(
        &dir.join("truth.json"),
        serde_json::to_string_pretty(&truth).expect("json").as_bytes(),
    )?;
    Ok(RenderedSeries {
        catalog,
        sites: sites_path,
        images,
        truth,
    })
}
