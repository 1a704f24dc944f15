//! stagewatch: did the troops really leave? Before/after imagery of staging areas,
//! aligned, differenced and counted per site, turned into withdrawal evidence.
//!
//! Every stage is a pure core (arrays in, values out) behind thin I/O. Modules in
//! pipeline order:
//!
//! - [`sites`]: the GeoJSON watch list, and polygons rasterised onto a site grid.
//! - [`raster`]: GeoTIFF reading and writing (pure Rust, or GDAL), CRS, grids, resampling.
//! - [`dates`]: acquisition dates reduced to real calendar dates.
//! - [`catalog`]: catalogues of dated images (CSV, JSON Lines, JSON).
//! - [`memory`]: each site's memory need and the budget parallel sites share.
//! - [`align`]: making the dates comparable: co-registration, radiometric
//!   normalisation, masks of what was not observed (clouds, nodata).
//! - [`change`]: per-pixel change between the co-gridded dates.
//! - [`detector`]: the vehicle detector chosen by the settings: [`learned`] (a small
//!   CenterNet, the default) or [`blobs`] (the classical top-hat blob detector).
//! - [`evidence`]: per-site and overall withdrawal evidence with intervals.
//! - [`settings`]: the one `Settings` type of a site analysis, recorded in every report
//!   and plan.
//! - [`pipeline`]: `compare`, `detect` and `timeline` end to end, one site at a time:
//!   reading and aligning a site (`site`) and its pure analysis (`analyse`).
//! - [`timeline`]: per-site series over many dates.
//! - [`report`]: the output contract (JSON, CSV, GeoJSON, change rasters).
//! - [`visual`]: what an analyst checks by eye: site chips, the overview map, SVG
//!   charts and the self-contained `report.html`.
//! - [`batch`]: `plan`/`run`/`merge` for Slurm arrays and Kubernetes Indexed Jobs.
//! - [`fast`]: `scan`, the streamed whole-pair triage.
//! - [`eval`]: detections scored against truth.
//! - [`synth`]: synthetic scenes and series with known truth.
//! - [`stats`], [`fsutil`], [`error`]: robust statistics (median, MAD, quantiles; the
//!   evidence's counting statistics are [`evidence::posterior`]), safe file access, the
//!   error type.
//! - [`cli`]: the command line, one file per subcommand (`main` only dispatches to it).
//!
//! One image convention runs through the float pipeline: an image of several bands is an
//! `ndarray` `Array3<f32>` indexed `[band, row, col]`, one band (brightness, a filter
//! response, a box mean) an `Array2` indexed `[row, col]`, taken as an `ArrayView2` and
//! returned owned. Gotchas where they bite:
//! - Masks (`valid`, `clear`, cloud, site interiors) are row-major `[bool]` slices with
//!   the shape of the image beside them; `blobs::label` and the mask morphology of
//!   [`change`] take that shape explicitly. They are combined pixel by pixel with `zip`,
//!   which the flat form keeps simple. The streamed `scan` packs them into bit rows
//!   ([`fast::bits`]).
//! - The learned detector's activations are its own `[h][w][c]` tensor
//!   ([`learned::net::Tensor`]): channels last, so its convolution kernels read every
//!   input channel of a pixel as one contiguous run. [`learned::prepare`] is the one
//!   place an image becomes a tensor.
//! - Inner loops that need flat indexes take `as_slice()` of a standard-layout array
//!   (`as_standard_layout()` first when a view might be strided).
//! - The synthetic scene renderer ([`synth`]) draws on flat `f64` planes of its own
//!   before writing GeoTIFFs; nothing downstream sees them.

pub mod align;
pub mod batch;
pub mod blobs;
pub mod catalog;
pub mod change;
pub mod cli;
pub mod dates;
pub mod detector;
pub mod error;
pub mod eval;
pub mod evidence;
pub mod fast;
pub mod fsutil;
pub mod learned;
pub mod memory;
pub mod pipeline;
pub mod raster;
pub mod report;
pub mod settings;
pub mod sites;
pub mod stats;
pub mod synth;
pub mod timeline;
pub mod visual;

pub use error::{Error, Result};
