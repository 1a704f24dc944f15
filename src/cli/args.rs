//! The command line's shape: the top-level options, the subcommands and their argument
//! groups (clap derive). What each subcommand does lives in [`super::run`] and the
//! files beside this one.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::blobs::{Detector, VehicleClass};
use crate::error::{Error, Result};
use crate::pipeline::Settings;
use crate::raster::Backend;

use super::learned;

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

/// Analysis options shared by `compare`, `timeline` and `plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalysisOpts {
    /// Vehicle sizes to count.
    #[arg(long, value_enum, default_value_t = VehicleClass::Military)]
    pub vehicle_class: VehicleClass,
    /// Margin around each site's bounding box, metres (0-1000: context for alignment and
    /// cloud masking).
    #[arg(long, default_value_t = 25.0, value_parser = parse_margin_m)]
    pub margin_m: f64,
    /// Raster reader.
    #[arg(long, value_enum, default_value_t = ReaderArg::Auto)]
    pub reader: ReaderArg,
    /// Do not estimate and correct the residual shift between the dates.
    #[arg(long)]
    pub no_coregistration: bool,
    /// Do not map the after date onto the before date's radiometry.
    #[arg(long)]
    pub no_normalisation: bool,
    /// Do not detect clouds and haze.
    #[arg(long)]
    pub no_cloud_mask: bool,
    /// JSON file overriding evidence parameters, e.g. the detector's measured
    /// `{"detector": {"recall": 0.8, "false_positives_per_km2": 40}}`.
    #[arg(long)]
    pub evidence_config: Option<PathBuf>,
    #[command(flatten)]
    pub detector: DetectorOpts,
}

/// Which detector counts vehicles, shared by every counting subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DetectorOpts {
    /// Vehicle detector: the learned centre detector, or the classical top-hat blobs.
    #[arg(long, value_enum, default_value_t = Detector::Learned)]
    pub detector: Detector,
    /// Learned detector model file (from `stagewatch train`); default: the shipped model.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

impl DetectorOpts {
    /// Sets the detector and model of `p`; a bad model file is an error naming it.
    pub fn apply(&self, p: &mut crate::blobs::DetectParams) -> Result<()> {
        p.detector = self.detector;
        if self.detector == Detector::Tophat {
            if self.model.is_some() {
                return Err(Error::Usage("--model needs --detector learned".into()));
            }
            p.model_sha256 = None;
            p.model_path = None;
            return Ok(());
        }
        crate::learned::model::select(p, self.model.as_deref())
    }
}

impl AnalysisOpts {
    /// The settings these options select.
    pub fn settings(&self) -> Result<Settings> {
        let mut s = Settings::for_class(self.vehicle_class);
        s.margin_m = self.margin_m;
        s.coregister = !self.no_coregistration;
        s.normalise_radiometry = !self.no_normalisation;
        s.masks.clouds = !self.no_cloud_mask;
        self.detector.apply(&mut s.detect)?;
        s.calibrate_evidence();
        if let Some(p) = &self.evidence_config {
            // Fields the file leaves out keep the model's measured detector terms.
            s.evidence = crate::evidence::load_params_over(p, &s.evidence)?;
        }
        Ok(s)
    }
}

/// Which raster reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReaderArg {
    /// GDAL when this build has it, else the pure-Rust reader.
    Auto,
    /// The pure-Rust GeoTIFF reader.
    Rust,
    /// GDAL (needs a build with `--features gdal`).
    Gdal,
}

impl ReaderArg {
    /// The backend this choice selects.
    pub fn backend(self) -> Backend {
        match self {
            ReaderArg::Auto => Backend::default_for_build(),
            ReaderArg::Rust => Backend::PureRust,
            ReaderArg::Gdal => Backend::Gdal,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare two dates over a set of sites and score the withdrawal evidence.
    Compare {
        /// Image of the earlier date (GeoTIFF; any GDAL format with `--features gdal`).
        #[arg(long)]
        before: PathBuf,
        /// Image of the later date.
        #[arg(long)]
        after: PathBuf,
        /// Sites: GeoJSON FeatureCollection of lon/lat polygons with a string `id`.
        #[arg(long)]
        sites: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Acquisition date of the before image (YYYY-MM-DD); default: the file's DateTime.
        #[arg(long)]
        before_date: Option<String>,
        /// Acquisition date of the after image.
        #[arg(long)]
        after_date: Option<String>,
        /// Mask raster for the before date (nonzero = cloud or otherwise not observed).
        #[arg(long)]
        before_mask: Option<PathBuf>,
        /// Mask raster for the after date.
        #[arg(long)]
        after_mask: Option<PathBuf>,
        #[command(flatten)]
        analysis: AnalysisOpts,
    },
    /// Compare every date of a catalogue with the first: per-site and overall series,
    /// confirmation of lasting withdrawals, timeline.json/csv and PNG charts.
    Timeline {
        /// Catalogue: CSV or JSON Lines of `path,date`, or a local STAC ItemCollection.
        #[arg(long)]
        images: PathBuf,
        /// Sites GeoJSON.
        #[arg(long)]
        sites: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// STAC asset key of the image (default: the item's only GeoTIFF asset).
        #[arg(long)]
        asset: Option<String>,
        #[command(flatten)]
        analysis: AnalysisOpts,
    },
    /// Plan a batch: one JSON line per (site, before, after) job, keyed by a hash of
    /// its inputs, parameters and the tool version.
    Plan {
        /// Catalogue: CSV or JSON Lines of `path,date`, or a local STAC ItemCollection.
        #[arg(long)]
        images: PathBuf,
        /// Sites GeoJSON.
        #[arg(long)]
        sites: PathBuf,
        /// consecutive | baseline:YYYY-MM-DD | all-vs-latest
        #[arg(long, default_value = "consecutive")]
        pairs: crate::batch::Pairing,
        /// The plan to write (JSON Lines).
        #[arg(long)]
        out: PathBuf,
        /// STAC asset key of the image.
        #[arg(long)]
        asset: Option<String>,
        #[command(flatten)]
        analysis: AnalysisOpts,
    },
    /// Run the jobs of one shard of a plan that have no output yet.
    Run {
        /// The plan written by `plan` (JSON Lines, one job per line).
        #[arg(long)]
        plan: PathBuf,
        /// Output folder shared by all shards.
        #[arg(long)]
        out: PathBuf,
        /// This shard, I/N; default from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or
        /// AWS_BATCH_JOB_ARRAY_INDEX with --shards (or SLURM_ARRAY_TASK_COUNT).
        #[arg(long)]
        shard: Option<String>,
        /// Number of shards when the index comes from the environment.
        #[arg(long)]
        shards: Option<usize>,
        /// Events on stderr: a progress bar, or one JSON object per event.
        #[arg(long, value_enum, default_value_t = crate::batch::run::LogFormat::Text)]
        log_format: crate::batch::run::LogFormat,
    },
    /// Done, failed and missing jobs of a plan, and the missing shards in Slurm syntax.
    Status {
        /// The plan written by `plan`.
        #[arg(long)]
        plan: PathBuf,
        /// The output folder the shards write into (as given to `run`).
        #[arg(long)]
        out: PathBuf,
        /// Number of shards the plan is run with.
        #[arg(long, default_value_t = 1)]
        shards: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Combine the job outputs of a complete plan (report, CSV, detections, timeline).
    Merge {
        /// The plan written by `plan`.
        #[arg(long)]
        plan: PathBuf,
        /// The output folder the shards wrote into; the merged outputs go here too.
        #[arg(long)]
        out: PathBuf,
    },
    /// Count vehicles on a single date.
    Detect {
        /// The image.
        #[arg(long)]
        image: PathBuf,
        /// Sites GeoJSON.
        #[arg(long)]
        sites: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Acquisition date (YYYY-MM-DD); default: the file's DateTime.
        #[arg(long)]
        date: Option<String>,
        /// Mask raster (nonzero = not observed).
        #[arg(long)]
        mask: Option<PathBuf>,
        /// Vehicle sizes to count.
        #[arg(long, value_enum, default_value_t = VehicleClass::Military)]
        vehicle_class: VehicleClass,
        /// Raster reader.
        #[arg(long, value_enum, default_value_t = ReaderArg::Auto)]
        reader: ReaderArg,
        #[command(flatten)]
        detector: DetectorOpts,
    },
    /// Precision, recall, F1 and per-site count error of detections against truth.
    Eval {
        /// detections.geojson from `compare` or `detect`.
        #[arg(long)]
        detections: PathBuf,
        /// Truth: GeoJSON of vehicle points or polygons (`site_id`, `date` optional).
        #[arg(long)]
        truth: PathBuf,
        /// Maximum distance of a match, metres.
        #[arg(long, default_value_t = 1.5)]
        match_distance_m: f64,
        /// Compare this date only (the `date` property: `before`, `after`, ...) of a file
        /// with several dates; a file with one date or none is taken whole. Needed when the
        /// two files share no date (e.g. `detect` output, dated `image`, against `synth`
        /// truth); without it that case exits 2.
        #[arg(long)]
        date: Option<String>,
        /// Also write the result as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Wrap a labelled aerial frame (PNG + YOLO boxes) as a GeoTIFF scene for `detect`.
    WrapFrame {
        /// The frame: an 8-bit RGB PNG (or JPEG).
        #[arg(long)]
        png: PathBuf,
        /// YOLO labels: `class cx cy w h` per line, normalised.
        #[arg(long)]
        yolo: PathBuf,
        /// Ground sample distance to assign, metres.
        #[arg(long, default_value_t = 0.14)]
        gsd_m: f64,
        /// Label classes that are vehicles.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2,3")]
        classes: Vec<u32>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Render a synthetic before/after scenario with known truth.
    Synth {
        /// Output folder (not needed with --list).
        #[arg(long, required_unless_present = "list")]
        out: Option<PathBuf>,
        /// Scenario name (see --list).
        #[arg(long, default_value = "demo")]
        scenario: String,
        /// List the scenarios and series and exit.
        #[arg(long)]
        list: bool,
        /// Render a multi-date series (catalog.csv, images/, sites.geojson) instead of a pair.
        #[arg(long)]
        series: Option<String>,
        /// Render a large tiled archive pair of this many pixels square (memory tests).
        #[arg(long)]
        archive: Option<usize>,
        /// Number of sites of --archive.
        #[arg(long, default_value_t = 20)]
        archive_sites: usize,
    },
    /// Render the demo scenario into a temporary folder, compare it and print the result.
    Demo {
        /// Where to put the scene and outputs (default: a new temporary folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Scenario to run.
        #[arg(long, default_value = "demo")]
        scenario: String,
        /// Detector. The demo's rendered vehicles are flat rectangles that the classical
        /// detector was built on; the learned detector (the default of `compare`) is
        /// trained on real imagery and misses many of the packed ones.
        #[arg(long, value_enum, default_value_t = Detector::Tophat)]
        detector: Detector,
    },
    /// Screen a whole pair on one grid for changed vehicle-sized blobs (fast triage:
    /// no alignment or cloud masking) and write them as lon/lat polygons.
    Scan {
        /// Earlier Byte GeoTIFF.
        #[arg(long)]
        before: PathBuf,
        /// Later Byte GeoTIFF on the same grid (CRS, geotransform, size).
        #[arg(long)]
        after: PathBuf,
        /// GeoJSON file written (temporary file, then rename).
        #[arg(long)]
        out: PathBuf,
        /// Band compared (counted from 1).
        #[arg(long, default_value_t = 1)]
        band: usize,
        /// A pixel changed when |after - before| exceeds this many digital numbers.
        #[arg(long, default_value_t = 40)]
        threshold: u8,
        /// Smallest blob kept, square metres.
        #[arg(long, default_value_t = 4.0)]
        min_area_m2: f64,
        /// Largest blob kept, square metres.
        #[arg(long, default_value_t = 60.0)]
        max_area_m2: f64,
        /// No summary on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Hot-path benchmark (used by scripts/bench-vs-opencv): prints JSON.
    #[command(hide = true)]
    BenchHotpath {
        #[arg(long, default_value_t = 8192)]
        size: usize,
        #[arg(long, default_value_t = 4000)]
        vehicles: usize,
        /// Also write the pair here (raw bytes before.u8/after.u8, tiled DEFLATE
        /// before.tif/after.tif, tiled uncompressed before_raw.tif/after_raw.tif) and
        /// time the streamed path and inflate-only reads on those files.
        #[arg(long)]
        write_raw: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Train the learned vehicle detector on labelled frames (deterministic for a seed).
    Train(learned::TrainArgs),
    /// Measure a detector model on labelled frames (recall, precision, count error, false
    /// positives per km²) and write the evidence config those figures imply.
    Calibrate(learned::CalibrateArgs),
    /// Print what the reader knows of a raster (size, bands, CRS, transform) as JSON.
    Info {
        /// The raster.
        path: PathBuf,
        /// Raster reader.
        #[arg(long, value_enum, default_value_t = ReaderArg::Auto)]
        reader: ReaderArg,
        /// Also decode every pixel (checks the whole file).
        #[arg(long)]
        read: bool,
        /// Accept a TIFF without georeferencing (pure-Rust reader; pixels only).
        #[arg(long)]
        pixels_only: bool,
    },
}

/// `--margin-m`: a finite number of metres in 0-1000 (a negative margin would shrink the
/// context silently; a huge one reads far more imagery than any alignment needs).
pub(super) fn parse_margin_m(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of metres"))?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!("{s} is outside 0-1000 m"));
    }
    Ok(v)
}
