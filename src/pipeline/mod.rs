//! `compare`: two dates over a watch list, end to end.
//!
//! Input errors (unreadable raster, no georeferencing, bad GeoJSON) stop the run before
//! any output is written. Per-site problems never stop it: the site is reported with
//! status `error` and the others finish. Sites run in parallel with rayon and results are
//! collected in input order; every output file is written atomically.

pub mod analyse;
pub mod detect;
pub mod scan;
pub mod site;
pub mod timeline;

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::dates::normalise_date;
use crate::error::{Error, Result};
use crate::evidence::{evaluate, SiteInput};
use crate::fsutil::{sha256_file, write_atomic};
use crate::raster::cog::write_cog_f32;
use crate::raster::crs::{Crs, Transformer};
use crate::raster::grid::raster_gsd_m;
use crate::raster::write::GeoMeta;
use crate::raster::{open, Backend, RasterSource};
use crate::report::csv::sites_csv;
use crate::report::geojson::detections_geojson;
use crate::report::{
    to_json, Detection, FileInput, ImageInput, Inputs, Parameters, Report, SiteReport, SiteStatus, Tool,
    SCHEMA_VERSION,
};
use crate::settings::Settings;
use crate::sites::{file_stems, load_sites, Site};
use site::{process_site, Dated, SiteOutcome};

/// The backend named in a parameters block.
pub fn backend_named(reader: &str) -> Backend {
    if reader == "gdal" {
        Backend::Gdal
    } else {
        Backend::PureRust
    }
}

/// What `compare` needs.
#[derive(Debug, Clone)]
pub struct CompareArgs {
    pub before: PathBuf,
    pub after: PathBuf,
    pub sites: PathBuf,
    pub out: PathBuf,
    pub before_date: Option<String>,
    pub after_date: Option<String>,
    /// Optional mask rasters (nonzero = not observed) for each date.
    pub before_mask: Option<PathBuf>,
    pub after_mask: Option<PathBuf>,
    pub settings: Settings,
    pub backend: Backend,
    pub progress: bool,
    /// Write `report.html` (the chips are written either way).
    pub html: Html,
}

/// Whether `report.html` is written beside `report.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Html {
    Write,
    Skip,
}

/// The result of a run: the report and how many sites failed.
#[derive(Debug, Clone)]
pub struct CompareOutcome {
    pub report: Report,
    pub site_errors: usize,
}

pub(crate) fn crs_of(src: &dyn RasterSource) -> Result<Crs> {
    let info = src.info();
    Crs::from_epsg(info.epsg).map_err(|e| Error::unsupported(&info.path, format!("its CRS ({e})")))
}

pub(crate) fn image_input(
    src: &dyn RasterSource,
    crs: &Crs,
    date: Option<String>,
    sha256: Option<&str>,
) -> Result<ImageInput> {
    let info = src.info();
    let gsd_m = raster_gsd_m(info, crs).map_err(|e| Error::no_georef(&info.path, e.to_string()))?;
    Ok(ImageInput {
        path: info.path.display().to_string(),
        sha256: match sha256 {
            Some(h) => h.to_string(),
            None => sha256_file(&info.path)?,
        },
        crs: crs.name(),
        gsd_m,
        date: date.or_else(|| info.datetime.as_deref().and_then(normalise_date)),
        width: info.width,
        height: info.height,
        bands: info.bands,
        data_type: info.data_type,
    })
}

/// A progress bar on stderr (hidden when disabled or stderr is not a terminal).
pub fn progress_bar(n: usize, enabled: bool, prefix: &str, unit: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}} elapsed, eta {{eta}}"
        ))
        .expect("template")
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

/// Both images of a pair opened, with their CRSs, masks and input descriptions.
pub struct OpenedPair {
    before: Box<dyn RasterSource>,
    after: Box<dyn RasterSource>,
    crs_b: Crs,
    crs_a: Crs,
    mask_b: Option<(Box<dyn RasterSource>, Crs)>,
    mask_a: Option<(Box<dyn RasterSource>, Crs)>,
    pub before_input: ImageInput,
    pub after_input: ImageInput,
}

/// Which images make a pair.
#[derive(Debug, Clone, Default)]
pub struct PairPaths {
    pub before: PathBuf,
    pub after: PathBuf,
    pub before_date: Option<String>,
    pub after_date: Option<String>,
    pub before_mask: Option<PathBuf>,
    pub after_mask: Option<PathBuf>,
    /// Checksums already known (from a plan), so the files are not read again.
    pub before_sha256: Option<String>,
    pub after_sha256: Option<String>,
}

impl OpenedPair {
    /// Opens both images (and masks); fails on unreadable input or differing band counts.
    pub fn open(p: &PairPaths, backend: Backend) -> Result<OpenedPair> {
        for f in [&p.before, &p.after] {
            crate::fsutil::check_regular(f)?;
        }
        let before = open(&p.before, backend)?;
        let after = open(&p.after, backend)?;
        let crs_b = crs_of(before.as_ref())?;
        let crs_a = crs_of(after.as_ref())?;
        if before.info().bands != after.info().bands {
            return Err(Error::input(
                &p.after,
                format!(
                    "has {} bands where the before image {} has {}",
                    after.info().bands,
                    p.before.display(),
                    before.info().bands
                ),
            ));
        }
        let open_mask = |m: &Option<PathBuf>| -> Result<Option<(Box<dyn RasterSource>, Crs)>> {
            match m {
                None => Ok(None),
                Some(m) => {
                    let src = open(m, backend)?;
                    let c = crs_of(src.as_ref())?;
                    Ok(Some((src, c)))
                }
            }
        };
        let before_input = image_input(
            before.as_ref(),
            &crs_b,
            p.before_date.clone(),
            p.before_sha256.as_deref(),
        )?;
        let after_input = image_input(
            after.as_ref(),
            &crs_a,
            p.after_date.clone(),
            p.after_sha256.as_deref(),
        )?;
        // Dates in the wrong order would turn a buildup into a withdrawal.
        if let (Some(b), Some(a)) = (&before_input.date, &after_input.date) {
            if a < b {
                return Err(Error::input(
                    &p.after,
                    format!(
                        "is dated {a}, earlier than the before image ({b}): swap --before and \
                         --after, or correct the dates"
                    ),
                ));
            }
        }
        Ok(OpenedPair {
            before_input,
            after_input,
            mask_b: open_mask(&p.before_mask)?,
            mask_a: open_mask(&p.after_mask)?,
            before,
            after,
            crs_b,
            crs_a,
        })
    }

    /// Runs one site, returning its error rather than recording it.
    pub fn try_site(
        &self,
        site: &Site,
        stem: &str,
        s: &Settings,
        out: Option<&Path>,
    ) -> Result<(SiteReport, Vec<Detection>)> {
        let (db, da) = self.dated();
        let o = process_site(site, &db, &da, s)?;
        let mut rep = o.report.clone();
        let mut dets = Vec::new();
        site_outputs(
            site,
            stem,
            &o,
            &self.before_input,
            &self.after_input,
            out,
            &mut rep,
            &mut dets,
        )?;
        Ok((rep, dets))
    }

    /// Both dates as the site analysis reads them.
    fn dated(&self) -> (Dated<'_>, Dated<'_>) {
        let db = Dated {
            src: self.before.as_ref(),
            crs: self.crs_b.clone(),
            mask: self.mask_b.as_ref().map(|(m, c)| (m.as_ref(), c.clone())),
        };
        let da = Dated {
            src: self.after.as_ref(),
            crs: self.crs_a.clone(),
            mask: self.mask_a.as_ref().map(|(m, c)| (m.as_ref(), c.clone())),
        };
        (db, da)
    }

    /// The overview map of `sites` over the before image. A failure is reported on
    /// stderr and leaves the page without its map: it must not cost the run.
    pub fn overview(&self, sites: &[Site]) -> Option<crate::visual::html::Overview> {
        crate::visual::write::overview_of(self.before.as_ref(), &self.crs_b, sites)
            .map_err(|e| {
                eprintln!(
                    "stagewatch: no overview map in report.html: {}",
                    crate::error::one_line(&e.to_string())
                )
            })
            .ok()
    }

    /// MiB the analysis of `site` will need (0 when its grid cannot be built: the site
    /// then fails before allocating anything).
    pub fn site_need_mib(&self, site: &Site, s: &Settings) -> u64 {
        let (db, da) = self.dated();
        site::site_grid(site, &db, &da, s).map_or(0, |g| g.3)
    }

    /// Runs one site. A failure becomes a site with status `error`. With `out`, the
    /// change raster is written under `out/change/<stem>.tif`.
    pub fn run_site(
        &self,
        site: &Site,
        stem: &str,
        s: &Settings,
        out: Option<&Path>,
    ) -> (SiteReport, Vec<Detection>) {
        self.try_site(site, stem, s, out).unwrap_or_else(|e| {
            (
                SiteReport::failed(
                    &site.id,
                    site.name.clone(),
                    crate::error::one_line(&e.to_string()),
                ),
                Vec::new(),
            )
        })
    }
}

/// What the evidence needs of each analysed site.
pub fn evidence_inputs(sites: &[Site], reports: &[SiteReport]) -> Vec<SiteInput> {
    sites
        .iter()
        .zip(reports)
        .map(|(site, r)| SiteInput {
            id: site.id.clone(),
            weight: site.weight,
            lon_lat: site.anchor(),
            before: r.before.vehicles,
            after: r.after.vehicles,
            before_on_date: r.before.vehicles_on_date,
            // Both dates are judged on the area observed on both.
            observed_before: r.before.observed_fraction.min(r.observed_fraction),
            observed_after: r.after.observed_fraction.min(r.observed_fraction),
            observed_area_km2: r.observed_area_m2 / 1e6,
            coregistration_unreliable: r.flags.iter().any(|f| f == "coregistration_unreliable"),
            gsd_too_coarse: r.flags.iter().any(|f| f == "gsd_too_coarse"),
            changed_fraction: r.changed_fraction,
            analysed: matches!(r.status, SiteStatus::Ok | SiteStatus::PartialCoverage),
        })
        .collect()
}

/// Scores the site reports of one pair and assembles the report around its `parameters`
/// block (built once per run; `merge` passes the one its plan recorded).
pub fn assemble_report(
    inputs: Inputs,
    parameters: &Parameters,
    sites: &[Site],
    mut reports: Vec<SiteReport>,
) -> Report {
    let (site_ev, overall) = evaluate(&evidence_inputs(sites, &reports), &parameters.settings.evidence);
    for (r, e) in reports.iter_mut().zip(site_ev) {
        r.evidence = Some(e);
    }
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::this(),
        inputs,
        parameters: parameters.clone(),
        withdrawal_evidence: overall,
        sites: reports,
    }
}

/// Writes `report.json`, `sites.csv` and `detections.geojson` into `out`.
/// Change rasters in `out/change/` that `report` does not list (left by an earlier run into
/// the same folder) are removed, with a line on stderr saying how many.
pub fn write_report_files(out: &Path, report: &Report, detections: &[Detection]) -> Result<()> {
    write_atomic(&out.join("report.json"), to_json(report).as_bytes())?;
    write_atomic(&out.join("sites.csv"), sites_csv(report).as_bytes())?;
    write_atomic(
        &out.join("detections.geojson"),
        detections_geojson(detections).as_bytes(),
    )?;
    let stale = remove_stale_rasters(out, report)?;
    if stale > 0 {
        eprintln!(
            "stagewatch: removed {stale} change raster(s) of an earlier run from {} (not in this report)",
            out.join("change").display()
        );
    }
    Ok(())
}

fn remove_stale_rasters(out: &Path, report: &Report) -> Result<usize> {
    let dir = out.join("change");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let listed: std::collections::HashSet<&str> = report
        .sites
        .iter()
        .filter_map(|s| s.change_raster.as_deref())
        .collect();
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = format!("change/{name}");
        if name.ends_with(".tif") && !name.starts_with('.') && !listed.contains(rel.as_str()) {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(&e.path(), err))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Runs `compare` and writes its outputs to `args.out`.
pub fn run_compare(args: &CompareArgs) -> Result<CompareOutcome> {
    crate::fsutil::check_out_dir(&args.out)?;
    crate::fsutil::check_regular(&args.sites)?;
    let pair = OpenedPair::open(
        &PairPaths {
            before: args.before.clone(),
            after: args.after.clone(),
            before_date: args.before_date.clone(),
            after_date: args.after_date.clone(),
            before_mask: args.before_mask.clone(),
            after_mask: args.after_mask.clone(),
            ..PairPaths::default()
        },
        args.backend,
    )?;
    let sites = load_sites(&args.sites)?;
    let inputs = Inputs {
        before: pair.before_input.clone(),
        after: pair.after_input.clone(),
        sites: FileInput {
            path: args.sites.display().to_string(),
            sha256: sha256_file(&args.sites)?,
        },
    };
    let s = &args.settings;
    let stems = file_stems(&sites);
    let pb = progress_bar(sites.len(), args.progress, "compare", "sites");
    let indexed: Vec<(&Site, &String)> = sites.iter().zip(&stems).collect();
    let need = |(site, _): &(&Site, &String)| pair.site_need_mib(site, s);
    let outcomes: Vec<(SiteReport, Vec<Detection>)> =
        crate::memory::map_sites(&indexed, need, |(site, stem)| {
            let r = pair.run_site(site, stem, s, Some(&args.out));
            pb.inc(1);
            r
        });
    pb.finish_and_clear();
    let site_errors = outcomes
        .iter()
        .filter(|(r, _)| r.status == SiteStatus::Error)
        .count();
    let mut reports = Vec::with_capacity(sites.len());
    let mut detections = Vec::new();
    for (r, d) in outcomes {
        reports.push(r);
        detections.extend(d);
    }
    let report = assemble_report(inputs, &Parameters::new(s, args.backend), &sites, reports);
    write_report_files(&args.out, &report, &detections)?;
    crate::visual::write::remove_stale_chips(&args.out, &stems)?;
    if args.html == Html::Write {
        let overview = pair.overview(&sites);
        crate::visual::write::write_compare_html(&args.out, &report, &stems, overview.as_ref())?;
    }
    Ok(CompareOutcome { report, site_errors })
}

/// Writes the change raster of a site (when `out` is given) and collects its detections.
#[allow(clippy::too_many_arguments)]
fn site_outputs(
    site: &Site,
    stem: &str,
    o: &SiteOutcome,
    before: &ImageInput,
    after: &ImageInput,
    out: Option<&Path>,
    rep: &mut SiteReport,
    detections: &mut Vec<Detection>,
) -> Result<()> {
    let Some(grid) = &o.grid else {
        return Ok(());
    };
    if let (Some(out), Some(change)) = (out, &o.change) {
        let n = grid.len();
        let mut px = Vec::with_capacity(n * 2);
        for i in 0..n {
            if o.valid_both[i] {
                px.push(change.magnitude[i]);
                px.push(if change.mask[i] { 1.0 } else { 0.0 });
            } else {
                px.push(f32::NAN);
                px.push(f32::NAN);
            }
        }
        let rel = format!("change/{stem}.tif");
        let meta = GeoMeta {
            epsg: grid.epsg,
            transform: grid.transform,
            nodata: Some(f64::NAN),
            datetime: None,
        };
        write_cog_f32(
            &out.join(&rel),
            (grid.width, grid.height, 2),
            &px,
            &meta,
            &["change_magnitude", "change_mask"],
        )?;
        rep.change_raster = Some(rel);
    }
    // Chips also for a site seen on one date only (a cloud, the image's edge): the
    // analyst sees what hid it.
    if let Some(out) = out {
        crate::visual::write::write_site_chips(out, stem, &o.chips)?;
    }
    let to_wgs = Transformer::new(&Crs::from_epsg(grid.epsg)?, &Crs::wgs84());
    for (label, blobs, date) in [
        ("before", &o.blobs_before, &before.date),
        ("after", &o.blobs_after, &after.date),
    ] {
        for b in blobs {
            detections.push(Detection::from_blob(b, grid, &to_wgs, &site.id, label, date)?);
        }
    }
    Ok(())
}
