//! `stagewatch info`: what the reader sees of a raster, as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::ReaderArg;
use crate::error::Result;
use crate::raster::open;

/// Print what the reader knows of a raster (size, bands, CRS, transform) as JSON.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The raster.
    pub path: PathBuf,
    /// Raster reader.
    #[arg(long, value_enum, default_value_t = ReaderArg::Auto)]
    pub reader: ReaderArg,
    /// Also decode every pixel (checks the whole file).
    #[arg(long)]
    pub read: bool,
    /// Accept a TIFF without georeferencing (pure-Rust reader; pixels only).
    #[arg(long)]
    pub pixels_only: bool,
}

/// Runs `info`.
pub fn run(a: Args) -> Result<ExitCode> {
    let Args {
        path,
        reader,
        read,
        pixels_only,
    } = a;
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
