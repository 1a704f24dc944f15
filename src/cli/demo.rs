//! `stagewatch demo`: the demo scenario rendered, compared and shown against its truth.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::DetectorOpts;
use super::compare::{exit_for, summary};
use crate::blobs::{Detector, VehicleClass};
use crate::error::Result;
use crate::pipeline::{run_compare, CompareArgs};
use crate::raster::Backend;
use crate::settings::Settings;
use crate::synth::render_scenario;

/// Render the demo scenario into a temporary folder, compare it and print the result.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to put the scene and outputs (default: a new temporary folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Scenario to run.
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    /// Detector: the learned one by default, as `compare` counts; `tophat` is the
    /// classical detector the rendered scenes were built with (exact on them, not on
    /// real imagery).
    #[arg(long, value_enum, default_value_t = Detector::Learned)]
    pub detector: Detector,
}

/// Runs `demo`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let Args {
        out,
        scenario,
        detector,
    } = a;
    let dir =
        out.unwrap_or_else(|| std::env::temp_dir().join(format!("stagewatch-demo-{}", std::process::id())));
    let sc = crate::synth::scenario(&scenario)?;
    eprintln!(
        "rendering scenario {:?} ({}) into {}",
        sc.name,
        sc.description,
        dir.display()
    );
    let r = render_scenario(&scenario, &dir.join("scene"))?;
    let args = CompareArgs {
        before: r.before.clone(),
        after: r.after.clone(),
        sites: r.sites.clone(),
        out: dir.join("out"),
        before_date: None,
        after_date: None,
        before_mask: None,
        after_mask: None,
        settings: {
            let mut s = Settings::for_class(VehicleClass::Military);
            DetectorOpts {
                detector,
                model: None,
            }
            .apply(&mut s.detect)?;
            s.calibrate_evidence();
            s
        },
        backend: Backend::default_for_build(),
        progress: !quiet,
        html: crate::pipeline::Html::Write,
    };
    let o = run_compare(&args)?;
    summary(&o, &args.out, Some(&r.truth_data));
    match detector {
        Detector::Learned => println!(
            "detector: learned (the shipped model, as `compare` uses by default); \
             `demo --detector tophat` counts with the classical detector"
        ),
        Detector::Tophat => println!(
            "detector: tophat (the classical detector these rendered scenes were built with); \
             `compare` counts with the learned detector by default"
        ),
    }
    Ok(exit_for(&o))
}
