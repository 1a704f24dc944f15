//! The argument groups several subcommands share (`AnalysisOpts`, `DetectorOpts`,
//! `CatalogOpts`, `PlanOpts`, and `LabelledInputs` of `train` and `calibrate`, flattened
//! with `#[command(flatten)]`). The top-level
//! options and the list of subcommands are in [`super`]; each subcommand's own
//! arguments and handler live in the file of its name beside this one.

use std::path::PathBuf;

use crate::learned::frames::{folder_entries, geotiff_entry, shared_entries, Entry, Split};

use crate::blobs::{Detector, VehicleClass};
use crate::error::{Error, Result};
use crate::raster::Backend;
use crate::settings::Settings;

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

/// Which images and sites a multi-date run reads, shared by `timeline` and `plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogOpts {
    /// Catalogue: CSV or JSON Lines of `path,date`, or a local STAC ItemCollection.
    #[arg(long)]
    pub images: PathBuf,
    /// Sites GeoJSON.
    #[arg(long)]
    pub sites: PathBuf,
    /// STAC asset key of the image (default: the item's only GeoTIFF asset).
    #[arg(long)]
    pub asset: Option<String>,
}

/// A plan and the output folder its jobs write into, shared by `run`, `status` and
/// `merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanOpts {
    /// The plan written by `plan` (JSON Lines, one job per line).
    #[arg(long)]
    pub plan: PathBuf,
    /// The output folder shared by all shards (`merge` writes its outputs there too).
    #[arg(long)]
    pub out: PathBuf,
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

/// Whether `report.html` is written.
#[derive(Debug, Clone, clap::Args)]
pub struct HtmlOpts {
    /// Do not write `report.html` (chips under `chips/` are written either way).
    #[arg(long)]
    pub no_html: bool,
}

impl HtmlOpts {
    /// The choice as the pipeline takes it.
    pub fn html(&self) -> crate::pipeline::Html {
        if self.no_html {
            crate::pipeline::Html::Skip
        } else {
            crate::pipeline::Html::Write
        }
    }
}

/// `views` if 1 or 4.
pub(super) fn check_views(views: usize, cmd: &str) -> Result<usize> {
    if views == 1 || views == 4 {
        Ok(views)
    } else {
        Err(Error::Usage(format!(
            "{cmd}: --views must be 1 or 4, not {views}"
        )))
    }
}

/// Labelled imagery for `train` and `calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct LabelledInputs {
    /// The shared labelled set (`aerial-vehicles/` with kit-munich, minsk-drone, armour):
    /// `train` uses its training sequences, `calibrate` its measuring ones.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A folder of your own labelled frames (PNG/JPEG + YOLO `.txt`), at `--frames-gsd-m`.
    #[arg(long)]
    pub frames: Vec<PathBuf>,
    /// Pixel size of the `--frames` folders, metres.
    #[arg(long, default_value_t = 0.3)]
    pub frames_gsd_m: f64,
    /// Your own georeferenced image (GeoTIFF; first three bands), with `--truth`.
    #[arg(long)]
    pub geotiff: Vec<PathBuf>,
    /// GeoJSON of the vehicles in the matching `--geotiff` (points or polygons, lon/lat).
    #[arg(long)]
    pub truth: Vec<PathBuf>,
    /// Length given to point labels, metres.
    #[arg(long, default_value_t = 7.0)]
    pub point_length_m: f64,
    /// The validation sequences of the shared set's training side (KIT `MunichStreet02`,
    /// Minsk `DJI-00760`): `exclude` trains without them, `only` keeps nothing else (to
    /// compare training recipes without looking at the measuring frames).
    #[arg(long, value_enum)]
    pub validation: Option<Validation>,
}

/// What to do with the validation sequences ([`VALIDATION_SEQUENCES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Validation {
    Exclude,
    Only,
}

/// Training-side sequences held out to choose between training recipes: one per
/// street source, each a separate flight, so the held-out vehicles were never seen.
pub const VALIDATION_SEQUENCES: [&str; 2] = ["kit-munich/MunichStreet02", "minsk-drone/DJI-00760"];

impl LabelledInputs {
    /// The shared set's entries of `split` (those with complete labels only when
    /// `complete_only`) plus every frame given by the user.
    pub(super) fn entries(&self, split: Split, complete_only: bool, cmd: &str) -> Result<Vec<Entry>> {
        let mut e: Vec<Entry> = match &self.data {
            Some(d) => shared_entries(d)?
                .into_iter()
                .filter(|e| e.split == split && !(complete_only && e.incomplete))
                .filter(|e| {
                    let held =
                        VALIDATION_SEQUENCES.contains(&format!("{}/{}", e.source, e.sequence).as_str());
                    match self.validation {
                        None => true,
                        Some(Validation::Exclude) => !held,
                        Some(Validation::Only) => held,
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        for f in &self.frames {
            e.extend(folder_entries(f, self.frames_gsd_m)?);
        }
        if self.geotiff.len() != self.truth.len() {
            return Err(Error::Usage(format!("{cmd}: give one --truth per --geotiff")));
        }
        for (t, g) in self.geotiff.iter().zip(&self.truth) {
            e.push(geotiff_entry(t, g, self.point_length_m)?);
        }
        if e.is_empty() {
            return Err(Error::Usage(format!(
                "{cmd}: no labelled frames (give --data, --frames or --geotiff/--truth)"
            )));
        }
        Ok(e)
    }
}
