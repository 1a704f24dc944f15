//! `stagewatch detect`: vehicles counted on one date over a set of sites.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::{DetectorOpts, ReaderArg};
use crate::blobs::VehicleClass;
use crate::error::Result;
use crate::report::SiteStatus;
use crate::settings::Settings;

/// Count vehicles on a single date.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image.
    #[arg(long)]
    pub image: PathBuf,
    /// Sites GeoJSON.
    #[arg(long)]
    pub sites: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Acquisition date (YYYY-MM-DD); default: the file's DateTime.
    #[arg(long)]
    pub date: Option<String>,
    /// Mask raster (nonzero = not observed).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Vehicle sizes to count.
    #[arg(long, value_enum, default_value_t = VehicleClass::Military)]
    pub vehicle_class: VehicleClass,
    /// Raster reader.
    #[arg(long, value_enum, default_value_t = ReaderArg::Auto)]
    pub reader: ReaderArg,
    #[command(flatten)]
    pub detector: DetectorOpts,
}

/// Runs `detect`: exit 1 when some sites are `error`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let Args {
        image,
        sites,
        out,
        date,
        mask,
        vehicle_class,
        reader,
        detector,
    } = a;
    let mut settings = Settings::for_class(vehicle_class);
    detector.apply(&mut settings.detect)?;
    let args = crate::pipeline::detect::DetectArgs {
        image,
        sites,
        out: out.clone(),
        date,
        mask,
        settings,
        backend: reader.backend(),
    };
    let (rep, errors) = crate::pipeline::detect::run_detect(&args)?;
    if !quiet {
        for s in &rep.sites {
            let n = s.vehicles.map_or("-".to_string(), |v| v.to_string());
            println!(
                "{:<12} {:>6} vehicles  observed {:>5.1}%  {} {}",
                s.id,
                n,
                100.0 * s.observed_fraction,
                s.status.as_str(),
                s.flags.join(" ")
            );
        }
        println!("outputs: {}", out.display());
    }
    for s in rep.sites.iter().filter(|s| s.status == SiteStatus::Error) {
        eprintln!("stagewatch: site {}: {}", s.id, s.error.as_deref().unwrap_or(""));
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
