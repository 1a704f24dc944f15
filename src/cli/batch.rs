//! Handlers of the multi-date subcommands (`timeline`, `plan`, `run`, `status`, `merge`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::AnalysisOpts;
use crate::batch::run::{run_shard, LogFormat, RunArgs};
use crate::batch::{make_plan, Pairing, PlanArgs, Shard};
use crate::error::{Error, Result};
use crate::evidence::Verdict;
use crate::pipeline::timeline::{run_timeline, TimelineArgs};
use crate::timeline::Confirmation;

fn fmt_opt<T>(v: Option<T>, f: impl Fn(T) -> &'static str) -> &'static str {
    v.map(f).unwrap_or("-")
}

/// `stagewatch timeline`.
pub fn timeline(
    images: PathBuf,
    sites: PathBuf,
    out: PathBuf,
    asset: Option<String>,
    analysis: &AnalysisOpts,
    quiet: bool,
) -> Result<ExitCode> {
    let args = TimelineArgs {
        catalog: images,
        sites,
        out: out.clone(),
        asset,
        settings: analysis.settings()?,
        backend: analysis.reader.backend(),
        progress: !quiet,
    };
    let o = run_timeline(&args)?;
    let t = &o.timeline;
    if !quiet {
        print!("{:<12}", "site");
        for d in &t.dates {
            print!(" {d:>22}");
        }
        println!();
        for s in &t.sites {
            print!("{:<12}", s.id);
            for p in &s.points {
                let cell = format!(
                    "{} {}{}",
                    p.vehicles.map_or("-".to_string(), |v| v.to_string()),
                    fmt_opt(p.verdict, Verdict::as_str),
                    match p.withdrawal {
                        Some(Confirmation::Confirmed) => "*",
                        Some(Confirmation::NotSustained) => "!",
                        Some(Confirmation::Pending) => "?",
                        None => "",
                    }
                );
                print!(" {cell:>22}");
            }
            println!();
        }
        print!("{:<12}", "overall");
        for p in &t.overall {
            let cell = format!("{:.2} {}", p.score, fmt_opt(p.verdict, Verdict::as_str));
            print!(" {cell:>22}");
        }
        println!();
        println!("* confirmed, ? pending, ! not sustained; {}", t.summary);
        println!("outputs: {}", out.display());
    }
    for s in &t.sites {
        for p in s.points.iter().filter(|p| p.error.is_some()) {
            eprintln!(
                "stagewatch: site {} on {}: {}",
                s.id,
                p.date,
                p.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(if o.site_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `stagewatch plan`.
pub fn plan(
    images: PathBuf,
    sites: PathBuf,
    pairs: Pairing,
    out: PathBuf,
    asset: Option<String>,
    analysis: &AnalysisOpts,
    quiet: bool,
) -> Result<ExitCode> {
    let jobs = make_plan(&PlanArgs {
        catalog: images,
        sites,
        pairing: pairs,
        out: out.clone(),
        asset,
        settings: analysis.settings()?,
        backend: analysis.reader.backend(),
    })?;
    if !quiet {
        println!("{} jobs written to {}", jobs.len(), out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `stagewatch run`: exit 0 when every job of the shard is done or failed for good, 75
/// (EX_TEMPFAIL) when some hit a transient error and should be retried.
pub fn run(
    plan: PathBuf,
    out: PathBuf,
    shard: Option<String>,
    shards: Option<usize>,
    log: LogFormat,
    quiet: bool,
) -> Result<ExitCode> {
    let shard = Shard::resolve(shard.as_deref(), shards, |k| std::env::var(k).ok()).map_err(Error::Usage)?;
    let o = run_shard(&RunArgs {
        plan,
        out,
        shard,
        quiet,
        log,
    })?;
    if !quiet && log == LogFormat::Text {
        eprintln!(
            "shard {}/{}: {} jobs, {} already done, {} done now, {} failed, {} to retry",
            shard.index, shard.count, o.jobs, o.skipped, o.done, o.failed, o.transient
        );
    }
    Ok(if o.transient > 0 {
        ExitCode::from(75)
    } else {
        ExitCode::SUCCESS
    })
}

/// `stagewatch status`: exit 0 when nothing is missing, 3 otherwise.
pub fn status(plan: &Path, out: &Path, shards: usize, json: bool) -> Result<ExitCode> {
    let s = crate::batch::merge::status(plan, out, shards)?;
    if json {
        println!("{}", serde_json::to_string(&s).expect("json"));
    } else {
        println!(
            "{} jobs: {} done, {} failed, {} missing; missing shards (of {}): {}",
            s.jobs,
            s.done,
            s.failed,
            s.missing,
            s.shards,
            if s.missing_shards.is_empty() {
                "none"
            } else {
                &s.missing_shards
            }
        );
    }
    Ok(if s.missing > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// `stagewatch merge`: exit 1 when some jobs failed for good.
pub fn merge(plan: &Path, out: &Path, quiet: bool) -> Result<ExitCode> {
    let m = crate::batch::merge::merge(plan, out)?;
    if !quiet {
        for r in &m.reports {
            println!(
                "{} -> {}: score {:.2}, {}",
                r.inputs.before.date.as_deref().unwrap_or("?"),
                r.inputs.after.date.as_deref().unwrap_or("?"),
                r.withdrawal_evidence.score,
                r.withdrawal_evidence.verdict.as_str()
            );
        }
        println!("outputs: {}", out.display());
    }
    Ok(if m.failed_jobs > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
