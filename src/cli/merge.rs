//! `stagewatch merge`: the job outputs of a complete plan combined.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::Result;

/// Combine the job outputs of a complete plan (report, CSV, detections, timeline).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan written by `plan`.
    #[arg(long)]
    pub plan: PathBuf,
    /// The output folder the shards wrote into; the merged outputs go here too.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `merge`: exit 1 when some jobs failed for good.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let (plan, out) = (&a.plan, &a.out);
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
