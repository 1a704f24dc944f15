//! `stagewatch status`: done, failed and missing jobs of a plan.

use std::process::ExitCode;

use super::args::PlanOpts;
use crate::error::Result;

/// Done, failed and missing jobs of a plan, and the missing shards in Slurm syntax.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub files: PlanOpts,
    /// Number of shards the plan is run with.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `status`: exit 0 when nothing is missing, 3 otherwise.
pub fn run(a: Args) -> Result<ExitCode> {
    let (plan, out, shards, json) = (&a.files.plan, &a.files.out, a.shards, a.json);
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
