//! `stagewatch eval`: detections matched one to one against truth points.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::{Error, Result};

/// Precision, recall, F1 and per-site count error of detections against truth.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// detections.geojson from `compare` or `detect`.
    #[arg(long)]
    pub detections: PathBuf,
    /// Truth: GeoJSON of vehicle points or polygons (`site_id`, `date` optional).
    #[arg(long)]
    pub truth: PathBuf,
    /// Maximum distance of a match, metres.
    #[arg(long, default_value_t = 1.5)]
    pub match_distance_m: f64,
    /// Compare this date only (the `date` property: `before`, `after`, ...) of a file
    /// with several dates; a file with one date or none is taken whole. Needed when the
    /// two files share no date (e.g. `detect` output, dated `image`, against `synth`
    /// truth); without it that case exits 2.
    #[arg(long)]
    pub date: Option<String>,
    /// Also write the result as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `eval`, printing the result as JSON.
pub fn run(a: Args) -> Result<ExitCode> {
    let Args {
        detections,
        truth,
        match_distance_m,
        date,
        out,
    } = a;
    let det = crate::eval::load_points(&detections)?;
    let tru = crate::eval::load_points(&truth)?;
    let (det, tru) = crate::eval::align_dates(det, tru, date.as_deref())
        .map_err(|m| Error::input(&detections, format!("against {}: {m}", truth.display())))?;
    let r = crate::eval::evaluate(&det, &tru, match_distance_m);
    let mut json = serde_json::to_string_pretty(&r).expect("json");
    json.push('\n');
    if let Some(p) = out {
        crate::fsutil::write_atomic(&p, json.as_bytes())?;
    }
    print!("{json}");
    Ok(ExitCode::SUCCESS)
}
