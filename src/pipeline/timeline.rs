//! `timeline`: every date of a catalogue compared with the first, then the series
//! ([`crate::timeline`]) written as `timeline.json`, `timeline.csv` and PNG charts.
//!
//! All (date, site) comparisons run in one rayon pool; results are gathered in (date,
//! site) order, so outputs are byte-identical whatever the thread count.

use std::path::{Path, PathBuf};

use super::{assemble_report, progress_bar, OpenedPair, PairPaths};
use crate::catalog;
use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, write_atomic};
use crate::raster::Backend;
use crate::report::{Detection, FileInput, Inputs, Report, SiteReport, SiteStatus, Tool};
use crate::settings::Settings;
use crate::sites::{file_stems, load_sites};
use crate::timeline::{build, chart, timeline_csv, SeriesInput, Timeline, TIMELINE_SCHEMA_VERSION};

/// What `timeline` needs.
#[derive(Debug, Clone)]
pub struct TimelineArgs {
    pub catalog: PathBuf,
    pub sites: PathBuf,
    pub out: PathBuf,
    /// STAC asset key holding the image.
    pub asset: Option<String>,
    pub settings: Settings,
    pub backend: Backend,
    pub progress: bool,
    pub html: super::Html,
}

/// The written timeline and how many (site, date) comparisons failed.
pub struct TimelineOutcome {
    pub timeline: Timeline,
    pub site_errors: usize,
}

/// Catalogue entries with dates, checked to be at least two distinct dates.
pub fn dated_entries(path: &Path, asset: Option<&str>, backend: Backend) -> Result<Vec<(String, PathBuf)>> {
    let entries = catalog::fill_dates(path, catalog::load(path, asset)?, backend)?;
    let v: Vec<(String, PathBuf)> = entries
        .into_iter()
        .map(|e| (e.date.expect("dates filled"), e.path))
        .collect();
    for w in v.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Error::input(
                path,
                format!(
                    "two images for {}: {} and {} (mosaic them first; one image per date)",
                    w[0].0,
                    w[0].1.display(),
                    w[1].1.display()
                ),
            ));
        }
    }
    if v.len() < 2 {
        return Err(Error::input(
            path,
            "a timeline needs images of at least two dates",
        ));
    }
    Ok(v)
}

/// Assembles the `Timeline` from per-date reports (also used by `merge`).
pub fn timeline_from_reports(
    catalog: FileInput,
    sites_file: FileInput,
    parameters: crate::report::Parameters,
    reports: Vec<(String, Report)>,
) -> Timeline {
    let baseline = reports
        .first()
        .map(|(_, r)| r.inputs.before.clone())
        .expect("at least one comparison");
    let baseline_date = baseline.date.clone().unwrap_or_default();
    let (sites, overall, summary) = build(&SeriesInput {
        baseline_date: &baseline_date,
        reports: &reports,
    });
    let mut images = vec![baseline];
    images.extend(reports.iter().map(|(_, r)| r.inputs.after.clone()));
    let mut dates = vec![baseline_date.clone()];
    dates.extend(reports.iter().map(|(d, _)| d.clone()));
    Timeline {
        schema_version: TIMELINE_SCHEMA_VERSION,
        tool: Tool::this(),
        catalog,
        sites_file,
        images,
        parameters,
        baseline_date,
        dates,
        sites,
        overall,
        summary,
    }
}

/// Writes `timeline.json`, `timeline.csv` and `charts/site-<stem>.png`, `charts/overall.png`.
pub fn write_timeline(out: &Path, t: &Timeline) -> Result<()> {
    let mut json = serde_json::to_string_pretty(t).expect("timeline serialises");
    json.push('\n');
    write_atomic(&out.join("timeline.json"), json.as_bytes())?;
    write_atomic(&out.join("timeline.csv"), timeline_csv(t).as_bytes())?;
    let ids: Vec<String> = t.sites.iter().map(|s| s.id.clone()).collect();
    for (s, stem) in t.sites.iter().zip(crate::sites::stems_of(&ids)) {
        write_atomic(
            &out.join(format!("charts/site-{stem}.png")),
            &chart::site_chart(s),
        )?;
    }
    write_atomic(&out.join("charts/overall.png"), &chart::overall_chart(&t.overall))
}

/// Runs `timeline` and writes its outputs.
pub fn run_timeline(args: &TimelineArgs) -> Result<TimelineOutcome> {
    crate::fsutil::check_out_dir(&args.out)?;
    let entries = dated_entries(&args.catalog, args.asset.as_deref(), args.backend)?;
    crate::fsutil::check_regular(&args.sites)?;
    let sites = load_sites(&args.sites)?;
    let (base_date, base_path) = &entries[0];
    let pairs: Vec<OpenedPair> = entries[1..]
        .iter()
        .map(|(d, p)| {
            OpenedPair::open(
                &PairPaths {
                    before: base_path.clone(),
                    after: p.clone(),
                    before_date: Some(base_date.clone()),
                    after_date: Some(d.clone()),
                    ..PairPaths::default()
                },
                args.backend,
            )
        })
        .collect::<Result<_>>()?;
    let stems = file_stems(&sites);
    let jobs: Vec<(usize, usize)> = (0..pairs.len())
        .flat_map(|i| (0..sites.len()).map(move |k| (i, k)))
        .collect();
    let pb = progress_bar(jobs.len(), args.progress, "timeline", "site-dates");
    let need = |&(i, k): &(usize, usize)| pairs[i].site_need_mib(&sites[k], &args.settings);
    let results: Vec<(SiteReport, Vec<Detection>)> = crate::memory::map_sites(&jobs, need, |&(i, k)| {
        let r = pairs[i].run_site(&sites[k], &stems[k], &args.settings, None);
        pb.inc(1);
        r
    });
    pb.finish_and_clear();
    let site_errors = results
        .iter()
        .filter(|(r, _)| r.status == SiteStatus::Error)
        .count();
    let sites_file = FileInput {
        path: args.sites.display().to_string(),
        sha256: sha256_file(&args.sites)?,
    };
    let parameters = crate::report::Parameters::new(&args.settings, args.backend);
    let mut it = results.into_iter();
    let mut reports = Vec::with_capacity(pairs.len());
    for (pair, (d, _)) in pairs.iter().zip(&entries[1..]) {
        let rs: Vec<SiteReport> = it.by_ref().take(sites.len()).map(|(r, _)| r).collect();
        let inputs = Inputs {
            before: pair.before_input.clone(),
            after: pair.after_input.clone(),
            sites: sites_file.clone(),
        };
        reports.push((d.clone(), assemble_report(inputs, &parameters, &sites, rs)));
    }
    let t = timeline_from_reports(
        FileInput {
            path: args.catalog.display().to_string(),
            sha256: sha256_file(&args.catalog)?,
        },
        sites_file,
        parameters,
        reports,
    );
    write_timeline(&args.out, &t)?;
    if args.html == super::Html::Write {
        crate::visual::write::write_timeline_html(&args.out, &t, &[])?;
    }
    Ok(TimelineOutcome {
        timeline: t,
        site_errors,
    })
}
