//! `stagewatch plan`: one JSON line per (site, before, after) job of a catalogue.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::{AnalysisOpts, CatalogOpts};
use crate::batch::{make_plan, Pairing, PlanArgs};
use crate::error::Result;

/// Plan a batch: one JSON line per (site, before, after) job, keyed by a hash of its
/// inputs, parameters and the tool version.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub catalog: CatalogOpts,
    /// consecutive | baseline:YYYY-MM-DD | all-vs-latest
    #[arg(long, default_value = "consecutive")]
    pub pairs: Pairing,
    /// The plan to write (JSON Lines).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub analysis: AnalysisOpts,
}

/// Runs `plan`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let jobs = make_plan(&PlanArgs {
        settings: a.analysis.settings()?,
        backend: a.analysis.reader.backend(),
        catalog: a.catalog.images,
        sites: a.catalog.sites,
        pairing: a.pairs,
        out: a.out.clone(),
        asset: a.catalog.asset,
    })?;
    if !quiet {
        println!("{} jobs written to {}", jobs.len(), a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
