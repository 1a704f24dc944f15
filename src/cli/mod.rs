//! Command-line interface (clap derive). `main` stays thin: it calls [`run`] and turns
//! the result into an exit code: 0 success, 1 when some sites failed, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod batch;
mod bench;
mod learned;

use crate::blobs::{Detector, VehicleClass};
use crate::error::{Error, Result};
use crate::pipeline::{run_compare, CompareArgs, CompareOutcome, Settings};
use crate::raster::{open, Backend};
use crate::report::SiteStatus;
use crate::synth::{render_scenario, SCENARIOS};

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

/// `--margin-m`: a finite number of metres in 0-1000 (a negative margin would shrink the
/// context silently; a huge one reads far more imagery than any alignment needs).
fn parse_margin_m(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of metres"))?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!("{s} is outside 0-1000 m"));
    }
    Ok(v)
}

fn summary(o: &CompareOutcome, out: &std::path::Path, truth: Option<&crate::synth::Truth>) {
    let inputs = &o.report.inputs;
    let date = |d: &Option<String>| d.clone().unwrap_or_else(|| "undated".into());
    println!(
        "before {} ({}), after {} ({})",
        date(&inputs.before.date),
        inputs.before.path,
        date(&inputs.after.date),
        inputs.after.path
    );
    println!(
        "{:<10} {:<17} {:>8} {:>7} {:>7} {:>8} {:>9}  {:<18} remaining (90 %)",
        "site", "status", "observed", "before", "after", "changed", "truth", "verdict"
    );
    for s in &o.report.sites {
        let t = truth
            .and_then(|t| t.sites.iter().find(|x| x.id == s.id))
            .map(|x| format!("{}->{}", x.before_vehicles, x.after_vehicles))
            .unwrap_or_default();
        let (verdict, remaining) = match &s.evidence {
            Some(e) => (
                e.verdict.as_str(),
                e.remaining_fraction
                    .map(|r| format!("{:.2} ({:.2}-{:.2})", r.estimate, r.low, r.high))
                    .unwrap_or_default(),
            ),
            None => ("", String::new()),
        };
        println!(
            "{:<10} {:<17} {:>7.1}% {:>7} {:>7} {:>7.1}% {:>9}  {:<18} {}",
            s.id,
            s.status.as_str(),
            100.0 * s.observed_fraction,
            s.before.vehicles,
            s.after.vehicles,
            100.0 * s.changed_fraction,
            t,
            verdict,
            remaining
        );
        if let Some(e) = &s.error {
            println!("           error: {e}");
        }
    }
    let e = &o.report.withdrawal_evidence;
    println!(
        "withdrawal evidence: score {:.2}, verdict {}, {} sites used, coverage {:.0} %",
        e.score,
        e.verdict.as_str(),
        e.sites_used,
        100.0 * e.coverage
    );
    for r in &e.redeployments {
        println!(
            "  redeployment: about {:.0} vehicles from {} to {} ({:.1} km)",
            r.vehicles,
            r.from,
            r.to,
            r.distance_m / 1000.0
        );
    }
    println!(
        "observed: share of the site seen on both dates; before/after: vehicles counted there; \
         changed: share of the observed site whose pixels changed; remaining: after/before true \
         numbers, estimate (90 % interval)"
    );
    println!("outputs: {}", out.display());
}

fn exit_for(o: &CompareOutcome) -> ExitCode {
    if o.site_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(mib) = cli.max_site_mib {
        crate::memory::set_budget_mib(mib);
    }
    match cli.command {
        Command::Train(a) => learned::run_train(&a, cli.quiet),
        Command::Calibrate(a) => learned::run_calibrate(&a, cli.quiet),
        Command::Compare {
            before,
            after,
            sites,
            out,
            before_date,
            after_date,
            before_mask,
            after_mask,
            analysis,
        } => {
            for (flag, d) in [("--before-date", &before_date), ("--after-date", &after_date)] {
                if let Some(d) = d {
                    if crate::dates::normalise_date(d).as_deref() != Some(d.as_str()) {
                        return Err(Error::Usage(format!("{flag} {d:?} is not a YYYY-MM-DD date")));
                    }
                }
            }
            let settings = analysis.settings()?;
            let args = CompareArgs {
                before,
                after,
                sites,
                out: out.clone(),
                before_date,
                after_date,
                before_mask,
                after_mask,
                settings,
                backend: analysis.reader.backend(),
                progress: !cli.quiet,
            };
            let o = run_compare(&args)?;
            if !cli.quiet {
                summary(&o, &out, None);
            }
            for s in o.report.sites.iter().filter(|s| s.status == SiteStatus::Error) {
                eprintln!("stagewatch: site {}: {}", s.id, s.error.as_deref().unwrap_or(""));
            }
            Ok(exit_for(&o))
        }
        Command::Timeline {
            images,
            sites,
            out,
            asset,
            analysis,
        } => batch::timeline(images, sites, out, asset, &analysis, cli.quiet),
        Command::Plan {
            images,
            sites,
            pairs,
            out,
            asset,
            analysis,
        } => batch::plan(images, sites, pairs, out, asset, &analysis, cli.quiet),
        Command::Run {
            plan,
            out,
            shard,
            shards,
            log_format,
        } => batch::run(plan, out, shard, shards, log_format, cli.quiet),
        Command::Status {
            plan,
            out,
            shards,
            json,
        } => batch::status(&plan, &out, shards, json),
        Command::Merge { plan, out } => batch::merge(&plan, &out, cli.quiet),
        Command::Detect {
            image,
            sites,
            out,
            date,
            mask,
            vehicle_class,
            reader,
            detector,
        } => {
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
            if !cli.quiet {
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
        Command::Eval {
            detections,
            truth,
            match_distance_m,
            date,
            out,
        } => {
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
        Command::WrapFrame {
            png,
            yolo,
            gsd_m,
            classes,
            out,
        } => {
            let f = crate::eval::frames::wrap_frame(&png, &yolo, gsd_m, &classes, &out)?;
            if !cli.quiet {
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
        Command::Synth {
            out,
            scenario,
            list,
            series,
            archive,
            archive_sites,
        } => {
            if list {
                for name in SCENARIOS.iter().chain(crate::synth::PARK_SCENARIOS) {
                    println!("{name}: {}", crate::synth::scenario(name)?.description);
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
                if !cli.quiet {
                    println!("wrote {}, {}", a.catalog.display(), a.sites.display());
                }
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(name) = series {
                let r = crate::synth::series::render_series(&name, &out)?;
                if !cli.quiet {
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
            if !cli.quiet {
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
        Command::Demo {
            out,
            scenario,
            detector,
        } => {
            let dir = out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("stagewatch-demo-{}", std::process::id()))
            });
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
                progress: !cli.quiet,
            };
            let o = run_compare(&args)?;
            summary(&o, &args.out, Some(&r.truth_data));
            if detector == Detector::Tophat {
                println!(
                    "detector: tophat (the classical detector these rendered scenes were built with); \
                     `compare` counts with the learned detector by default, which is trained on real \
                     imagery and misses many of these packed rendered vehicles (`demo --detector learned`)"
                );
            }
            Ok(exit_for(&o))
        }
        Command::Scan {
            before,
            after,
            out,
            band,
            threshold,
            min_area_m2,
            max_area_m2,
            quiet,
        } => {
            let args = crate::pipeline::scan::ScanArgs {
                before,
                after,
                out,
                band,
                threshold,
                min_area_m2,
                max_area_m2,
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
        Command::BenchHotpath {
            size,
            vehicles,
            write_raw,
            repeats,
        } => bench::bench_hotpath(size, vehicles, write_raw, repeats),
        Command::Info {
            path,
            reader,
            read,
            pixels_only,
        } => {
            let src: Box<dyn crate::raster::RasterSource> = if pixels_only {
                Box::new(crate::raster::geotiff::GeoTiff::open_pixels_only(&path)?)
            } else {
                open(&path, reader.backend())?
            };
            if read {
                crate::raster::read_all(src.as_ref())?;
            }
            let i = src.info();
            // West, south, east, north in degrees: what a sites file is written in.
            let bounds = crate::raster::crs::Crs::from_epsg(i.epsg)
                .ok()
                .and_then(|c| crate::raster::crs::bounds_wgs84(&c, &i.transform, i.width, i.height))
                .map(|b| b.map(|v| (v * 1e7).round() / 1e7));
            let v = serde_json::json!({
                "path": i.path.display().to_string(), "width": i.width, "height": i.height,
                "bands": i.bands, "data_type": i.data_type, "crs": format!("EPSG:{}", i.epsg),
                "geotransform": i.transform.0, "nodata": i.nodata, "datetime": i.datetime,
                "bounds_wgs84": bounds,
            });
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
