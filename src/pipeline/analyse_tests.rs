//! `analyse` on literal arrays: full cover, partial cover, a cloud over the site on one
//! date, nodata, a site with no vehicles, vehicles leaving, a grid too coarse.

use ndarray::Array3;

use super::*;
use crate::blobs::{Detector, VehicleClass};
use crate::raster::GeoTransform;

const W: usize = 80;
const H: usize = 60;
const GSD_M: f64 = 0.5;

fn settings() -> Settings {
    let mut s = Settings::for_class(VehicleClass::Military);
    s.detect.detector = Detector::Tophat;
    s.detect.model_sha256 = None;
    s
}

fn grid(gsd_m: f64) -> Grid {
    Grid {
        epsg: 32636,
        transform: GeoTransform::north_up(700_000.0, 5_300_000.0, gsd_m, gsd_m),
        width: W,
        height: H,
        gsd_m,
    }
}

/// Bright textured ground (deterministic), three bands, with dark 14 x 7 px vehicles
/// (7 m x 3.5 m at 0.5 m) at the given upper-left corners.
fn scene(vehicles: &[(usize, usize)]) -> Array3<f32> {
    let mut img = Array3::from_shape_fn((3, H, W), |(b, r, c)| {
        150.0 + 10.0 * b as f32 + ((r * 7 + c * 13) % 11) as f32
    });
    for &(r0, c0) in vehicles {
        for r in r0..r0 + 7 {
            for c in c0..c0 + 14 {
                for b in 0..3 {
                    img[[b, r, c]] = 40.0;
                }
            }
        }
    }
    img
}

fn on_grid(data: Array3<f32>, clear: Vec<bool>) -> OnGrid {
    OnGrid {
        data,
        method: Method::Bilinear,
        clear,
    }
}

/// The polygon is the whole grid but a 5-pixel border (the margin).
fn inside() -> Vec<bool> {
    (0..W * H)
        .map(|i| {
            let (r, c) = (i / W, i % W);
            (5..H - 5).contains(&r) && (5..W - 5).contains(&c)
        })
        .collect()
}

fn site(
    before: OnGrid,
    after: OnGrid,
    cloud_before: Vec<bool>,
    cloud_after: Vec<bool>,
    gsd_m: f64,
) -> SiteOnGrid {
    SiteOnGrid {
        grid: grid(gsd_m),
        crs_name: "EPSG:32636".into(),
        before,
        after,
        inside: inside(),
        cloud_before,
        cloud_after,
        coregistration: None,
    }
}

fn clear_pair(before: Array3<f32>, after: Array3<f32>) -> SiteOnGrid {
    let n = W * H;
    site(
        on_grid(before, vec![true; n]),
        on_grid(after, vec![true; n]),
        vec![false; n],
        vec![false; n],
        GSD_M,
    )
}

const THREE: [(usize, usize); 3] = [(12, 10), (12, 40), (35, 25)];

#[test]
fn full_cover_without_vehicles_is_ok_with_nothing_counted() {
    let o = analyse(clear_pair(scene(&[]), scene(&[])), &settings());
    let r = &o.report;
    assert_eq!(r.status, SiteStatus::Ok);
    assert_eq!(r.observed_fraction, 1.0);
    assert_eq!((r.before.vehicles, r.after.vehicles), (0, 0));
    assert_eq!(r.changed_fraction, 0.0);
    assert_eq!(r.observed_area_m2, ((W - 10) * (H - 10)) as f64 * 0.25);
    assert!(o.change.is_some());
    assert!(r.flags.is_empty());
}

#[test]
fn vehicles_that_leave_are_counted_on_each_date() {
    let o = analyse(clear_pair(scene(&THREE), scene(&THREE[..1])), &settings());
    let r = &o.report;
    assert_eq!((r.before.vehicles, r.after.vehicles), (3, 1));
    assert_eq!(r.delta.vehicles, -2);
    assert_eq!(r.delta.ratio, Some(1.0 / 3.0));
    assert!(r.changed_fraction > 0.0);
    assert_eq!(o.blobs_before.len(), 3);
}

#[test]
fn partial_cover_counts_only_where_both_dates_see() {
    let n = W * H;
    // The after image ends at column 40: the vehicle at column 40 and beyond is unseen.
    let after_clear: Vec<bool> = (0..n).map(|i| i % W < 40).collect();
    let g = site(
        on_grid(scene(&THREE), vec![true; n]),
        on_grid(scene(&THREE), after_clear),
        vec![false; n],
        vec![false; n],
        GSD_M,
    );
    let o = analyse(g, &settings());
    let r = &o.report;
    assert_eq!(r.status, SiteStatus::PartialCoverage);
    let half = (35.0 * 50.0) / (70.0 * 50.0);
    assert!(
        (r.observed_fraction - half).abs() < 1e-9,
        "{}",
        r.observed_fraction
    );
    assert_eq!(r.before.observed_fraction, 1.0);
    // Two vehicles have their centres in the part both dates see; the before date alone
    // saw all three.
    assert_eq!((r.before.vehicles, r.after.vehicles), (2, 2));
    assert_eq!(r.before.vehicles_on_date, 3);
}

#[test]
fn a_cloud_over_the_site_on_one_date_leaves_nothing_to_compare() {
    let n = W * H;
    let g = site(
        on_grid(scene(&THREE), vec![true; n]),
        on_grid(scene(&[]), vec![true; n]),
        vec![false; n],
        vec![true; n],
        GSD_M,
    );
    let o = analyse(g, &settings());
    let r = &o.report;
    assert_eq!(r.status, SiteStatus::PartialCoverage);
    assert_eq!(r.observed_fraction, 0.0);
    assert_eq!(r.after.cloud_fraction, 1.0);
    assert_eq!(r.after.observed_fraction, 0.0);
    // No count over the area both saw, but the before date's own count is kept.
    assert_eq!((r.before.vehicles, r.after.vehicles), (0, 0));
    assert_eq!(r.before.vehicles_on_date, 3);
    assert!(o.change.is_none());
}

#[test]
fn nodata_on_both_dates_is_no_coverage() {
    let n = W * H;
    let g = site(
        on_grid(scene(&THREE), vec![false; n]),
        on_grid(scene(&THREE), vec![false; n]),
        vec![false; n],
        vec![false; n],
        GSD_M,
    );
    let o = analyse(g, &settings());
    assert_eq!(o.report.status, SiteStatus::NoCoverage);
    assert_eq!(o.report.observed_fraction, 0.0);
    assert_eq!(o.report.before.vehicles_on_date, 0);
}

#[test]
fn a_grid_too_coarse_for_the_class_counts_nothing_but_still_differences() {
    let n = W * H;
    let g = site(
        on_grid(scene(&THREE), vec![true; n]),
        on_grid(scene(&[]), vec![true; n]),
        vec![false; n],
        vec![false; n],
        3.0,
    );
    let o = analyse(g, &settings());
    assert!(o.report.flags.contains(&"gsd_too_coarse".to_string()));
    assert_eq!((o.report.before.vehicles, o.report.after.vehicles), (0, 0));
    assert!(o.change.is_some());
}

#[test]
fn an_unreliable_coregistration_is_flagged() {
    let mut g = clear_pair(scene(&[]), scene(&[]));
    g.coregistration = Some(Coregistration {
        dx_px: 0.0,
        dy_px: 0.0,
        peak_ratio: 1.1,
        reliable: false,
        applied: false,
    });
    let o = analyse(g, &settings());
    assert_eq!(o.report.flags, vec!["coregistration_unreliable".to_string()]);
}
