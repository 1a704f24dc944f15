//! `status` and `merge`: what a plan's output folder holds, and the combined outputs.
//!
//! `merge` groups the plan's jobs by date pair (plan order), scores each pair exactly as
//! `compare` does and writes, under `--out`:
//! - `pairs/<before>_<after>/{report.json, sites.csv, detections.geojson}`: per pair,
//!   the `compare` contract, with the change rasters `change/<site>.tif` copied from the
//!   jobs' folders;
//! - `report.json` (`{schema_version, tool, pairs: [report]}`), `sites.csv` (the
//!   per-pair rows with `before_date,after_date` first) and `detections.geojson`;
//! - `timeline.json`, `timeline.csv`, `charts/` when every pair shares its before image
//!   (`--pairs baseline:DATE`).
//!
//! It refuses to merge while jobs are missing, so a partial archive never passes for a
//! complete one. The outputs depend only on the plan and the job files, so they are
//! byte-identical however the work was sharded, retried or interrupted.

use std::path::{Path, PathBuf};

use super::run::{error_path, raster_dir, result_path, JobError, JobResult};
use super::{array_syntax, load_plan, Job};
use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, write_atomic};
use crate::pipeline::timeline::{timeline_from_reports, write_timeline};
use crate::pipeline::{assemble_report, write_report_files};
use crate::pipeline::{backend_named, Html};
use crate::raster::DataType;
use crate::report::csv::sites_csv;
use crate::report::geojson::detections_geojson;
use crate::report::{Detection, FileInput, ImageInput, Report, SiteReport, SiteStatus, Tool};
use crate::sites::{file_stems, load_sites};
use crate::visual::html::Overview;
use crate::visual::timeline_page::PairLink;
use crate::visual::write::{
    chip_path, remove_stale_chips, write_compare_html, write_pairs_html, write_timeline_html, CHIP_KINDS,
};

/// The overview map of a pair from its before image, read again at merge time; None
/// (with a line on stderr) when that image is not readable here.
fn pair_overview(report: &Report, sites: &[crate::sites::Site]) -> Option<Overview> {
    let path = Path::new(&report.inputs.before.path);
    let src = crate::raster::open(path, backend_named(&report.parameters.reader))
        .map_err(|e| {
            eprintln!(
                "stagewatch: no overview map for {}: {}",
                path.display(),
                crate::error::one_line(&e.to_string())
            )
        })
        .ok()?;
    let crs = crate::pipeline::crs_of(src.as_ref()).ok()?;
    crate::visual::write::overview_of(src.as_ref(), &crs, sites)
        .map_err(|e| {
            eprintln!(
                "stagewatch: no overview map for {}: {}",
                path.display(),
                crate::error::one_line(&e.to_string())
            )
        })
        .ok()
}

/// State of one job's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Done,
    Failed,
    Missing,
}

fn state(out: &Path, j: &Job) -> JobState {
    if result_path(out, &j.key).exists() {
        JobState::Done
    } else if error_path(out, &j.key).exists() {
        JobState::Failed
    } else {
        JobState::Missing
    }
}

/// What `status` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub jobs: usize,
    pub done: usize,
    pub failed: usize,
    pub missing: usize,
    pub shards: usize,
    /// Shards with missing jobs, in Slurm `--array` syntax.
    pub missing_shards: String,
}

/// Counts done/failed/missing jobs and the shards (of `shards`) still to run.
pub fn status(plan: &Path, out: &Path, shards: usize) -> Result<Status> {
    let jobs = load_plan(plan)?;
    let shards = shards.max(1);
    let mut s = Status {
        jobs: jobs.len(),
        done: 0,
        failed: 0,
        missing: 0,
        shards,
        missing_shards: String::new(),
    };
    let mut miss = vec![false; shards];
    for (i, j) in jobs.iter().enumerate() {
        match state(out, j) {
            JobState::Done => s.done += 1,
            JobState::Failed => s.failed += 1,
            JobState::Missing => {
                s.missing += 1;
                miss[i % shards] = true;
            }
        }
    }
    let idx: Vec<usize> = (0..shards).filter(|&i| miss[i]).collect();
    s.missing_shards = array_syntax(&idx);
    Ok(s)
}

/// An image known only from the plan (every job of its pair failed to open it).
fn image_from_plan(i: &super::JobImage) -> ImageInput {
    ImageInput {
        path: i.path.clone(),
        sha256: i.sha256.clone(),
        crs: "unknown".into(),
        gsd_m: 0.0,
        date: Some(i.date.clone()),
        width: 0,
        height: 0,
        bands: 0,
        data_type: DataType::Byte,
    }
}

/// What `merge` produced.
pub struct Merged {
    pub reports: Vec<Report>,
    pub failed_jobs: usize,
}

/// One date pair of a merge, read and checked, not yet written.
struct PairOut {
    dir: PathBuf,
    report: Report,
    dets: Vec<Detection>,
    /// (job file, path relative to the pair's folder): change rasters and chips.
    files: Vec<(PathBuf, String)>,
    dates: (String, String),
    sites: Vec<crate::sites::Site>,
    stems: Vec<String>,
}

/// Reads and checks the job files of one date pair (`g`, in plan order) and scores it.
fn read_pair(plan_path: &Path, out: &Path, g: &[&Job], failed_jobs: &mut usize) -> Result<PairOut> {
    let first = g[0];
    let sp = Path::new(&first.sites.path);
    if sha256_file(sp)? != first.sites.sha256 {
        return Err(Error::input(sp, "changed since the plan was made"));
    }
    let sites = load_sites(sp)?;
    let stems = file_stems(&sites);
    let mut site_reports = Vec::with_capacity(g.len());
    let mut dets = Vec::new();
    let mut images: Option<(ImageInput, ImageInput)> = None;
    let mut rasters: Vec<(PathBuf, String)> = Vec::new();
    for j in g {
        if state(out, j) == JobState::Done {
            let p = result_path(out, &j.key);
            let bytes = crate::fsutil::read_input(&p, crate::fsutil::limits::GEOJSON)?;
            let r: JobResult = serde_json::from_slice(&bytes)
                .map_err(|e| Error::input(&p, format!("not a job result: {e}")))?;
            // A job file copied under another key must not stand in for this job.
            if r.key != j.key || r.site_id != j.site_id || r.report.id != j.site_id {
                return Err(Error::input(
                    &p,
                    format!(
                        "holds job {} of site {:?}, not job {} of site {:?}",
                        r.key, r.site_id, j.key, j.site_id
                    ),
                ));
            }
            images.get_or_insert((r.before.clone(), r.after.clone()));
            if let Some(rel) = &r.report.change_raster {
                // A job file is input too: its raster path must stay inside the folders.
                let inside = std::path::Path::new(rel)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !inside {
                    return Err(Error::input(
                        &p,
                        format!("change_raster {rel:?} leaves its folder"),
                    ));
                }
                rasters.push((raster_dir(out, &j.key).join(rel), rel.clone()));
            }
            // Chips travel with the raster (absent in job folders of older builds).
            if let Some(stem) = stems.get(j.site_index) {
                for kind in CHIP_KINDS {
                    let rel = chip_path(stem, kind);
                    let from = raster_dir(out, &j.key).join(&rel);
                    if from.is_file() {
                        rasters.push((from, rel));
                    }
                }
            }
            site_reports.push(r.report);
            dets.extend(r.detections);
        } else {
            *failed_jobs += 1;
            let p = error_path(out, &j.key);
            let bytes = crate::fsutil::read_input(&p, crate::fsutil::limits::GEOJSON)?;
            let e: JobError = serde_json::from_slice(&bytes)
                .map_err(|e| Error::input(&p, format!("not a job error: {e}")))?;
            let name = sites.get(j.site_index).and_then(|s| s.name.clone());
            site_reports.push(SiteReport::failed(&j.site_id, name, e.error));
        }
    }
    let plan_sites: Vec<&str> = g.iter().map(|j| j.site_id.as_str()).collect();
    let file_sites: Vec<&str> = sites.iter().map(|s| s.id.as_str()).collect();
    if plan_sites != file_sites {
        return Err(Error::input(
            plan_path,
            format!(
                "pair {} / {} does not list every site of {} in order",
                first.before.date, first.after.date, first.sites.path
            ),
        ));
    }
    let (bi, ai) = images.unwrap_or_else(|| (image_from_plan(&first.before), image_from_plan(&first.after)));
    let inputs = crate::report::Inputs {
        before: bi,
        after: ai,
        sites: first.sites.clone(),
    };
    let report = assemble_report(inputs, &first.parameters, &sites, site_reports);
    let dir = out
        .join("pairs")
        .join(format!("{}_{}", first.before.date, first.after.date));
    for (from, _) in &rasters {
        crate::fsutil::check_regular(from)?;
    }
    let dates = (first.before.date.clone(), first.after.date.clone());
    Ok(PairOut {
        dir,
        report,
        dets,
        files: rasters,
        dates,
        sites,
        stems,
    })
}

/// Writes the combined outputs of a complete plan into `out`.
pub fn merge(plan_path: &Path, out: &Path, html: Html) -> Result<Merged> {
    crate::fsutil::check_out_dir(out)?;
    let jobs = load_plan(plan_path)?;
    let missing = jobs.iter().filter(|j| state(out, j) == JobState::Missing).count();
    if missing > 0 {
        return Err(Error::input(
            out,
            format!(
                "{missing} of {} jobs have no output yet; run `stagewatch status` and the missing shards",
                jobs.len()
            ),
        ));
    }
    // Groups of consecutive jobs of the same pair.
    let mut groups: Vec<Vec<&Job>> = Vec::new();
    for j in &jobs {
        match groups.last_mut() {
            Some(g) if g[0].before.path == j.before.path && g[0].after.path == j.after.path => g.push(j),
            _ => groups.push(vec![j]),
        }
    }
    let mut reports = Vec::new();
    let mut all_dets: Vec<Detection> = Vec::new();
    let mut csv = String::new();
    let mut failed_jobs = 0;
    let mut pairs_out: Vec<PairOut> = Vec::new();
    for g in &groups {
        pairs_out.push(read_pair(plan_path, out, g, &mut failed_jobs)?);
    }
    // Everything read and checked: only now is anything written, so a corrupt job file
    // leaves no partial merge behind.
    let mut links = Vec::new();
    for PairOut {
        dir,
        report,
        dets,
        files: rasters,
        dates: (bd, ad),
        sites,
        stems,
    } in pairs_out
    {
        for (from, rel) in &rasters {
            let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
            write_atomic(&dir.join(rel), &bytes)?;
        }
        write_report_files(&dir, &report, &dets)?;
        remove_stale_chips(&dir, &stems)?;
        if html == Html::Write {
            let overview = pair_overview(&report, &sites);
            write_compare_html(&dir, &report, &stems, overview.as_ref())?;
            links.push(PairLink {
                label: format!("{bd} -> {ad}"),
                href: format!("pairs/{bd}_{ad}/report.html"),
                verdict: report.withdrawal_evidence.verdict.as_str().to_string(),
                score: report.withdrawal_evidence.score,
            });
        }
        let body = sites_csv(&report);
        let mut lines = body.lines();
        if csv.is_empty() {
            csv = format!("before_date,after_date,{}\n", lines.next().unwrap_or(""));
        } else {
            lines.next();
        }
        for l in lines {
            csv.push_str(&format!("{bd},{ad},{l}\n"));
        }
        all_dets.extend(dets);
        reports.push(report);
    }
    let combined = serde_json::json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "tool": Tool::this(),
        "pairs": reports,
    });
    let mut text = serde_json::to_string_pretty(&combined).expect("json");
    text.push('\n');
    write_atomic(&out.join("report.json"), text.as_bytes())?;
    write_atomic(&out.join("sites.csv"), csv.as_bytes())?;
    write_atomic(
        &out.join("detections.geojson"),
        detections_geojson(&all_dets).as_bytes(),
    )?;
    let same_before = groups
        .iter()
        .all(|g| g[0].before.path == groups[0][0].before.path);
    if same_before {
        let dated: Vec<(String, Report)> = groups
            .iter()
            .zip(&reports)
            .map(|(g, r)| (g[0].after.date.clone(), r.clone()))
            .collect();
        let t = timeline_from_reports(
            FileInput {
                path: plan_path.display().to_string(),
                sha256: sha256_file(plan_path)?,
            },
            groups[0][0].sites.clone(),
            reports[0].parameters.clone(),
            dated,
        );
        write_timeline(out, &t)?;
        if html == Html::Write {
            write_timeline_html(out, &t, &links)?;
        }
    } else if html == Html::Write {
        write_pairs_html(out, &links)?;
    }
    let failed_sites = reports
        .iter()
        .flat_map(|r| &r.sites)
        .filter(|s| s.status == SiteStatus::Error)
        .count();
    Ok(Merged {
        reports,
        failed_jobs: failed_jobs.max(failed_sites),
    })
}
