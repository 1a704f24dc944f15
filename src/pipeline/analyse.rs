//! The analysis of one site once both dates are on its grid: coverage, status, radiometric
//! normalisation, vehicle counts and change. Pure: arrays in, a [`SiteOutcome`] out; the
//! reading, cloud finding and co-registration that produce its input live in
//! [`super::site`].
//!
//! A pixel is *clear* on a date when its [`OnGrid::clear`] holds (inside the image, not
//! nodata, not saturated, not user-masked) and no cloud covers it; *observed* when also
//! inside the polygon. The status is `no_coverage` when neither date has a pixel of the
//! polygon inside its image, `ok` when the share of the polygon observed on both dates
//! reaches `full_coverage_fraction`, else `partial_coverage`. The after date is mapped
//! onto the before date's radiometry band by band (robust linear fit over pixels clear
//! on both, [`crate::align::radiometry`]); change ([`crate::change`]) and counts use only
//! pixels observed on both dates, and a vehicle counts when its centre falls on one.

use ndarray::Array3;

use crate::align::radiometry::{apply, fit_band, BandFit};
use crate::blobs::Blob;
use crate::change::{detect_change, Change};
use crate::detector::detect;
use crate::raster::grid::Grid;
use crate::raster::resample::Method;
use crate::report::{Coregistration, DateCounts, Delta, GridReport, SiteReport, SiteStatus};
use crate::visual::chips::{render_chips, ChipInput, Chips};

use crate::settings::Settings;

/// One date on the site grid: pixels, how they were resampled, and where they are clear
/// apart from clouds (inside the image, not nodata, not saturated, not user-masked).
pub struct OnGrid {
    pub data: Array3<f32>,
    pub method: Method,
    pub clear: Vec<bool>,
}

/// Everything [`analyse`] needs of a site, on its grid (row-major masks of
/// `grid.len()` pixels).
pub struct SiteOnGrid {
    pub grid: Grid,
    /// Name of the grid's CRS, for the report.
    pub crs_name: String,
    pub before: OnGrid,
    /// The after date, already shifted onto the before date when co-registration applied.
    pub after: OnGrid,
    /// Pixel centre inside the site polygon.
    pub inside: Vec<bool>,
    pub cloud_before: Vec<bool>,
    pub cloud_after: Vec<bool>,
    /// The co-registration found (None when it was off or found nothing).
    pub coregistration: Option<Coregistration>,
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
    /// Quicklook chips of both dates (the after date normalised), vehicles ringed.
    pub chips: Chips,
}

fn method_name(m: Method) -> String {
    match m {
        Method::Bilinear => "bilinear".into(),
        Method::Average { .. } => "average".into(),
    }
}

fn and(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| *x && *y).collect()
}

fn and_not(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| *x && !*y).collect()
}

fn count(v: &[bool]) -> usize {
    v.iter().filter(|&&b| b).count()
}

/// Visible bands (the first three) of a date.
pub fn visible(img: &Array3<f32>) -> Array3<f32> {
    img.slice(ndarray::s![..img.dim().0.min(3), .., ..]).to_owned()
}

/// Maps every band of `after` onto `before`'s radiometry where both are clear.
fn normalise(
    before: &Array3<f32>,
    after: &mut Array3<f32>,
    both_clear: &[bool],
    s: &Settings,
) -> Vec<BandFit> {
    let mut fits = Vec::new();
    for band in 0..after.dim().0 {
        let b: Vec<f32> = before
            .index_axis(ndarray::Axis(0), band)
            .iter()
            .copied()
            .collect();
        let mut a: Vec<f32> = after.index_axis(ndarray::Axis(0), band).iter().copied().collect();
        if let Some(fit) = fit_band(&b, &a, both_clear, &s.radiometry) {
            apply(&mut a, &fit);
            for (dst, v) in after.index_axis_mut(ndarray::Axis(0), band).iter_mut().zip(a) {
                *dst = v;
            }
            fits.push(fit);
        }
    }
    fits
}

/// The report of a site before anything is counted: coverage, status, clouds, grid.
fn coverage_report(
    g: &SiteOnGrid,
    obs_b: &[bool],
    obs_a: &[bool],
    valid_both: &[bool],
    s: &Settings,
) -> SiteReport {
    let n_inside = count(&g.inside).max(1) as f64;
    let frac = |v: &[bool]| count(v) as f64 / n_inside;
    let (fb, fa, fboth) = (frac(obs_b), frac(obs_a), frac(valid_both));
    // In the image on a date: some pixel of the polygon is clear or under a cloud.
    let in_image = |d: &OnGrid, cloud: &[bool]| {
        g.inside
            .iter()
            .enumerate()
            .any(|(i, &inside)| inside && (d.clear[i] || cloud[i]))
    };
    let status = if !in_image(&g.before, &g.cloud_before) && !in_image(&g.after, &g.cloud_after) {
        SiteStatus::NoCoverage
    } else if fboth >= s.full_coverage_fraction {
        SiteStatus::Ok
    } else {
        SiteStatus::PartialCoverage
    };
    let date = |observed_fraction: f64, cloud: &[bool]| DateCounts {
        vehicles: 0,
        vehicles_on_date: 0,
        observed_fraction,
        cloud_fraction: frac(&and(cloud, &g.inside)),
    };
    let mut flags = Vec::new();
    if g.coregistration.as_ref().is_some_and(|c| !c.reliable) {
        flags.push("coregistration_unreliable".to_string());
    }
    SiteReport {
        id: String::new(),
        name: None,
        status,
        error: None,
        observed_fraction: fboth,
        before: date(fb, &g.cloud_before),
        after: date(fa, &g.cloud_after),
        delta: Delta {
            vehicles: 0,
            ratio: None,
        },
        changed_fraction: 0.0,
        flags,
        coregistration: g.coregistration.clone(),
        radiometry: Vec::new(),
        grid: Some(GridReport {
            crs: g.crs_name.clone(),
            gsd_m: g.grid.gsd_m,
            width: g.grid.width,
            height: g.grid.height,
            geotransform: g.grid.transform.0,
            resampling_before: method_name(g.before.method),
            resampling_after: method_name(g.after.method),
        }),
        change_raster: None,
        observed_area_m2: count(valid_both) as f64 * g.grid.pixel_area_m2(),
        evidence: None,
    }
}

/// Analyses a site on its grid. The report's `id` and `name` are left for the caller.
pub fn analyse(mut g: SiteOnGrid, s: &Settings) -> SiteOutcome {
    let clear_b = and_not(&g.before.clear, &g.cloud_before);
    let clear_a = and_not(&g.after.clear, &g.cloud_after);
    let obs_b = and(&clear_b, &g.inside);
    let obs_a = and(&clear_a, &g.inside);
    let valid_both = and(&obs_b, &obs_a);
    let mut report = coverage_report(&g, &obs_b, &obs_a, &valid_both, s);
    let grid = &g.grid;
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
    if report.status == SiteStatus::NoCoverage || report.observed_fraction == 0.0 {
        if report.before.observed_fraction > 0.0 {
            report.before.vehicles_on_date = on_date(&g.before.data, &clear_b, &obs_b);
        }
        if report.after.observed_fraction > 0.0 {
            report.after.vehicles_on_date = on_date(&g.after.data, &clear_a, &obs_a);
        }
        let chips = render_chips(&ChipInput {
            before: &g.before.data,
            after: &g.after.data,
            clear_before: &clear_b,
            clear_after: &clear_a,
            inside: &g.inside,
            change_mask: None,
            blobs_before: &[],
            blobs_after: &[],
            gsd_m: g.grid.gsd_m,
        });
        return SiteOutcome {
            report,
            blobs_before: vec![],
            blobs_after: vec![],
            grid: Some(g.grid),
            change: None,
            valid_both,
            chips,
        };
    }
    if s.normalise_radiometry {
        report.radiometry = normalise(&g.before.data, &mut g.after.data, &and(&clear_b, &clear_a), s);
    }
    let (b, a) = (&g.before.data, &g.after.data);
    let blobs_before = detected_in(b, &clear_b, &valid_both);
    let blobs_after = detected_in(a, &clear_a, &valid_both);
    let change = detect_change(b, a, &valid_both, &s.change);
    let (nb, na) = (blobs_before.len() as u32, blobs_after.len() as u32);
    report.before.vehicles = nb;
    report.after.vehicles = na;
    report.before.vehicles_on_date = if obs_b != valid_both {
        on_date(b, &clear_b, &obs_b)
    } else {
        nb
    };
    report.after.vehicles_on_date = if obs_a != valid_both {
        on_date(a, &clear_a, &obs_a)
    } else {
        na
    };
    report.delta = Delta {
        vehicles: na as i64 - nb as i64,
        ratio: (nb > 0).then(|| na as f64 / nb as f64),
    };
    report.changed_fraction = change.changed_fraction;
    let chips = render_chips(&ChipInput {
        before: b,
        after: a,
        clear_before: &clear_b,
        clear_after: &clear_a,
        inside: &g.inside,
        change_mask: Some(&change.mask),
        blobs_before: &blobs_before,
        blobs_after: &blobs_after,
        gsd_m: grid.gsd_m,
    });
    SiteOutcome {
        report,
        blobs_before,
        blobs_after,
        grid: Some(g.grid),
        change: Some(change),
        valid_both,
        chips,
    }
}

#[cfg(test)]
#[path = "analyse_tests.rs"]
mod tests;
