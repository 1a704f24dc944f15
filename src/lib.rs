//! stagewatch: did the troops really leave? Before/after imagery of staging areas,
//! aligned, differenced and counted per site, turned into withdrawal evidence.
//!
//! Stages, each a pure core (arrays in, values out) behind thin I/O:
//! [`raster`] (GeoTIFF I/O, CRS, grids, resampling), [`sites`] (GeoJSON watch list),
//! [`change`] (per-pixel change), [`blobs`] (vehicle-sized blobs), [`evidence`] (the
//! score), [`report`] (the output contract), [`pipeline`] (`compare` end to end),
//! [`synth`] (scenes with known truth) and [`cli`].

pub mod align;
pub mod batch;
pub mod blobs;
pub mod catalog;
pub mod change;
pub mod cli;
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
pub mod sites;
pub mod stats;
pub mod synth;
pub mod timeline;

pub use error::{Error, Result};
