//! `stagewatch wrap-frame`: a plain labelled aerial frame as a GeoTIFF scene.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::Result;

/// Wrap a labelled aerial frame (PNG + YOLO boxes) as a GeoTIFF scene for `detect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The frame: an 8-bit RGB PNG (or JPEG).
    #[arg(long)]
    pub png: PathBuf,
    /// YOLO labels: `class cx cy w h` per line, normalised.
    #[arg(long)]
    pub yolo: PathBuf,
    /// Ground sample distance to assign, metres.
    #[arg(long, default_value_t = 0.14)]
    pub gsd_m: f64,
    /// Label classes that are vehicles.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3")]
    pub classes: Vec<u32>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `wrap-frame`.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let Args {
        png,
        yolo,
        gsd_m,
        classes,
        out,
    } = a;
    let f = crate::eval::frames::wrap_frame(&png, &yolo, gsd_m, &classes, &out)?;
    if !quiet {
        println!(
            "wrote {}, {}, {} ({} vehicles)",
            f.image.display(),
            f.sites.display(),
            f.truth.display(),
            f.vehicles
        );
    }
    Ok(ExitCode::SUCCESS)
}
