//! Rendering one date of a synthetic world as a GeoTIFF, with the nuisances of the
//! [`ImageSpec`]: misregistration (content displaced in the world frame), a cloud
//! (smooth bright disc), radiometric gain and offset, Gaussian blur in pixel space and
//! deterministic per-pixel sensor noise (a hash of pixel and seed, so the result does
//! not depend on the thread count).

use std::path::Path;

use rayon::prelude::*;

use super::scene::{hash01, World};
use super::{ImageSpec, SampleType, ANCHOR, WORLD_EPSG};
use crate::error::Result;
use crate::raster::crs::{Crs, Transformer};
use crate::raster::write::{write_geotiff, GeoMeta, Samples};
use crate::raster::GeoTransform;

/// Image grid of `spec`: its extent carried into the image CRS, snapped to the GSD.
pub fn image_grid(spec: &ImageSpec, origin: (f64, f64)) -> Result<(GeoTransform, usize, usize)> {
    let world = Crs::from_epsg(WORLD_EPSG)?;
    let crs = Crs::from_epsg(spec.epsg)?;
    let tr = Transformer::new(&world, &crs);
    let (x0, y0, x1, y1) = spec.extent_m;
    let mut b = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for (x, y) in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)] {
        let (px, py) = tr.apply_checked(origin.0 + x, origin.1 + y)?;
        b = (b.0.min(px), b.1.min(py), b.2.max(px), b.3.max(py));
    }
    let (px_w, px_h) = if crs.is_geographic() {
        let lat = ANCHOR.1.to_radians();
        (spec.gsd_m / (111_320.0 * lat.cos()), spec.gsd_m / 110_574.0)
    } else {
        (spec.gsd_m, spec.gsd_m)
    };
    let left = (b.0 / px_w).floor() * px_w;
    let top = (b.3 / px_h).ceil() * px_h;
    let width = ((b.2 - left) / px_w).ceil() as usize;
    let height = ((top - b.1) / px_h).ceil() as usize;
    Ok((GeoTransform::north_up(left, top, px_w, px_h), width, height))
}

/// Cloud opacity at world point (x, y) for a cloud at (cx, cy) of radius r (metres).
fn cloud_alpha(x: f64, y: f64, cloud: (f64, f64, f64)) -> f64 {
    let d = (x - cloud.0).hypot(y - cloud.1) / cloud.2;
    0.92 * ((1.25 - d) / 0.5).clamp(0.0, 1.0)
}

/// Band-sequential reflectance-like planes of one date, before noise and scaling.
fn planes(
    spec: &ImageSpec,
    world: &World,
    origin: (f64, f64),
    gt: &GeoTransform,
    w: usize,
    h: usize,
) -> Result<Vec<Vec<f64>>> {
    let tr = Transformer::new(&Crs::from_epsg(spec.epsg)?, &Crs::from_epsg(WORLD_EPSG)?);
    let cloud = spec.cloud.map(|(x, y, r)| (origin.0 + x, origin.1 + y, r));
    let rows: Vec<Vec<[f64; 4]>> = (0..h)
        .into_par_iter()
        .map(|r| {
            (0..w)
                .map(|c| {
                    let mut acc = [0.0f64; 4];
                    for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                        let (x, y) = gt.apply(c as f64 + sx, r as f64 + sy);
                        if let Some((wx, wy)) = tr.apply(x, y) {
                            let (wx, wy) = (wx - spec.shift_m.0, wy - spec.shift_m.1);
                            let mut rf = world.reflectance(wx, wy, spec.season);
                            if let Some(cl) = cloud {
                                let a = cloud_alpha(wx, wy, cl);
                                let puff = 0.03 * (hash01((wx / 4.0) as i64, (wy / 4.0) as i64, 99) - 0.5);
                                let white = [0.86 + puff, 0.87 + puff, 0.89 + puff, 0.84 + puff];
                                for b in 0..4 {
                                    rf[b] = rf[b] * (1.0 - a) + white[b] * a;
                                }
                            }
                            for b in 0..4 {
                                acc[b] += rf[b] / 4.0;
                            }
                        }
                    }
                    acc.map(|v| v * spec.gain + spec.offset)
                })
                .collect()
        })
        .collect();
    let mut out = vec![vec![0.0; w * h]; spec.bands];
    for (r, row) in rows.iter().enumerate() {
        for (c, px) in row.iter().enumerate() {
            for (b, plane) in out.iter_mut().enumerate() {
                plane[r * w + c] = px[b];
            }
        }
    }
    if spec.blur_px > 0.0 {
        for plane in out.iter_mut() {
            *plane = gaussian_blur(plane, w, h, spec.blur_px);
        }
    }
    Ok(out)
}

/// Separable Gaussian blur with edge clamping.
pub fn gaussian_blur(v: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let rad = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-rad..=rad)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    let k: Vec<f64> = k.iter().map(|x| x / sum).collect();
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        (0..h)
            .into_par_iter()
            .flat_map_iter(|y| {
                let k = &k;
                (0..w).map(move |x| {
                    let mut acc = 0.0;
                    for (j, kv) in k.iter().enumerate() {
                        let o = j as isize - rad;
                        let (xx, yy) = if horizontal {
                            ((x as isize + o).clamp(0, w as isize - 1) as usize, y)
                        } else {
                            (x, (y as isize + o).clamp(0, h as isize - 1) as usize)
                        };
                        acc += kv * src[yy * w + xx];
                    }
                    acc
                })
            })
            .collect()
    };
    pass(&pass(v, true), false)
}

/// Renders and writes one date.
pub fn write_date(path: &Path, spec: &ImageSpec, world: &World, origin: (f64, f64)) -> Result<()> {
    let (gt, w, h) = image_grid(spec, origin)?;
    let planes = planes(spec, world, origin, &gt, w, h)?;
    let scale = match spec.sample_type {
        SampleType::Byte => 255.0,
        SampleType::UInt16 => 10_000.0,
    };
    let n = w * h;
    let mut vals = Vec::with_capacity(n * spec.bands);
    for i in 0..n {
        let (c, r) = ((i % w) as i64, (i / w) as i64);
        for (b, plane) in planes.iter().enumerate() {
            let u = hash01(c, r, spec.seed * 8 + b as u64);
            let u2 = hash01(r, c, spec.seed * 8 + b as u64 + 4);
            // Triangular noise with standard deviation `noise`.
            let noise = (u + u2 - 1.0) * spec.noise * 6f64.sqrt();
            vals.push(((plane[i] + noise) * scale).clamp(1.0, scale));
        }
    }
    let meta = GeoMeta {
        epsg: spec.epsg,
        transform: gt,
        nodata: Some(0.0),
        datetime: Some(format!("{} 10:30:00", spec.date.replace('-', ":"))),
    };
    match spec.sample_type {
        SampleType::Byte => {
            let v: Vec<u8> = vals.iter().map(|&x| x.round() as u8).collect();
            write_geotiff(path, w, h, spec.bands, Samples::U8(&v), &meta)
        }
        SampleType::UInt16 => {
            let v: Vec<u16> = vals.iter().map(|&x| x.round() as u16).collect();
            write_geotiff(path, w, h, spec.bands, Samples::U16(&v), &meta)
        }
    }
}
