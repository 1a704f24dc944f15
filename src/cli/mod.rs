//! Command-line interface (clap derive): the shape of the command line in [`args`], one
//! file per subcommand holding its arguments and its handler (`train` and `calibrate`
//! share [`learned`]). [`main`] stays thin: it parses, dispatches and turns the result
//! into an exit code: 0 success, 1 when some sites failed, 2 on bad input.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod bench;
mod compare;
mod demo;
mod detect;
mod eval;
mod info;
mod learned;
mod merge;
mod plan;
mod run;
mod scan;
mod status;
mod synth;
mod timeline;
mod wrap_frame;

pub use args::{AnalysisOpts, CatalogOpts, Cli, Command, DetectorOpts, PlanOpts, ReaderArg};

use crate::error::Result;

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
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
        Command::Train(a) => learned::run_train(&a, quiet),
        Command::Calibrate(a) => learned::run_calibrate(&a, quiet),
        Command::Info(a) => info::run(a),
    }
}
