//! Command-line interface (clap derive): the top-level options and the list of
//! subcommands here, the argument groups they share in `args`, one file per
//! subcommand holding its arguments and its handler (`train` and `calibrate` share
//! `learned`). [`main`] stays thin: it parses, dispatches and turns the result
//! into an exit code: 0 success, 1 when some sites failed, 2 on bad input.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod bench;
mod calibrate;
mod compare;
mod demo;
mod detect;
mod eval;
mod info;
mod merge;
mod plan;
mod run;
mod scan;
mod status;
mod synth;
mod timeline;
mod train;
mod wrap_frame;

pub use args::{AnalysisOpts, CatalogOpts, DetectorOpts, PlanOpts, ReaderArg};

use clap::Subcommand;

use crate::error::Result;

/// Withdrawal evidence from before/after imagery of staging areas.
#[derive(Debug, Parser)]
#[command(
    name = "stagewatch",
    version = crate::batch::TOOL_VERSION,
    about,
    after_help = "Exit codes: 0 success; 1 some sites or jobs failed (the rest finished and are \
                  reported); 2 bad input or usage (one line naming the file); 3 `status`: jobs \
                  still missing; 75 `run`: transient errors, retry the shard."
)]
pub struct Cli {
    /// No progress bar and no summary table.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Memory budget, MiB: a site whose estimated need is larger is refused (a site
    /// error; the other sites run), and sites running in parallel share it
    /// [default: half the physical memory].
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(64..))]
    pub max_site_mib: Option<u64>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each one's arguments, help text and handler live in the file of its
/// name beside this one.
#[derive(Debug, Subcommand)]
pub enum Command {
    Compare(compare::Args),
    Timeline(timeline::Args),
    Plan(plan::Args),
    Run(run::Args),
    Status(status::Args),
    Merge(merge::Args),
    Detect(detect::Args),
    Eval(eval::Args),
    WrapFrame(wrap_frame::Args),
    Synth(synth::Args),
    Demo(demo::Args),
    Scan(scan::Args),
    #[command(hide = true)]
    BenchHotpath(bench::Args),
    Train(train::TrainArgs),
    Calibrate(calibrate::CalibrateArgs),
    Info(info::Args),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    crate::memory::tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stagewatch: error: {}", crate::error::one_line(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(mib) = cli.max_site_mib {
        crate::memory::set_budget_mib(mib);
    }
    let quiet = cli.quiet;
    match cli.command {
        Command::Compare(a) => compare::run(a, quiet),
        Command::Timeline(a) => timeline::run(a, quiet),
        Command::Plan(a) => plan::run(a, quiet),
        Command::Run(a) => run::run(a, quiet),
        Command::Status(a) => status::run(a),
        Command::Merge(a) => merge::run(a, quiet),
        Command::Detect(a) => detect::run(a, quiet),
        Command::Eval(a) => eval::run(a),
        Command::WrapFrame(a) => wrap_frame::run(a, quiet),
        Command::Synth(a) => synth::run(a, quiet),
        Command::Demo(a) => demo::run(a, quiet),
        Command::Scan(a) => scan::run(a, quiet),
        Command::BenchHotpath(a) => bench::run(a),
        Command::Train(a) => train::run_train(&a, quiet),
        Command::Calibrate(a) => calibrate::run_calibrate(&a, quiet),
        Command::Info(a) => info::run(a),
    }
}
