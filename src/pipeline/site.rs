//! One site, two dates, read and aligned: grid, resampling, masks, clouds and
//! co-registration; the analysis of the arrays is [`super::analyse`].
//!
//! The site polygon is carried into the before image's CRS (or the local UTM zone when
//! that CRS is geographic); its bounding box plus a margin becomes a north-up grid at the
//! coarser of the two dates' pixel sizes; both dates are resampled onto it. Clouds are
//! found on a wider context grid (the dates' typical brightness ratio needs surroundings)
//! and the after date's residual shift is estimated there by phase correlation
//! ([`crate::align::coreg`]); the after date is then re-resampled from the source on the
//! shifted grid, so no second interpolation.

use ndarray::{Array2, Array3, ArrayView2};

use crate::align::coreg::{estimate_shift, Shift};
use crate::align::masks::{cloud_mask_with, saturated, visible_brightness};
use crate::error::{Error, Result};
use crate::raster::crs::{utm_epsg_for, Crs, Transformer};
use crate::raster::grid::{grid_for_bbox, pixel_size_in, Grid};
use crate::raster::resample::resample;
use crate::raster::{DataType, RasterSource};
use crate::report::Coregistration;
use crate::sites::{bbox, rasterize, Polygon, Site};

use super::analyse::{analyse, SiteOnGrid};
pub use super::analyse::{visible, OnGrid, SiteOutcome};
use crate::settings::Settings;

/// An opened image with its CRS and optional mask raster.
pub struct Dated<'a> {
    pub src: &'a dyn RasterSource,
    pub crs: Crs,
    /// Nonzero = not observed (clouds marked by the provider, say).
    pub mask: Option<(&'a dyn RasterSource, Crs)>,
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

/// One date resampled onto `grid`, with where it is clear apart from clouds: inside the
/// image, finite in every band, not saturated, not set in the date's mask raster.
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
        for (c, &v) in clear
            .iter_mut()
            .zip(m.data.index_axis(ndarray::Axis(0), 0).iter())
        {
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

/// Clouds on each date, given what is otherwise clear on both and both dates' visible
/// brightness.
fn clouds(
    b: &OnGrid,
    a: &OnGrid,
    bright: (ArrayView2<f32>, ArrayView2<f32>),
    grid: &Grid,
    s: &Settings,
) -> (Vec<bool>, Vec<bool>) {
    let usable: Vec<bool> = b.clear.iter().zip(&a.clear).map(|(x, y)| *x && *y).collect();
    let (bb, ba) = bright;
    (
        cloud_mask_with(&b.data, bb, ba, &usable, grid.gsd_m, &s.masks),
        cloud_mask_with(&a.data, ba, bb, &usable, grid.gsd_m, &s.masks),
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
    /// Visible brightness of each date (clouds and co-registration both use it).
    bright_b: Array2<f32>,
    bright_a: Array2<f32>,
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
        let (bright_b, bright_a) = (visible_brightness(&b.data), visible_brightness(&a.data));
        let (cloud_b, cloud_a) = clouds(&b, &a, (bright_b.view(), bright_a.view()), &ctx, s);
        Ok(Context {
            bright_b,
            bright_a,
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
        estimate_shift(self.bright_b.view(), self.bright_a.view(), &usable, &s.coreg)
    }
}

/// Reads a site's two dates onto its grid, finds clouds and co-registers the after date
/// (re-resampled from the source on the shifted grid, so no second interpolation), then
/// hands the arrays to [`analyse`]. Errors become an `error` status by the caller.
pub fn process_site(site: &Site, before: &Dated, after: &Dated, s: &Settings) -> Result<SiteOutcome> {
    let (grid, grid_crs, polys, need_mib) = site_grid(site, before, after, s)?;
    // Held until the site's analysis is done; waits while parallel sites hold the budget.
    let _memory = crate::memory::budget().acquire(need_mib)?;
    let inside = rasterize(&polys, &grid);
    if !inside.iter().any(|&b| b) {
        return Err(Error::Site(format!(
            "site polygon covers no pixel of its {:.2} m grid",
            grid.gsd_m
        )));
    }
    let b = date_on_grid(before, &grid, &grid_crs)?;
    let mut a = date_on_grid(after, &grid, &grid_crs)?;
    if b.data.dim().0 != a.data.dim().0 {
        return Err(Error::Site(format!(
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
    let (cloud_before, cloud_after) = match &ctx {
        Some(c) => (c.to_site(&c.cloud_b, &grid), c.to_site(&c.cloud_a, &grid)),
        None => (vec![false; grid.len()], vec![false; grid.len()]),
    };
    // Co-registration on the stable surroundings, then re-resampling of the after date.
    let shift = match &ctx {
        Some(c) if s.coregister => c.shift(s),
        _ => None,
    };
    drop(ctx);
    let mut applied = false;
    if let Some(sh) = shift.filter(|sh| sh.reliable && sh.dx_px.hypot(sh.dy_px) >= 0.05) {
        let mut shifted = grid.clone();
        let (x0, y0) = grid.transform.apply(sh.dx_px, sh.dy_px);
        shifted.transform.0[0] = x0;
        shifted.transform.0[3] = y0;
        a = date_on_grid(after, &shifted, &grid_crs)?;
        applied = true;
    }
    let mut o = analyse(
        SiteOnGrid {
            grid,
            crs_name: grid_crs.name(),
            before: b,
            after: a,
            inside,
            cloud_before,
            cloud_after,
            coregistration: shift.map(|sh| Coregistration {
                dx_px: sh.dx_px,
                dy_px: sh.dy_px,
                peak_ratio: sh.peak_ratio,
                reliable: sh.reliable,
                applied,
            }),
        },
        s,
    );
    o.report.id = site.id.clone();
    o.report.name = site.name.clone();
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::{Detector, VehicleClass};
    use crate::raster::in_memory::InMemory;
    use crate::raster::GeoTransform;
    use crate::report::SiteStatus;

    const ORIGIN: (f64, f64) = (700_000.0, 5_300_000.0);
    const N: usize = 400;

    /// Ground texture (a fixed hash, so any shift of it is exact) with dark 14 x 7 px
    /// vehicles, at world pixel (r, c).
    fn world(r: i64, c: i64) -> f32 {
        let vehicles = [(150, 150), (150, 200), (230, 180)];
        if vehicles
            .iter()
            .any(|&(r0, c0)| (r0..r0 + 7).contains(&r) && (c0..c0 + 14).contains(&c))
        {
            return 30.0;
        }
        let h = (r.wrapping_mul(73_856_093) ^ c.wrapping_mul(19_349_663)).rem_euclid(1000);
        let coarse = ((r / 9) * 31 + (c / 7) * 17).rem_euclid(23);
        140.0 + (h % 17) as f32 + 2.0 * coarse as f32
    }

    /// The world seen with its content displaced by (dx, dy) pixels.
    fn image(dx: i64, dy: i64) -> InMemory {
        let data = Array3::from_shape_fn((3, N, N), |(_, r, c)| world(r as i64 - dy, c as i64 - dx));
        let gt = GeoTransform::north_up(ORIGIN.0, ORIGIN.1, 0.5, 0.5);
        InMemory::new("mem", data, 32636, gt, DataType::Byte)
    }

    /// A square site over world pixels 100..300 in both axes, as lon/lat.
    fn site() -> Site {
        let crs = Crs::from_epsg(32636).unwrap();
        let t = Transformer::new(&crs, &Crs::wgs84());
        let ring: Vec<(f64, f64)> = [
            (100.0, 100.0),
            (300.0, 100.0),
            (300.0, 300.0),
            (100.0, 300.0),
            (100.0, 100.0),
        ]
        .iter()
        .map(|&(c, r)| t.apply_checked(ORIGIN.0 + c * 0.5, ORIGIN.1 - r * 0.5).unwrap())
        .collect();
        Site {
            id: "s".into(),
            name: None,
            weight: 1.0,
            kind: None,
            polygons: vec![vec![ring]],
        }
    }

    fn dated(src: &InMemory) -> Dated<'_> {
        Dated {
            src,
            crs: Crs::from_epsg(32636).unwrap(),
            mask: None,
        }
    }

    #[test]
    fn a_shifted_after_date_is_coregistered_and_counted() {
        let mut s = Settings::for_class(VehicleClass::Military);
        s.detect.detector = Detector::Tophat;
        let (b, a) = (image(0, 0), image(3, -2));
        let o = process_site(&site(), &dated(&b), &dated(&a), &s).unwrap();
        let r = &o.report;
        assert_eq!(r.id, "s");
        assert_eq!(r.status, SiteStatus::Ok);
        let c = r.coregistration.as_ref().unwrap();
        assert!(c.reliable && c.applied, "{c:?}");
        assert!(
            (c.dx_px - 3.0).abs() < 0.05 && (c.dy_px + 2.0).abs() < 0.05,
            "{c:?}"
        );
        assert_eq!((r.before.vehicles, r.after.vehicles), (3, 3));
        assert!(r.changed_fraction < 0.001, "{}", r.changed_fraction);
    }

    #[test]
    fn without_coregistration_the_shift_shows_as_change() {
        let mut s = Settings::for_class(VehicleClass::Military);
        s.detect.detector = Detector::Tophat;
        s.coregister = false;
        let (b, a) = (image(0, 0), image(3, -2));
        let o = process_site(&site(), &dated(&b), &dated(&a), &s).unwrap();
        assert!(o.report.coregistration.is_none());
        assert!(o.report.changed_fraction > 0.001, "{}", o.report.changed_fraction);
    }
}
