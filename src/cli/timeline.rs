//! `stagewatch timeline`: every date of a catalogue against the first; prints the
//! per-site series.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::{AnalysisOpts, CatalogOpts, HtmlOpts};
use crate::error::Result;
use crate::evidence::Verdict;
use crate::pipeline::timeline::{run_timeline, TimelineArgs};
use crate::timeline::Confirmation;

/// Compare every date of a catalogue with the first: per-site and overall series,
/// confirmation of lasting withdrawals, timeline.json/csv and PNG charts.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub catalog: CatalogOpts,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub html: HtmlOpts,
    #[command(flatten)]
    pub analysis: AnalysisOpts,
}

fn fmt_opt<T>(v: Option<T>, f: impl Fn(T) -> &'static str) -> &'static str {
    v.map(f).unwrap_or("-")
}

/// Runs `timeline`: exit 1 when some site-dates are `error`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let out = a.out.clone();
    let args = TimelineArgs {
        catalog: a.catalog.images,
        sites: a.catalog.sites,
        out: a.out,
        asset: a.catalog.asset,
        settings: a.analysis.settings()?,
        backend: a.analysis.reader.backend(),
        progress: !quiet,
        html: a.html.html(),
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
