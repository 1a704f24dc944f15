//! `detect`: vehicle counts on a single date. The same grid, masks and detector as
//! `compare`, without the steps that need two dates (co-registration, radiometric
//! normalisation, cloud detection by comparison): unobserved area comes from nodata,
//! saturation and an optional mask raster only.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::site::{date_on_grid, site_grid, visible, Dated};
use super::{crs_of, image_input};
use crate::detector::detect;
use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, write_atomic};
use crate::raster::crs::{Crs, Transformer};
use crate::raster::{open, Backend, RasterSource};
use crate::report::geojson::detections_geojson;
use crate::report::{Detection, FileInput, ImageInput, SiteStatus, Tool, SCHEMA_VERSION};
use crate::settings::Settings;
use crate::sites::{load_sites, rasterize, Site};

/// `report.json` of `detect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectReport {
    pub schema_version: u32,
    pub tool: Tool,
    pub inputs: DetectInputs,
    pub parameters: crate::blobs::DetectParams,
    pub sites: Vec<DetectSite>,
}

/// Inputs of `detect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectInputs {
    pub image: ImageInput,
    pub sites: FileInput,
}

/// One site of `detect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectSite {
    pub id: String,
    pub name: Option<String>,
    pub status: SiteStatus,
    pub error: Option<String>,
    pub observed_fraction: f64,
    /// None when nothing could be counted: nothing of the site observed (see `status`)
    /// or the imagery too coarse (see `flags`).
    pub vehicles: Option<u32>,
    /// `gsd_too_coarse`: the image cannot resolve the vehicle class; nothing counted.
    #[serde(default)]
    pub flags: Vec<String>,
}

/// What `detect` needs.
#[derive(Debug, Clone)]
pub struct DetectArgs {
    pub image: PathBuf,
    pub sites: PathBuf,
    pub out: PathBuf,
    pub date: Option<String>,
    pub mask: Option<PathBuf>,
    pub settings: Settings,
    pub backend: Backend,
}

fn one_site(
    site: &Site,
    d: &Dated,
    s: &Settings,
    date: &Option<String>,
) -> Result<(DetectSite, Vec<Detection>)> {
    let (grid, grid_crs, polys, need_mib) = site_grid(site, d, d, s)?;
    let _memory = crate::memory::budget().acquire(need_mib)?;
    let inside = rasterize(&polys, &grid);
    let n_inside = inside.iter().filter(|&&b| b).count();
    if n_inside == 0 {
        return Err(Error::Site(format!(
            "site polygon covers no pixel of its {:.2} m grid",
            grid.gsd_m
        )));
    }
    let g = date_on_grid(d, &grid, &grid_crs)?;
    let observed: Vec<bool> = g.clear.iter().zip(&inside).map(|(c, i)| *c && *i).collect();
    let n_obs = observed.iter().filter(|&&b| b).count();
    let frac = n_obs as f64 / n_inside as f64;
    let status = if n_obs == 0 {
        SiteStatus::NoCoverage
    } else if frac >= s.full_coverage_fraction {
        SiteStatus::Ok
    } else {
        SiteStatus::PartialCoverage
    };
    let mut dets = Vec::new();
    let coarse = grid.gsd_m > s.detect.vehicle_class.max_count_gsd_m();
    if n_obs > 0 && !coarse {
        let to_wgs = Transformer::new(&grid_crs, &Crs::wgs84());
        for b in detect(&visible(&g.data), &g.clear, grid.gsd_m, &s.detect) {
            let (c, r) = (b.col.floor() as usize, b.row.floor() as usize);
            if c >= grid.width || r >= grid.height || !observed[r * grid.width + c] {
                continue;
            }
            dets.push(Detection::from_blob(&b, &grid, &to_wgs, &site.id, "image", date)?);
        }
    }
    let rep = DetectSite {
        id: site.id.clone(),
        name: site.name.clone(),
        status,
        error: None,
        observed_fraction: frac,
        // Nothing observed (off the imagery, all cloud) or too coarse: no count, not 0.
        vehicles: (!coarse && n_obs > 0).then_some(dets.len() as u32),
        flags: if coarse {
            vec!["gsd_too_coarse".into()]
        } else {
            Vec::new()
        },
    };
    Ok((rep, dets))
}

/// Runs `detect`, writes `report.json` and `detections.geojson`; returns the report and
/// the number of sites that failed.
pub fn run_detect(args: &DetectArgs) -> Result<(DetectReport, usize)> {
    crate::fsutil::check_out_dir(&args.out)?;
    for p in [&args.image, &args.sites] {
        crate::fsutil::check_regular(p)?;
    }
    let src = open(&args.image, args.backend)?;
    let crs = crs_of(src.as_ref())?;
    let sites = load_sites(&args.sites)?;
    let mask = match &args.mask {
        Some(p) => {
            let m = open(p, args.backend)?;
            let c = crs_of(m.as_ref())?;
            Some((m, c))
        }
        None => None,
    };
    let image = image_input(src.as_ref(), &crs, args.date.clone(), None)?;
    let d = Dated {
        src: src.as_ref(),
        crs,
        mask: mask
            .as_ref()
            .map(|(m, c)| (m.as_ref() as &dyn RasterSource, c.clone())),
    };
    let need = |site: &Site| site_grid(site, &d, &d, &args.settings).map_or(0, |g| g.3);
    let results: Vec<_> = crate::memory::map_sites(&sites, need, |site| {
        one_site(site, &d, &args.settings, &image.date)
    });
    let mut out_sites = Vec::new();
    let mut dets = Vec::new();
    let mut errors = 0;
    for (site, r) in sites.iter().zip(results) {
        match r {
            Ok((rep, mut d)) => {
                out_sites.push(rep);
                dets.append(&mut d);
            }
            Err(e) => {
                errors += 1;
                out_sites.push(DetectSite {
                    id: site.id.clone(),
                    name: site.name.clone(),
                    status: SiteStatus::Error,
                    error: Some(crate::error::one_line(&e.to_string())),
                    observed_fraction: 0.0,
                    vehicles: None,
                    flags: Vec::new(),
                });
            }
        }
    }
    let report = DetectReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool::this(),
        inputs: DetectInputs {
            image,
            sites: FileInput {
                path: args.sites.display().to_string(),
                sha256: sha256_file(&args.sites)?,
            },
        },
        parameters: args.settings.detect.clone(),
        sites: out_sites,
    };
    let mut json = serde_json::to_string_pretty(&report).expect("report serialises");
    json.push('\n');
    write_atomic(&args.out.join("report.json"), json.as_bytes())?;
    write_atomic(
        &args.out.join("detections.geojson"),
        detections_geojson(&dets).as_bytes(),
    )?;
    Ok((report, errors))
}
