//! One typed error for the whole crate (`thiserror`), every variant carrying the file it
//! concerns so a message is one line that names the file and the problem.

use std::path::{Path, PathBuf};

/// Every error stagewatch reports. Input errors (exit code 2) name the file; per-site
/// errors are recorded in the report instead of stopping the run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not a raster this build can decode (corrupt, truncated, not a TIFF).
    /// `msg` is the decoder's message on one line; `source` keeps the decoder's error
    /// itself (TIFF, GDAL or image decoding) where there is one.
    #[error("{}: not a readable raster: {msg}", path.display())]
    NotRaster {
        path: PathBuf,
        msg: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A valid file using a feature the pure-Rust reader does not implement.
    #[error("{}: {what} is not supported by the pure-Rust reader; build with `--features gdal` to read it through GDAL", path.display())]
    Unsupported { path: PathBuf, what: String },
    /// A raster without usable georeferencing (no geotransform or no EPSG code).
    #[error("{}: no usable georeferencing: {msg}", path.display())]
    NoGeoref { path: PathBuf, msg: String },
    /// The sites file is not a valid FeatureCollection of id'd polygons.
    #[error("{}: invalid sites GeoJSON: {msg}", path.display())]
    Sites { path: PathBuf, msg: String },
    /// A coordinate transformation failed or a CRS is unknown.
    #[error("CRS error: {0}")]
    Crs(String),
    /// A catalogue, truth file or other auxiliary input is malformed.
    #[error("{}: {msg}", path.display())]
    Input { path: PathBuf, msg: String },
    /// Invalid command-line usage not caught by the argument parser.
    #[error("{0}")]
    Usage(String),
    /// A detector model file that is not a model, or of another format version.
    #[error("{0}")]
    Model(String),
    /// A site that needs more memory than the process budget (`--max-site-mib`).
    #[error("{0}")]
    Memory(String),
    /// A site grid that cannot be built (a degenerate box, or too many pixels).
    #[error("site grid: {0}")]
    Grid(String),
    /// A site that cannot be analysed on its grid (its polygon covers no pixel, the
    /// dates differ in band count).
    #[error("{0}")]
    Site(String),
    /// The GeoTIFF encoder failed.
    #[error("GeoTIFF encoding failed: {0}")]
    Encode(#[source] tiff::TiffError),
    /// A raster the writers refuse (sample count, band count, size limits of the format).
    #[error("{}: cannot write: {msg}", path.display())]
    Write { path: PathBuf, msg: String },
    /// An error met once and reported again for every job that depends on it (an input
    /// pair opened once for many batch jobs).
    #[error("{0}")]
    Shared(#[source] std::sync::Arc<Error>),
}

/// A number as a message shows it: plain when moderate, in exponent form when huge or
/// tiny (an input of 1e300 is "1e300", not a 301-digit line).
///
/// ```
/// use stagewatch::error::num;
/// assert_eq!(num(35.9), "35.9");
/// assert_eq!(num(1e300), "1e300");
/// assert_eq!(num(-2.5e-9), "-2.5e-9");
/// ```
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-6..1e12).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A structural problem of `path` found by our own checks (no decoder error behind it).
    pub fn not_raster(path: &Path, msg: impl std::fmt::Display) -> Self {
        Error::NotRaster {
            path: path.to_path_buf(),
            msg: one_line(&msg.to_string()),
            source: None,
        }
    }

    /// A decoder's error on `path`, kept as the source.
    pub fn decode(path: &Path, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::NotRaster {
            path: path.to_path_buf(),
            msg: one_line(&source.to_string()),
            source: Some(Box::new(source)),
        }
    }

    /// A feature of `path` that only the GDAL build reads.
    pub fn unsupported(path: &Path, what: impl Into<String>) -> Self {
        Error::Unsupported {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// Missing or unusable georeferencing in `path`.
    pub fn no_georef(path: &Path, msg: impl Into<String>) -> Self {
        Error::NoGeoref {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// A problem in the sites file `path`.
    pub fn sites(path: &Path, msg: impl Into<String>) -> Self {
        Error::Sites {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// A problem in an auxiliary input file.
    pub fn input(path: &Path, msg: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

/// Folds a possibly multi-line message from a dependency into one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
