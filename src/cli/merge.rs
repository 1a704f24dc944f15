//! `stagewatch merge`: the job outputs of a complete plan combined.

use std::process::ExitCode;

use super::args::{HtmlOpts, PlanOpts};
use crate::error::Result;

/// Combine the job outputs of a complete plan (report, CSV, detections, timeline).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub files: PlanOpts,
    #[command(flatten)]
    pub html: HtmlOpts,
}

/// Runs `merge`: exit 1 when some jobs failed for good.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let (plan, out) = (&a.files.plan, &a.files.out);
    let m = crate::batch::merge::merge(plan, out, a.html.html())?;
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
