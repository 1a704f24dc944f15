//! The `report.json` contract and its companions (`sites.csv`, `detections.geojson`).
//!
//! `report.json` schema (version 2; fields may be added, never renamed; version 2 dropped
//! `parameters.vehicle_class`, which repeated `parameters.detect.vehicle_class`):
//!
//! ```text
//! { "schema_version": 2, "tool": {"name", "version"},
//!   "inputs": {"before": {"path","sha256","crs","gsd_m","date",...}, "after": {...},
//!              "sites": {"path","sha256"}},
//!   "parameters": {every tunable with its value},
//!   "sites": [ {"id","name","status","error","observed_fraction",
//!               "before": {"vehicles"}, "after": {"vehicles"},
//!               "delta": {"vehicles","ratio"}, "changed_fraction", ...} ],
//!   "withdrawal_evidence": {"score","verdict","sites_used", ...} }
//! ```
//!
//! Every input site appears once, in input order. Nothing time-dependent is written, so
//! the same inputs give byte-identical files whatever the thread count.

pub mod csv;
pub mod geojson;

use serde::{Deserialize, Serialize};

use crate::blobs::{ClassSpec, Polarity};
use crate::evidence::Evidence;
use crate::settings::Settings;

/// Current schema version of `report.json`.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub inputs: Inputs,
    pub parameters: Parameters,
    pub sites: Vec<SiteReport>,
    pub withdrawal_evidence: Evidence,
}

/// Name and version of the program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    /// This build.
    pub fn this() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The inputs, with checksums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub before: ImageInput,
    pub after: ImageInput,
    pub sites: FileInput,
}

/// One input image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInput {
    pub path: String,
    pub sha256: String,
    /// `EPSG:nnnn`.
    pub crs: String,
    /// Ground sample distance at the image centre, metres.
    pub gsd_m: f64,
    /// `YYYY-MM-DD` from the command line or the file's DateTime tag; null if unknown.
    pub date: Option<String>,
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub data_type: crate::raster::DataType,
}

/// A non-raster input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInput {
    pub path: String,
    pub sha256: String,
}

/// Every tunable, with its value: the run's [`Settings`] flattened, the class's size
/// limits (derived from `detect.vehicle_class`, for the reader) and the raster reader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    pub class_limits: ClassSpec,
    #[serde(flatten)]
    pub settings: Settings,
    /// `pure-rust` or `gdal`.
    pub reader: String,
}

impl Parameters {
    /// The parameters block of a run with `settings` read through `backend`.
    pub fn new(settings: &Settings, backend: crate::raster::Backend) -> Parameters {
        Parameters {
            class_limits: settings.detect.vehicle_class.spec(),
            settings: settings.clone(),
            reader: match backend {
                crate::raster::Backend::PureRust => "pure-rust".into(),
                crate::raster::Backend::Gdal => "gdal".into(),
            },
        }
    }
}

/// Coverage status of a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    Ok,
    PartialCoverage,
    NoCoverage,
    Error,
}

impl SiteStatus {
    /// The name used in `report.json` and `sites.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteStatus::Ok => "ok",
            SiteStatus::PartialCoverage => "partial_coverage",
            SiteStatus::NoCoverage => "no_coverage",
            SiteStatus::Error => "error",
        }
    }
}

/// Counts of one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateCounts {
    /// Vehicles counted on the area observed on both dates (what deltas compare).
    pub vehicles: u32,
    /// Vehicles counted over all of the site this date observed (equal to `vehicles`
    /// when both dates saw the same area; larger when the other date is clouded). The
    /// before date's is the denominator of `coverage`.
    #[serde(default)]
    pub vehicles_on_date: u32,
    /// Share of the site polygon observed on this date: inside the image, not nodata,
    /// not saturated, not masked, not under a cloud.
    pub observed_fraction: f64,
    /// Share of the site polygon under a detected cloud or haze on this date.
    pub cloud_fraction: f64,
}

/// The residual shift found between the dates of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coregistration {
    /// Displacement of the after image's content, grid pixels (right, down).
    pub dx_px: f64,
    pub dy_px: f64,
    /// Correlation peak over the next highest peak.
    pub peak_ratio: f64,
    pub reliable: bool,
    /// True when the after date was resampled again on the shifted grid.
    pub applied: bool,
}

/// After minus before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub vehicles: i64,
    /// after / before; null when before is 0.
    pub ratio: Option<f64>,
}

/// The analysis grid of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridReport {
    pub crs: String,
    pub gsd_m: f64,
    pub width: usize,
    pub height: usize,
    /// GDAL-order geotransform of the grid.
    pub geotransform: [f64; 6],
    /// `bilinear` or `average` per date.
    pub resampling_before: String,
    pub resampling_after: String,
}

/// One site's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteReport {
    pub id: String,
    pub name: Option<String>,
    pub status: SiteStatus,
    pub error: Option<String>,
    /// Share of the polygon observed on both dates; all counts are over this area.
    pub observed_fraction: f64,
    pub before: DateCounts,
    pub after: DateCounts,
    pub delta: Delta,
    pub changed_fraction: f64,
    /// Warnings such as `coregistration_unreliable`.
    pub flags: Vec<String>,
    pub coregistration: Option<Coregistration>,
    /// Gain and offset per band mapping the after date onto the before date.
    pub radiometry: Vec<crate::align::radiometry::BandFit>,
    pub grid: Option<GridReport>,
    /// Relative path of the change raster, when written.
    pub change_raster: Option<String>,
    /// Ground area observed on both dates, square metres.
    pub observed_area_m2: f64,
    /// Remaining fraction with its interval, the verdict and why.
    pub evidence: Option<crate::evidence::SiteEvidence>,
}

impl SiteReport {
    /// A site that failed with `msg`.
    pub fn failed(id: &str, name: Option<String>, msg: String) -> SiteReport {
        SiteReport {
            id: id.into(),
            name,
            status: SiteStatus::Error,
            error: Some(msg),
            observed_fraction: 0.0,
            before: DateCounts {
                vehicles: 0,
                vehicles_on_date: 0,
                observed_fraction: 0.0,
                cloud_fraction: 0.0,
            },
            after: DateCounts {
                vehicles: 0,
                vehicles_on_date: 0,
                observed_fraction: 0.0,
                cloud_fraction: 0.0,
            },
            delta: Delta {
                vehicles: 0,
                ratio: None,
            },
            changed_fraction: 0.0,
            flags: Vec::new(),
            coregistration: None,
            radiometry: Vec::new(),
            grid: None,
            change_raster: None,
            observed_area_m2: 0.0,
            evidence: None,
        }
    }
}

/// One detected vehicle, in lon/lat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub site_id: String,
    /// `before` or `after`.
    pub date: String,
    /// Acquisition date of that image, when known.
    pub acquisition_date: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub area_m2: f64,
    pub length_m: f64,
    pub width_m: f64,
    pub polarity: Polarity,
}

impl Detection {
    /// A detection from a blob on a site grid: its centroid carried to lon/lat.
    pub fn from_blob(
        b: &crate::blobs::Blob,
        grid: &crate::raster::grid::Grid,
        to_wgs: &crate::raster::crs::Transformer,
        site_id: &str,
        date: &str,
        acquisition_date: &Option<String>,
    ) -> crate::error::Result<Detection> {
        let (x, y) = grid.transform.apply(b.col, b.row);
        let (lon, lat) = to_wgs.apply_checked(x, y)?;
        Ok(Detection {
            site_id: site_id.into(),
            date: date.into(),
            acquisition_date: acquisition_date.clone(),
            lon,
            lat,
            area_m2: b.area_m2,
            length_m: b.length_m,
            width_m: b.width_m,
            polarity: b.polarity,
        })
    }
}

/// Serialises the report as pretty JSON with a trailing newline.
pub fn to_json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("report serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::VehicleClass;

    #[test]
    fn settings_survive_the_parameters_block() {
        let mut s = Settings::for_class(VehicleClass::Car);
        s.margin_m = 12.5;
        s.coregister = false;
        let p = Parameters::new(&s, crate::raster::Backend::PureRust);
        let json = serde_json::to_string(&p).unwrap();
        let back: Parameters = serde_json::from_str(&json).unwrap();
        assert_eq!(back.settings, s);
        assert_eq!(back.reader, "pure-rust");
        // One vehicle class, under `detect`.
        assert_eq!(json.matches("\"vehicle_class\"").count(), 1, "{json}");
    }
}
