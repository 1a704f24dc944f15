//! `stagewatch synth`: synthetic scenes with known truth (pairs, series, archives).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::{Error, Result};
use crate::synth::{render_scenario, SCENARIOS};

/// Render a synthetic before/after scenario with known truth.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder (not needed with --list).
    #[arg(long, required_unless_present = "list")]
    pub out: Option<PathBuf>,
    /// Scenario name (see --list).
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    /// List the scenarios and series and exit.
    #[arg(long)]
    pub list: bool,
    /// Render a multi-date series (catalog.csv, images/, sites.geojson) instead of a pair.
    #[arg(long)]
    pub series: Option<String>,
    /// Render a large tiled archive pair of this many pixels square (memory tests).
    #[arg(long)]
    pub archive: Option<usize>,
    /// Number of sites of --archive.
    #[arg(long, default_value_t = 20)]
    pub archive_sites: usize,
}

/// Runs `synth`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let Args {
        out,
        scenario,
        list,
        series,
        archive,
        archive_sites,
    } = a;
    if list {
        for name in SCENARIOS.iter().chain(crate::synth::PARK_SCENARIOS) {
            println!("{name}: {}", crate::synth::scenario(name)?.description);
        }
        // Not a measurement: `scripts/eval-suite` skips these lines.
        for name in crate::synth::PARK_VALIDATION_SCENARIOS {
            println!(
                "{name} (validation scene for choosing training recipes, use --scenario; never measured)"
            );
        }
        for name in crate::synth::series::SERIES {
            println!("{name} (series, use --series)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(out) = out else {
        return Err(Error::Usage("synth: --out is required".into()));
    };
    if let Some(size) = archive {
        let a = crate::synth::archive::render_archive(&out, size, archive_sites)?;
        if !quiet {
            println!("wrote {}, {}", a.catalog.display(), a.sites.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(name) = series {
        let r = crate::synth::series::render_series(&name, &out)?;
        if !quiet {
            println!(
                "wrote {} ({} images), {}",
                r.catalog.display(),
                r.images.len(),
                r.sites.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = render_scenario(&scenario, &out)?;
    if !quiet {
        println!(
            "wrote {}, {}, {}, {}",
            r.before.display(),
            r.after.display(),
            r.sites.display(),
            r.truth.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
