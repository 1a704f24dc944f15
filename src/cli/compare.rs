//! `stagewatch compare`: two dates over a watch list, scored; prints the per-site table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::args::{AnalysisOpts, HtmlOpts};
use crate::error::{Error, Result};
use crate::pipeline::{run_compare, CompareArgs, CompareOutcome};
use crate::report::SiteStatus;

/// Compare two dates over a set of sites and score the withdrawal evidence.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image of the earlier date (GeoTIFF; any GDAL format with `--features gdal`).
    #[arg(long)]
    pub before: PathBuf,
    /// Image of the later date.
    #[arg(long)]
    pub after: PathBuf,
    /// Sites: GeoJSON FeatureCollection of lon/lat polygons with a string `id`.
    #[arg(long)]
    pub sites: PathBuf,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Acquisition date of the before image (YYYY-MM-DD); default: the file's DateTime.
    #[arg(long)]
    pub before_date: Option<String>,
    /// Acquisition date of the after image.
    #[arg(long)]
    pub after_date: Option<String>,
    /// Mask raster for the before date (nonzero = cloud or otherwise not observed).
    #[arg(long)]
    pub before_mask: Option<PathBuf>,
    /// Mask raster for the after date.
    #[arg(long)]
    pub after_mask: Option<PathBuf>,
    #[command(flatten)]
    pub html: HtmlOpts,
    #[command(flatten)]
    pub analysis: AnalysisOpts,
}

/// Runs `compare`: exit 1 when some sites are `error`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    for (flag, d) in [("--before-date", &a.before_date), ("--after-date", &a.after_date)] {
        if let Some(d) = d {
            if crate::dates::normalise_date(d).as_deref() != Some(d.as_str()) {
                return Err(Error::Usage(format!("{flag} {d:?} is not a YYYY-MM-DD date")));
            }
        }
    }
    let args = CompareArgs {
        settings: a.analysis.settings()?,
        backend: a.analysis.reader.backend(),
        before: a.before,
        after: a.after,
        sites: a.sites,
        out: a.out,
        before_date: a.before_date,
        after_date: a.after_date,
        before_mask: a.before_mask,
        after_mask: a.after_mask,
        progress: !quiet,
        html: a.html.html(),
    };
    let o = run_compare(&args)?;
    if !quiet {
        summary(&o, &args.out, None);
    }
    for s in o.report.sites.iter().filter(|s| s.status == SiteStatus::Error) {
        eprintln!("stagewatch: site {}: {}", s.id, s.error.as_deref().unwrap_or(""));
    }
    Ok(exit_for(&o))
}

/// 1 when some sites failed, else 0.
pub(super) fn exit_for(o: &CompareOutcome) -> ExitCode {
    if o.site_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The per-site table on stdout (with the truth of a synthetic scene when given).
pub(super) fn summary(o: &CompareOutcome, out: &Path, truth: Option<&crate::synth::Truth>) {
    let inputs = &o.report.inputs;
    let date = |d: &Option<String>| d.clone().unwrap_or_else(|| "undated".into());
    println!(
        "before {} ({}), after {} ({})",
        date(&inputs.before.date),
        inputs.before.path,
        date(&inputs.after.date),
        inputs.after.path
    );
    println!(
        "{:<10} {:<17} {:>8} {:>7} {:>7} {:>8} {:>9}  {:<18} remaining (90 %)",
        "site", "status", "observed", "before", "after", "changed", "truth", "verdict"
    );
    for s in &o.report.sites {
        let t = truth
            .and_then(|t| t.sites.iter().find(|x| x.id == s.id))
            .map(|x| format!("{}->{}", x.before_vehicles, x.after_vehicles))
            .unwrap_or_default();
        let (verdict, remaining) = match &s.evidence {
            Some(e) => (
                e.verdict.as_str(),
                e.remaining_fraction
                    .map(|r| format!("{:.2} ({:.2}-{:.2})", r.estimate, r.low, r.high))
                    .unwrap_or_default(),
            ),
            None => ("", String::new()),
        };
        println!(
            "{:<10} {:<17} {:>7.1}% {:>7} {:>7} {:>7.1}% {:>9}  {:<18} {}",
            s.id,
            s.status.as_str(),
            100.0 * s.observed_fraction,
            s.before.vehicles,
            s.after.vehicles,
            100.0 * s.changed_fraction,
            t,
            verdict,
            remaining
        );
        if let Some(e) = &s.error {
            println!("           error: {e}");
        }
    }
    let e = &o.report.withdrawal_evidence;
    println!(
        "withdrawal evidence: score {:.2}, verdict {}, {} sites used, coverage {:.0} %",
        e.score,
        e.verdict.as_str(),
        e.sites_used,
        100.0 * e.coverage
    );
    for r in &e.redeployments {
        println!(
            "  redeployment: about {:.0} vehicles from {} to {} ({:.1} km)",
            r.vehicles,
            r.from,
            r.to,
            r.distance_m / 1000.0
        );
    }
    println!(
        "observed: share of the site seen on both dates; before/after: vehicles counted there; \
         changed: share of the observed site whose pixels changed; remaining: after/before true \
         numbers, estimate (90 % interval)"
    );
    println!("outputs: {}", out.display());
}
