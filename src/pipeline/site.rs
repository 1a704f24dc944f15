//! One site, two dates: grid, resampling, masks, change and vehicle counts.
//!
//! The site polygon is carried into the before image's CRS (or the local UTM zone when
//! that CRS is geographic); its bounding box plus a margin becomes a north-up grid at the
//! coarser of the two dates' pixel sizes; both dates are resampled onto it. A pixel is
//! *observed* on a date when it lies inside the polygon, inside the image and is not
//! nodata there; change and counts use only pixels observed on both dates, and a
//! vehicle counts when its centroid falls on such a pixel.

use ndarray::Array3;

use crate::blobs::{detect, Blob};
use crate::change::{detect_change, Change};
use crate::error::{Error, Result};
use crate::raster::crs::{utm_epsg_for, Crs, Transformer};
use crate::raster::grid::{grid_for_bbox, pixel_size_in, Grid};
use crate::raster::resample::{resample, Method};
use crate::raster::RasterSource;
use crate::report::{DateCounts, Delta, GridReport, SiteReport, SiteStatus};
use crate::sites::{bbox, rasterize, Polygon, Site};

use super::Settings;

/// An opened image with its CRS.
pub struct Dated<'a> {
    pub src: &'a dyn RasterSource,
    pub crs: Crs,
    /// Label used in outputs: `before` or `after`.
    pub label: &'static str,
}

/// Everything computed for a site.
pub struct SiteOutcome {
    pub report: SiteReport,
    /// Counted blobs per date, with their grid.
    pub blobs_before: Vec<Blob>,
    pub blobs_after: Vec<Blob>,
    pub grid: Option<Grid>,
    pub change: Option<Change>,
    /// Pixels observed on both dates.
    pub valid_both: Vec<bool>,
}

fn method_name(m: Method) -> String {
    match m {
        Method::Bilinear => "bilinear".into(),
        Method::Average { .. } => "average".into(),
    }
}

/// Validity per pixel: inside the polygon and finite in every band.
fn observed(img: &Array3<f32>, inside: &[bool]) -> Vec<bool> {
    let (bands, h, w) = img.dim();
    let mut v = inside.to_vec();
    for b in 0..bands {
        for r in 0..h {
            for c in 0..w {
                if !img[[b, r, c]].is_finite() {
                    v[r * w + c] = false;
                }
            }
        }
    }
    v
}

/// Finite in every band (no polygon restriction): where detection may look.
fn finite_all(img: &Array3<f32>) -> Vec<bool> {
    let (_, h, w) = img.dim();
    observed(img, &vec![true; h * w])
}

/// The grid of a site and its polygons in grid coordinates.
pub fn site_grid(
    site: &Site,
    before: &Dated,
    after: &Dated,
    s: &Settings,
) -> Result<(Grid, Crs, Vec<Polygon>)> {
    let (alon, alat) = site.anchor();
    let grid_crs = if before.crs.is_geographic() {
        Crs::from_epsg(utm_epsg_for(alon, alat))?
    } else {
        before.crs.clone()
    };
    let to_grid = Transformer::new(&Crs::wgs84(), &grid_crs);
    let polys: Vec<Polygon> = site
        .polygons
        .iter()
        .map(|p| {
            p.iter()
                .map(|ring| {
                    ring.iter()
                        .map(|&(x, y)| to_grid.apply_checked(x, y))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let bb = bbox(&polys);
    let (cx, cy) = ((bb.0 + bb.2) / 2.0, (bb.1 + bb.3) / 2.0);
    // Ground metres per grid-CRS unit at the site (1 for UTM, cos(lat) for Web Mercator).
    let local = Crs::from_epsg(utm_epsg_for(alon, alat))?;
    let to_local = Transformer::new(&grid_crs, &local);
    let a = to_local.apply_checked(cx, cy)?;
    let b = to_local.apply_checked(cx + 1.0, cy)?;
    let ground_scale = (b.0 - a.0).hypot(b.1 - a.1);
    let px_b = pixel_size_in(before.src.info(), &before.crs, &grid_crs, cx, cy)?;
    let px_a = pixel_size_in(after.src.info(), &after.crs, &grid_crs, cx, cy)?;
    let pixel = px_b.max(px_a);
    let grid = grid_for_bbox(
        grid_crs.epsg,
        bb,
        s.margin_m / ground_scale,
        pixel,
        ground_scale,
    )?;
    Ok((grid, grid_crs, polys))
}

/// Runs one site end to end; errors become an `error` status by the caller.
pub fn process_site(
    site: &Site,
    before: &Dated,
    after: &Dated,
    s: &Settings,
) -> Result<SiteOutcome> {
    let (grid, grid_crs, polys) = site_grid(site, before, after, s)?;
    let inside = rasterize(&polys, &grid);
    let n_inside = inside.iter().filter(|&&b| b).count();
    if n_inside == 0 {
        return Err(Error::Usage(format!(
            "site polygon covers no pixel of its {:.2} m grid",
            grid.gsd_m
        )));
    }
    let rb = resample(before.src, &before.crs, &grid, &grid_crs)?;
    let ra = resample(after.src, &after.crs, &grid, &grid_crs)?;
    if rb.data.dim().0 != ra.data.dim().0 {
        return Err(Error::Usage(format!(
            "before has {} bands, after has {}",
            rb.data.dim().0,
            ra.data.dim().0
        )));
    }
    let obs_b = observed(&rb.data, &inside);
    let obs_a = observed(&ra.data, &inside);
    let valid_both: Vec<bool> = obs_b.iter().zip(&obs_a).map(|(a, b)| *a && *b).collect();
    let frac = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / n_inside as f64;
    let (fb, fa, fboth) = (frac(&obs_b), frac(&obs_a), frac(&valid_both));
    let status = if fb == 0.0 && fa == 0.0 {
        SiteStatus::NoCoverage
    } else if fboth >= s.full_coverage_fraction {
        SiteStatus::Ok
    } else {
        SiteStatus::PartialCoverage
    };
    let grid_report = GridReport {
        crs: grid_crs.name(),
        gsd_m: grid.gsd_m,
        width: grid.width,
        height: grid.height,
        geotransform: grid.transform.0,
        resampling_before: method_name(rb.method),
        resampling_after: method_name(ra.method),
    };
    let mut report = SiteReport {
        id: site.id.clone(),
        name: site.name.clone(),
        status,
        error: None,
        observed_fraction: fboth,
        before: DateCounts {
            vehicles: 0,
            observed_fraction: fb,
        },
        after: DateCounts {
            vehicles: 0,
            observed_fraction: fa,
        },
        delta: Delta {
            vehicles: 0,
            ratio: None,
        },
        changed_fraction: 0.0,
        grid: Some(grid_report),
        change_raster: None,
    };
    if status == SiteStatus::NoCoverage || fboth == 0.0 {
        return Ok(SiteOutcome {
            report,
            blobs_before: vec![],
            blobs_after: vec![],
            grid: Some(grid),
            change: None,
            valid_both,
        });
    }
    let counted = |img: &Array3<f32>| -> Vec<Blob> {
        let look = finite_all(img);
        detect(img, &look, grid.gsd_m, &s.detect)
            .into_iter()
            .filter(|b| {
                let (c, r) = (b.col.floor() as usize, b.row.floor() as usize);
                c < grid.width && r < grid.height && valid_both[r * grid.width + c]
            })
            .collect()
    };
    let blobs_before = counted(&rb.data);
    let blobs_after = counted(&ra.data);
    let change = detect_change(&rb.data, &ra.data, &valid_both, &s.change);
    let (nb, na) = (blobs_before.len() as u32, blobs_after.len() as u32);
    report.before.vehicles = nb;
    report.after.vehicles = na;
    report.delta = Delta {
        vehicles: na as i64 - nb as i64,
        ratio: (nb > 0).then(|| na as f64 / nb as f64),
    };
    report.changed_fraction = change.changed_fraction;
    Ok(SiteOutcome {
        report,
        blobs_before,
        blobs_after,
        grid: Some(grid),
        change: Some(change),
        valid_both,
    })
}
