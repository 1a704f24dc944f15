//! One site, two dates: grid, resampling, masks, co-registration, radiometric
//! normalisation, change and vehicle counts.
//!
//! The site polygon is carried into the before image's CRS (or the local UTM zone when
//! that CRS is geographic); its bounding box plus a margin becomes a north-up grid at the
//! coarser of the two dates' pixel sizes; both dates are resampled onto it. A pixel is
//! *clear* on a date when it lies inside the image, is not nodata, not saturated, not
//! masked by the user and not under a detected cloud; *observed* when clear and inside
//! the polygon. The after date is then shifted onto the before date (phase correlation;
//! re-resampled from the source on the shifted grid, so no second interpolation) and
//! mapped onto its radiometry. Change and counts use only pixels observed on both dates,
//! and a vehicle counts when its centroid falls on such a pixel.

use ndarray::Array3;

use crate::align::coreg::{estimate_shift, Shift};
use crate::align::masks::{cloud_mask, saturated};
use crate::align::radiometry::{apply, fit_band, BandFit};
use crate::blobs::{brightness, Blob};
use crate::change::{detect_change, Change};
use crate::detector::detect;
use crate::error::{Error, Result};
use crate::raster::crs::{utm_epsg_for, Crs, Transformer};
use crate::raster::grid::{grid_for_bbox, pixel_size_in, Grid};
use crate::raster::resample::{resample, Method};
use crate::raster::{DataType, RasterSource};
use crate::report::{Coregistration, DateCounts, Delta, GridReport, SiteReport, SiteStatus};
use crate::sites::{bbox, rasterize, Polygon, Site};

use super::Settings;

/// An opened image with its CRS and optional mask raster.
pub struct Dated<'a> {
    pub src: &'a dyn RasterSource,
    pub crs: Crs,
    /// Nonzero = not observed (clouds marked by the provider, say).
    pub mask: Option<(&'a dyn RasterSource, Crs)>,
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

/// Finite in every band.
fn finite_all(img: &Array3<f32>) -> Vec<bool> {
    let (bands, h, w) = img.dim();
    let mut v = vec![true; h * w];
    for b in 0..bands {
        for (i, x) in img.index_axis(ndarray::Axis(0), b).iter().enumerate() {
            if !x.is_finite() {
                v[i] = false;
            }
        }
    }
    v
}

/// Largest representable value of an integer type (sensor saturation); None for floats.
fn white_level(t: DataType) -> Option<f32> {
    match t {
        DataType::Byte => Some(255.0),
        DataType::UInt16 => Some(65535.0),
        DataType::Int16 => Some(32767.0),
        _ => None,
    }
}

/// The grid of a site, its polygons in grid coordinates and the MiB its analysis
/// needs ([`crate::memory::site_need_mib`]).
pub fn site_grid(
    site: &Site,
    before: &Dated,
    after: &Dated,
    s: &Settings,
) -> Result<(Grid, Crs, Vec<Polygon>, u64)> {
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
    let grid = grid_for_bbox(grid_crs.epsg, bb, s.margin_m / ground_scale, pixel, ground_scale)?;
    // Source pixels both dates are read from (the grid is at the coarser of the two).
    let source_px = grid.len() as f64 * ((pixel / px_b).powi(2) + (pixel / px_a).powi(2));
    let need_mib = crate::memory::site_need_mib(grid.len() as u64, source_px.min(u64::MAX as f64) as u64);
    Ok((grid, grid_crs, polys, need_mib))
}

/// One date on the grid: pixels, how they were resampled, and where they are clear
/// apart from clouds (inside the image, not nodata, not saturated, not user-masked).
pub struct OnGrid {
    pub data: Array3<f32>,
    pub method: Method,
    pub clear: Vec<bool>,
}

pub fn date_on_grid(d: &Dated, grid: &Grid, grid_crs: &Crs) -> Result<OnGrid> {
    let r = resample(d.src, &d.crs, grid, grid_crs)?;
    let mut clear = finite_all(&r.data);
    if let Some(white) = white_level(d.src.info().data_type) {
        for (c, s) in clear.iter_mut().zip(saturated(&r.data, white)) {
            *c &= !s;
        }
    }
    if let Some((mask, mcrs)) = &d.mask {
        let m = resample(*mask, mcrs, grid, grid_crs)?;
        for (i, c) in clear.iter_mut().enumerate() {
            let v = m.data[[0, i / grid.width, i % grid.width]];
            if v.is_finite() && v >= 0.5 {
                *c = false;
            }
        }
    }
    Ok(OnGrid {
        data: r.data,
        method: r.method,
        clear,
    })
}

/// Visible bands (the first three) of a date.
pub fn visible(img: &Array3<f32>) -> Array3<f32> {
    img.slice(ndarray::s![..img.dim().0.min(3), .., ..]).to_owned()
}

/// Clouds on each date, given what is otherwise clear on both.
fn clouds(b: &OnGrid, a: &OnGrid, grid: &Grid, s: &Settings) -> (Vec<bool>, Vec<bool>) {
    let usable: Vec<bool> = b.clear.iter().zip(&a.clear).map(|(x, y)| *x && *y).collect();
    (
        cloud_mask(&b.data, &a.data, &usable, grid.gsd_m, &s.masks),
        cloud_mask(&a.data, &b.data, &usable, grid.gsd_m, &s.masks),
    )
}

/// Both dates read on a context grid `coreg.context_m` wider than the site grid, with
/// the clouds found on it. Clouds are found here rather than on the site grid because
/// their test needs the typical brightness ratio between the dates (the mode of the
/// log-ratio), and a cloud can cover a whole site window; the surroundings still show
/// the ground. The residual shift is estimated here too, with the site polygons,
/// clouds and unobserved pixels masked out: vehicles that moved inside the site must
/// not drive the alignment.
struct Context {
    grid: Grid,
    before: OnGrid,
    after: OnGrid,
    cloud_b: Vec<bool>,
    cloud_a: Vec<bool>,
    inside: Vec<bool>,
}

impl Context {
    fn read(
        polys: &[Polygon],
        grid: &Grid,
        grid_crs: &Crs,
        before: &Dated,
        after: &Dated,
        s: &Settings,
    ) -> Result<Context> {
        let pixel = grid.transform.0[1];
        let ground_scale = grid.gsd_m / pixel;
        let ctx = grid_for_bbox(
            grid.epsg,
            bbox(polys),
            (s.margin_m + s.coreg.context_m) / ground_scale,
            pixel,
            ground_scale,
        )?;
        let inside = rasterize(polys, &ctx);
        let b = date_on_grid(before, &ctx, grid_crs)?;
        let a = date_on_grid(after, &ctx, grid_crs)?;
        let (cloud_b, cloud_a) = clouds(&b, &a, &ctx, s);
        Ok(Context {
            grid: ctx,
            before: b,
            after: a,
            cloud_b,
            cloud_a,
            inside,
        })
    }

    /// A context mask sampled at the site grid's pixel centres (same CRS and pixel size).
    fn to_site(&self, m: &[bool], grid: &Grid) -> Vec<bool> {
        let t = &self.grid.transform.0;
        let mut out = vec![false; grid.len()];
        for r in 0..grid.height {
            for c in 0..grid.width {
                let (x, y) = grid.transform.apply(c as f64 + 0.5, r as f64 + 0.5);
                let cc = ((x - t[0]) / t[1]).floor();
                let rr = ((y - t[3]) / t[5]).floor();
                if cc >= 0.0
                    && rr >= 0.0
                    && (cc as usize) < self.grid.width
                    && (rr as usize) < self.grid.height
                {
                    out[r * grid.width + c] = m[rr as usize * self.grid.width + cc as usize];
                }
            }
        }
        out
    }

    fn shift(&self, s: &Settings) -> Option<Shift> {
        let (b, a) = (&self.before, &self.after);
        let usable: Vec<bool> = (0..self.grid.len())
            .map(|i| b.clear[i] && a.clear[i] && !self.cloud_b[i] && !self.cloud_a[i] && !self.inside[i])
            .collect();
        estimate_shift(
            &brightness(&visible(&b.data)),
            &brightness(&visible(&a.data)),
            &usable,
            self.grid.width,
            self.grid.height,
            &s.coreg,
        )
    }
}

/// Runs one site end to end; errors become an `error` status by the caller.
pub fn process_site(site: &Site, before: &Dated, after: &Dated, s: &Settings) -> Result<SiteOutcome> {
    let (grid, grid_crs, polys, need_mib) = site_grid(site, before, after, s)?;
    // Held until the site's analysis is done; waits while parallel sites hold the budget.
    let _memory = crate::memory::budget().acquire(need_mib)?;
    let inside = rasterize(&polys, &grid);
    let n_inside = inside.iter().filter(|&&b| b).count();
    if n_inside == 0 {
        return Err(Error::Usage(format!(
            "site polygon covers no pixel of its {:.2} m grid",
            grid.gsd_m
        )));
    }
    let b = date_on_grid(before, &grid, &grid_crs)?;
    let mut a = date_on_grid(after, &grid, &grid_crs)?;
    if b.data.dim().0 != a.data.dim().0 {
        return Err(Error::Usage(format!(
            "before has {} bands, after has {}",
            b.data.dim().0,
            a.data.dim().0
        )));
    }
    let ctx = if s.coregister || s.masks.clouds {
        Some(Context::read(&polys, &grid, &grid_crs, before, after, s)?)
    } else {
        None
    };
    let (cloud_b, cloud_a) = match &ctx {
        Some(c) => (c.to_site(&c.cloud_b, &grid), c.to_site(&c.cloud_a, &grid)),
        None => (vec![false; grid.len()], vec![false; grid.len()]),
    };
    let mut flags = Vec::new();

    // Co-registration on the stable surroundings, then re-resampling of the after date.
    let shift = match &ctx {
        Some(c) if s.coregister => c.shift(s),
        _ => None,
    };
    drop(ctx);
    let mut applied = false;
    if let Some(sh) = shift {
        if !sh.reliable {
            flags.push("coregistration_unreliable".to_string());
        } else if sh.dx_px.hypot(sh.dy_px) >= 0.05 {
            let mut shifted = grid.clone();
            let (x0, y0) = grid.transform.apply(sh.dx_px, sh.dy_px);
            shifted.transform.0[0] = x0;
            shifted.transform.0[3] = y0;
            a = date_on_grid(after, &shifted, &grid_crs)?;
            applied = true;
        }
    }
    let clear_b: Vec<bool> = (0..grid.len()).map(|i| b.clear[i] && !cloud_b[i]).collect();
    let clear_a: Vec<bool> = (0..grid.len()).map(|i| a.clear[i] && !cloud_a[i]).collect();
    let obs_b: Vec<bool> = clear_b.iter().zip(&inside).map(|(c, i)| *c && *i).collect();
    let obs_a: Vec<bool> = clear_a.iter().zip(&inside).map(|(c, i)| *c && *i).collect();
    let valid_both: Vec<bool> = obs_b.iter().zip(&obs_a).map(|(x, y)| *x && *y).collect();
    let frac = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / n_inside as f64;
    let (fb, fa, fboth) = (frac(&obs_b), frac(&obs_a), frac(&valid_both));
    let in_image_b = b.clear.iter().zip(&inside).any(|(c, i)| *c && *i)
        || cloud_b.iter().zip(&inside).any(|(c, i)| *c && *i);
    let in_image_a = a.clear.iter().zip(&inside).any(|(c, i)| *c && *i)
        || cloud_a.iter().zip(&inside).any(|(c, i)| *c && *i);
    let status = if !in_image_b && !in_image_a {
        SiteStatus::NoCoverage
    } else if fboth >= s.full_coverage_fraction {
        SiteStatus::Ok
    } else {
        SiteStatus::PartialCoverage
    };
    let cloud_frac =
        |c: &[bool]| c.iter().zip(&inside).filter(|(c, i)| **c && **i).count() as f64 / n_inside as f64;
    let grid_report = GridReport {
        crs: grid_crs.name(),
        gsd_m: grid.gsd_m,
        width: grid.width,
        height: grid.height,
        geotransform: grid.transform.0,
        resampling_before: method_name(b.method),
        resampling_after: method_name(a.method),
    };
    let mut report = SiteReport {
        id: site.id.clone(),
        name: site.name.clone(),
        status,
        error: None,
        observed_fraction: fboth,
        before: DateCounts {
            vehicles: 0,
            vehicles_on_date: 0,
            observed_fraction: fb,
            cloud_fraction: cloud_frac(&cloud_b),
        },
        after: DateCounts {
            vehicles: 0,
            vehicles_on_date: 0,
            observed_fraction: fa,
            cloud_fraction: cloud_frac(&cloud_a),
        },
        delta: Delta {
            vehicles: 0,
            ratio: None,
        },
        changed_fraction: 0.0,
        flags,
        coregistration: shift.map(|sh| Coregistration {
            dx_px: sh.dx_px,
            dy_px: sh.dy_px,
            peak_ratio: sh.peak_ratio,
            reliable: sh.reliable,
            applied,
        }),
        radiometry: Vec::new(),
        grid: Some(grid_report),
        change_raster: None,
        observed_area_m2: valid_both.iter().filter(|&&v| v).count() as f64 * grid.pixel_area_m2(),
        evidence: None,
    };
    // Too coarse to resolve the class: counting is skipped (the change is still computed).
    let coarse = grid.gsd_m > s.detect.vehicle_class.max_count_gsd_m();
    if coarse {
        report.flags.push("gsd_too_coarse".to_string());
    }
    // Vehicles detected where `look` is clear, kept when their centre is in `region`.
    let detected_in = |img: &Array3<f32>, look: &[bool], region: &[bool]| -> Vec<Blob> {
        if coarse {
            return Vec::new();
        }
        detect(&visible(img), look, grid.gsd_m, &s.detect)
            .into_iter()
            .filter(|bl| {
                let (c, r) = (bl.col.floor() as usize, bl.row.floor() as usize);
                c < grid.width && r < grid.height && region[r * grid.width + c]
            })
            .collect()
    };
    // Vehicles over all of the site one date observed (unnormalised; the count of that
    // date alone), when that is more than the area both dates observed.
    let on_date = |img: &Array3<f32>, clear: &[bool], obs: &[bool]| detected_in(img, clear, obs).len() as u32;
    let (extra_b, extra_a) = (obs_b != valid_both, obs_a != valid_both);
    if status == SiteStatus::NoCoverage || fboth == 0.0 {
        if fb > 0.0 {
            report.before.vehicles_on_date = on_date(&b.data, &clear_b, &obs_b);
        }
        if fa > 0.0 {
            report.after.vehicles_on_date = on_date(&a.data, &clear_a, &obs_a);
        }
        return Ok(SiteOutcome {
            report,
            blobs_before: vec![],
            blobs_after: vec![],
            grid: Some(grid),
            change: None,
            valid_both,
        });
    }

    // Radiometric normalisation of the after date onto the before date, band by band.
    let both_clear: Vec<bool> = clear_b.iter().zip(&clear_a).map(|(x, y)| *x && *y).collect();
    let mut fits: Vec<BandFit> = Vec::new();
    if s.normalise_radiometry {
        for band in 0..a.data.dim().0 {
            let bb: Vec<f32> = b
                .data
                .index_axis(ndarray::Axis(0), band)
                .iter()
                .copied()
                .collect();
            let mut ab: Vec<f32> = a
                .data
                .index_axis(ndarray::Axis(0), band)
                .iter()
                .copied()
                .collect();
            if let Some(fit) = fit_band(&bb, &ab, &both_clear, &s.radiometry) {
                apply(&mut ab, &fit);
                for (dst, v) in a.data.index_axis_mut(ndarray::Axis(0), band).iter_mut().zip(ab) {
                    *dst = v;
                }
                fits.push(fit);
            }
        }
    }
    report.radiometry = fits;

    let blobs_before = detected_in(&b.data, &clear_b, &valid_both);
    let blobs_after = detected_in(&a.data, &clear_a, &valid_both);
    let change = detect_change(&b.data, &a.data, &valid_both, &s.change);
    let (nb, na) = (blobs_before.len() as u32, blobs_after.len() as u32);
    report.before.vehicles = nb;
    report.after.vehicles = na;
    report.before.vehicles_on_date = if extra_b {
        on_date(&b.data, &clear_b, &obs_b)
    } else {
        nb
    };
    report.after.vehicles_on_date = if extra_a {
        on_date(&a.data, &clear_a, &obs_a)
    } else {
        na
    };
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
