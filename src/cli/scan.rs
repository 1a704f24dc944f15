//! `stagewatch scan`: whole-scene triage of a pair on one grid (the fused fast path).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::Result;

/// Screen a whole pair on one grid for changed vehicle-sized blobs (fast triage: no
/// alignment or cloud masking) and write them as lon/lat polygons.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Earlier Byte GeoTIFF.
    #[arg(long)]
    pub before: PathBuf,
    /// Later Byte GeoTIFF on the same grid (CRS, geotransform, size).
    #[arg(long)]
    pub after: PathBuf,
    /// GeoJSON file written (temporary file, then rename).
    #[arg(long)]
    pub out: PathBuf,
    /// Band compared (counted from 1).
    #[arg(long, default_value_t = 1)]
    pub band: usize,
    /// A pixel changed when |after - before| exceeds this many digital numbers.
    #[arg(long, default_value_t = 40)]
    pub threshold: u8,
    /// Smallest blob kept, square metres.
    #[arg(long, default_value_t = 4.0)]
    pub min_area_m2: f64,
    /// Largest blob kept, square metres.
    #[arg(long, default_value_t = 60.0)]
    pub max_area_m2: f64,
    /// No summary on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `scan`, with a throughput line on stderr.
pub fn run(a: Args, quiet: bool) -> Result<ExitCode> {
    let quiet = quiet || a.quiet;
    let args = crate::pipeline::scan::ScanArgs {
        before: a.before,
        after: a.after,
        out: a.out,
        band: a.band,
        threshold: a.threshold,
        min_area_m2: a.min_area_m2,
        max_area_m2: a.max_area_m2,
    };
    let t = std::time::Instant::now();
    let o = crate::pipeline::scan::run_scan(&args)?;
    if !quiet {
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "scan: {} changed blobs in {:.1} Mpx ({:.2} s, {:.0} Mpx/s) -> {}",
            o.blobs,
            o.pixels as f64 / 1e6,
            s,
            o.pixels as f64 / 1e6 / s,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
