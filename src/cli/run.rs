//! `stagewatch run`: the jobs of one shard of a plan that have no output yet.

use std::process::ExitCode;

use super::args::PlanOpts;
use crate::batch::run::{run_shard, LogFormat, RunArgs};
use crate::batch::Shard;
use crate::error::{Error, Result};

/// Run the jobs of one shard of a plan that have no output yet.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub files: PlanOpts,
    /// This shard, I/N; default from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or
    /// AWS_BATCH_JOB_ARRAY_INDEX with --shards (or SLURM_ARRAY_TASK_COUNT).
    #[arg(long)]
    pub shard: Option<String>,
    /// Number of shards when the index comes from the environment.
    #[arg(long)]
    pub shards: Option<usize>,
    /// Events on stderr: a progress bar, or one JSON object per event.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Runs `run`: exit 0 when every job of the shard is done or failed for good, 75
/// (EX_TEMPFAIL) when some hit a transient error and should be retried.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let log = a.log_format;
    let (shard, shards) = (a.shard, a.shards);
    let (plan, out) = (a.files.plan, a.files.out);
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
