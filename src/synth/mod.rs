//! Synthetic before/after scenes with known truth (`stagewatch synth`).
//!
//! A scenario places gravel pads with rows of vehicles, trees, buildings and roads in a
//! metric world frame (WGS 84 / UTM 36N), then renders each date as a GeoTIFF in its own
//! CRS and ground sample distance: every output pixel centre is carried into the world
//! frame and the scene is supersampled 2x2 there, plus deterministic per-pixel sensor
//! noise. Sites are written as a lon/lat GeoJSON and the truth (per-site counts,
//! expected status and every vehicle's position) as `truth.json`.

pub mod archive;
pub mod render;
pub mod scenarios;
pub mod scene;
pub mod series;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::raster::crs::{Crs, Transformer};
pub use scenarios::{scenario, PARK_SCENARIOS, PARK_VALIDATION_SCENARIOS, SCENARIOS};
use scene::{hash01, Kind, RectObj, Season, Shape};

/// EPSG code of the world frame.
pub const WORLD_EPSG: u32 = 32636;
/// Anchor of the world frame (lon, lat), near the UTM 36/37 boundary.
pub const ANCHOR: (f64, f64) = (35.93, 48.02);
pub(crate) const WORLD_W_M: f64 = 560.0;
pub(crate) const WORLD_H_M: f64 = 420.0;
const VEHICLE_LEN_M: f64 = 7.2;
const VEHICLE_WID_M: f64 = 3.3;
const SLOT_ACROSS_M: f64 = 6.5;
const TIGHT_SLOT_ACROSS_M: f64 = 4.0;
const ROW_PITCH_M: f64 = 12.5;

/// Sample type of a rendered image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SampleType {
    Byte,
    UInt16,
}

/// How one date is imaged, nuisances included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageSpec {
    pub epsg: u32,
    pub gsd_m: f64,
    /// Imaged part of the world, metres from the world origin: (x0, y0, x1, y1).
    pub extent_m: (f64, f64, f64, f64),
    pub sample_type: SampleType,
    /// 3 (visible) or 4 (plus near infrared).
    pub bands: usize,
    pub season: Season,
    pub date: &'static str,
    pub seed: u64,
    /// Misregistration: the image content is displaced by this much (metres, east/north).
    pub shift_m: (f64, f64),
    /// Radiometry: recorded = reflectance x gain + offset.
    pub gain: f64,
    pub offset: f64,
    /// Gaussian blur sigma, output pixels (0 = none).
    pub blur_px: f64,
    /// Sensor noise standard deviation, reflectance units.
    pub noise: f64,
    /// A cloud: centre (metres from the world origin) and radius in metres.
    pub cloud: Option<(f64, f64, f64)>,
}

/// One site of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSpec {
    pub id: &'static str,
    pub name: &'static str,
    /// Pad centre, metres from the world origin.
    pub centre_m: (f64, f64),
    pub heading_deg: f64,
    pub rows: usize,
    pub cols: usize,
    pub before: usize,
    pub after: usize,
}

/// How vehicles are parked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Layout {
    /// Side by side with gaps under 1 m.
    pub tight_rows: bool,
    /// After-date vehicles take other slots than before-date ones.
    pub reparked: bool,
    /// A military vehicle park: tanks, IFVs and trucks side by side, 0.5-1.0 m gaps.
    pub park: bool,
}

/// Length, width (m) and whether it has a turret, of park vehicle `k` (by hash): a
/// main battle tank, an infantry fighting vehicle or a truck.
fn park_vehicle(k: i64) -> (f64, f64, bool) {
    let t = hash01(k, 7, 9);
    if t < 0.45 {
        (6.9, 3.6, true)
    } else if t < 0.8 {
        (6.7, 3.2, true)
    } else {
        (8.0, 2.5, false)
    }
}

/// Slots of a park row: cumulative widths plus gaps of 0.5-1.0 m, centred on the pad.
fn park_slots(s: &SiteSpec, pad: &RectObj) -> Vec<(RectObj, bool)> {
    let (sn, cs) = pad.heading.sin_cos();
    let mut out = Vec::new();
    for r in 0..s.rows {
        let ks: Vec<i64> = (0..s.cols)
            .map(|c| (r * s.cols + c) as i64 + 1000 * s.centre_m.0 as i64)
            .collect();
        let widths: Vec<f64> = ks.iter().map(|&k| park_vehicle(k).1).collect();
        let gaps: Vec<f64> = ks.iter().map(|&k| 0.5 + 0.5 * hash01(k, 8, 9)).collect();
        let total: f64 = widths.iter().sum::<f64>() + gaps[..gaps.len() - 1].iter().sum::<f64>();
        let mut u = -total / 2.0;
        for (i, &k) in ks.iter().enumerate() {
            let (len, wid, turret) = park_vehicle(k);
            let cu = u + wid / 2.0;
            u += wid + gaps[i];
            let v = (r as f64 - (s.rows as f64 - 1.0) / 2.0) * ROW_PITCH_M + 0.3 * (hash01(k, 2, 3) - 0.5);
            out.push((
                RectObj {
                    cx: pad.cx + cu * cs - v * sn,
                    cy: pad.cy + cu * sn + v * cs,
                    half_len: len / 2.0,
                    half_wid: wid / 2.0,
                    heading: pad.heading + PI / 2.0 + (hash01(k, 3, 3) - 0.5) * 0.04,
                },
                turret,
            ));
        }
    }
    out
}

/// A complete scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    pub before: ImageSpec,
    pub after: ImageSpec,
    pub sites: Vec<SiteSpec>,
    pub layout: Layout,
}

/// Truth written beside a rendered scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Truth {
    pub scenario: String,
    pub sites: Vec<TruthSite>,
    pub vehicles: Vec<TruthVehicle>,
}

/// Expected numbers of one site.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TruthSite {
    pub id: String,
    pub before_vehicles: usize,
    pub after_vehicles: usize,
    pub expected_status: String,
}

/// One vehicle of the truth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TruthVehicle {
    pub site_id: String,
    pub date: String,
    pub lon: f64,
    pub lat: f64,
    pub length_m: f64,
    pub width_m: f64,
    pub heading_deg: f64,
}

/// Paths of a rendered scenario.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub before: PathBuf,
    pub after: PathBuf,
    pub sites: PathBuf,
    pub truth: PathBuf,
    pub truth_data: Truth,
}

fn world_origin() -> Result<(f64, f64)> {
    let (e, n) =
        Transformer::new(&Crs::wgs84(), &Crs::from_epsg(WORLD_EPSG)?).apply_checked(ANCHOR.0, ANCHOR.1)?;
    Ok(((e / 10.0).floor() * 10.0, (n / 10.0).floor() * 10.0))
}

fn pad_rect(s: &SiteSpec, origin: (f64, f64), layout: Layout) -> RectObj {
    let across = if layout.park {
        4.3
    } else if layout.tight_rows {
        TIGHT_SLOT_ACROSS_M
    } else {
        SLOT_ACROSS_M
    };
    RectObj {
        cx: origin.0 + s.centre_m.0,
        cy: origin.1 + s.centre_m.1,
        half_len: s.cols as f64 * across / 2.0 + 4.0,
        half_wid: s.rows as f64 * ROW_PITCH_M / 2.0 + 3.0,
        heading: s.heading_deg.to_radians(),
    }
}

/// Vehicle footprints of a site: slot k in raster order, with fixed small jitter.
fn slots(s: &SiteSpec, origin: (f64, f64), layout: Layout) -> Vec<RectObj> {
    if layout.park {
        return park_slots(s, &pad_rect(s, origin, layout))
            .into_iter()
            .map(|(r, _)| r)
            .collect();
    }
    let across = if layout.tight_rows {
        TIGHT_SLOT_ACROSS_M
    } else {
        SLOT_ACROSS_M
    };
    let jitter = if layout.tight_rows { 0.1 } else { 0.6 };
    let pad = pad_rect(s, origin, layout);
    let (sn, cs) = pad.heading.sin_cos();
    let mut out = Vec::new();
    for r in 0..s.rows {
        for c in 0..s.cols {
            let k = (r * s.cols + c) as i64;
            let u = (c as f64 - (s.cols as f64 - 1.0) / 2.0) * across + jitter * (hash01(k, 1, 3) - 0.5);
            let v = (r as f64 - (s.rows as f64 - 1.0) / 2.0) * ROW_PITCH_M + jitter * (hash01(k, 2, 3) - 0.5);
            out.push(RectObj {
                cx: pad.cx + u * cs - v * sn,
                cy: pad.cy + u * sn + v * cs,
                half_len: VEHICLE_LEN_M / 2.0,
                half_wid: VEHICLE_WID_M / 2.0,
                heading: pad.heading
                    + PI / 2.0
                    + (hash01(k, 3, 3) - 0.5) * if layout.tight_rows { 0.02 } else { 0.12 },
            });
        }
    }
    out
}

/// Vehicles of site `s` present on a date: the first `before`/`after` slots; when
/// re-parked, the after-date vehicles stand half a slot further along their rows.
fn present(s: &SiteSpec, origin: (f64, f64), layout: Layout, after: bool) -> Vec<RectObj> {
    let n = if after { s.after } else { s.before };
    let v = slots(s, origin, layout).into_iter().take(n);
    if after && layout.reparked {
        let (sn, cs) = s.heading_deg.to_radians().sin_cos();
        let d = SLOT_ACROSS_M / 2.0;
        v.map(|r| r.shifted(d * cs, d * sn)).collect()
    } else {
        v.collect()
    }
}

/// The static scene (pads, trees, buildings, roads) plus the vehicles present on a date.
fn world_objects(sc: &Scenario, origin: (f64, f64), after: bool) -> Vec<(Kind, Shape)> {
    let mut objs = Vec::new();
    let (ox, oy) = origin;
    let rect = |cx: f64, cy: f64, l: f64, w: f64, h: f64| RectObj {
        cx,
        cy,
        half_len: l / 2.0,
        half_wid: w / 2.0,
        heading: h,
    };
    objs.push((
        Kind::Road,
        Shape::Rect(rect(ox + WORLD_W_M / 2.0, oy + 210.0, WORLD_W_M + 40.0, 6.0, 0.0)),
    ));
    objs.push((
        Kind::Road,
        Shape::Rect(rect(ox + 230.0, oy + WORLD_H_M / 2.0, 6.0, WORLD_H_M + 40.0, 0.0)),
    ));
    let pads: Vec<RectObj> = sc.sites.iter().map(|s| pad_rect(s, origin, sc.layout)).collect();
    for p in &pads {
        objs.push((Kind::Pad, Shape::Rect(*p)));
    }
    let clear_of_pads = |x: f64, y: f64, m: f64| {
        pads.iter().all(|p| {
            let b = p.bbox();
            x < b.0 - m || x > b.2 + m || y < b.1 - m || y > b.3 + m
        }) && (y - (oy + 210.0)).abs() > m
            && (x - (ox + 230.0)).abs() > m
    };
    // Single trees and clusters.
    let mut k = 0i64;
    let mut placed = 0;
    while placed < 40 && k < 4000 {
        k += 1;
        let x = ox + 10.0 + hash01(k, 10, 5) * (WORLD_W_M - 20.0);
        let y = oy + 10.0 + hash01(k, 11, 5) * (WORLD_H_M - 20.0);
        let r = 2.2 + 1.8 * hash01(k, 12, 5);
        if !clear_of_pads(x, y, 12.0) {
            continue;
        }
        placed += 1;
        let crowns = if placed % 6 == 0 { 6 } else { 1 };
        for j in 0..crowns {
            let (dx, dy) = if j == 0 {
                (0.0, 0.0)
            } else {
                (
                    (hash01(k, 20 + j, 5) - 0.5) * 9.0,
                    (hash01(k, 30 + j, 5) - 0.5) * 9.0,
                )
            };
            objs.push((
                Kind::TreeShadow,
                Shape::Disc {
                    cx: x + dx - 0.8 * r,
                    cy: y + dy + 0.8 * r,
                    r,
                },
            ));
            objs.push((
                Kind::Tree,
                Shape::Disc {
                    cx: x + dx,
                    cy: y + dy,
                    r,
                },
            ));
        }
    }
    // Buildings.
    let mut placed = 0;
    while placed < 7 && k < 8000 {
        k += 1;
        let x = ox + 20.0 + hash01(k, 40, 5) * (WORLD_W_M - 40.0);
        let y = oy + 20.0 + hash01(k, 41, 5) * (WORLD_H_M - 40.0);
        if !clear_of_pads(x, y, 25.0) {
            continue;
        }
        placed += 1;
        let b = rect(
            x,
            y,
            16.0 + 8.0 * hash01(k, 42, 5),
            10.0 + 4.0 * hash01(k, 43, 5),
            hash01(k, 44, 5) * PI,
        );
        objs.push((Kind::BuildingShadow, Shape::Rect(b.shifted(-3.0, 3.0))));
        objs.push((Kind::Building, Shape::Rect(b)));
    }
    for s in &sc.sites {
        let turrets: Vec<bool> = if sc.layout.park {
            park_slots(s, &pad_rect(s, origin, sc.layout))
                .into_iter()
                .map(|(_, t)| t)
                .collect()
        } else {
            Vec::new()
        };
        for (i, v) in present(s, origin, sc.layout, after).into_iter().enumerate() {
            objs.push((Kind::VehicleShadow, Shape::Rect(v.shifted(-0.9, 0.9))));
            objs.push((Kind::Vehicle, Shape::Rect(v)));
            if turrets.get(i).copied().unwrap_or(false) {
                let (sn, cs) = v.heading.sin_cos();
                let back = 0.6;
                objs.push((
                    Kind::Turret,
                    Shape::Disc {
                        cx: v.cx - back * cs,
                        cy: v.cy - back * sn,
                        r: 0.42 * 2.0 * v.half_wid,
                    },
                ));
            }
        }
    }
    objs
}

/// True when the whole pad of `s` lies inside the imaged extent of `spec`.
fn covered(spec: &ImageSpec, s: &SiteSpec, layout: Layout) -> (bool, bool) {
    let p = pad_rect(s, (0.0, 0.0), layout);
    let b = p.bbox();
    let (x0, y0, x1, y1) = spec.extent_m;
    let clouded = spec
        .cloud
        .is_some_and(|(cx, cy, r)| cx + r > b.0 && cx - r < b.2 && cy + r > b.1 && cy - r < b.3);
    let full = b.0 >= x0 && b.2 <= x1 && b.1 >= y0 && b.3 <= y1 && !clouded;
    let any = b.2 > x0 && b.0 < x1 && b.3 > y0 && b.1 < y1;
    (full, any)
}

/// The sites GeoJSON features: each pad plus 6 m, in lon/lat.
fn site_features(
    sites: &[SiteSpec],
    origin: (f64, f64),
    layout: Layout,
    to_wgs: &Transformer,
) -> Result<Vec<serde_json::Value>> {
    let mut features = Vec::new();
    for s in sites {
        let mut pad = pad_rect(s, origin, layout);
        pad.half_len += 6.0;
        pad.half_wid += 6.0;
        let mut ring: Vec<[f64; 2]> = Vec::new();
        for (x, y) in pad.corners() {
            let (lon, lat) = to_wgs.apply_checked(x, y)?;
            ring.push([lon, lat]);
        }
        ring.push(ring[0]);
        features.push(serde_json::json!({
            "type": "Feature",
            "properties": {"id": s.id, "name": s.name},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }));
    }
    Ok(features)
}

/// Renders scenario `name` into `dir`: `before.tif`, `after.tif`, `sites.geojson`,
/// `truth.json` (per-site counts and vehicles) and `truth.geojson` (a point per vehicle
/// with `site_id` and `date`, for `stagewatch eval`).
pub fn render_scenario(name: &str, dir: &Path) -> Result<Rendered> {
    let sc = scenario(name)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let origin = world_origin()?;
    let before = dir.join("before.tif");
    let after = dir.join("after.tif");
    let bounds = (
        origin.0 - 50.0,
        origin.1 - 50.0,
        origin.0 + WORLD_W_M + 50.0,
        origin.1 + WORLD_H_M + 50.0,
    );
    let wb = scene::World::new(world_objects(&sc, origin, false), bounds);
    let wa = scene::World::new(world_objects(&sc, origin, true), bounds);
    render::write_date(&before, &sc.before, &wb, origin)?;
    render::write_date(&after, &sc.after, &wa, origin)?;

    let to_wgs = Transformer::new(&Crs::from_epsg(WORLD_EPSG)?, &Crs::wgs84());
    let features = site_features(&sc.sites, origin, sc.layout, &to_wgs)?;
    let mut truth_sites = Vec::new();
    let mut vehicles = Vec::new();
    for s in &sc.sites {
        let (fb, ab) = covered(&sc.before, s, sc.layout);
        let (fa, aa) = covered(&sc.after, s, sc.layout);
        let status = if !ab && !aa {
            "no_coverage"
        } else if fb && fa {
            "ok"
        } else {
            "partial_coverage"
        };
        truth_sites.push(TruthSite {
            id: s.id.into(),
            before_vehicles: s.before,
            after_vehicles: s.after,
            expected_status: status.into(),
        });
        for date in ["before", "after"] {
            for v in present(s, origin, sc.layout, date == "after") {
                let (lon, lat) = to_wgs.apply_checked(v.cx, v.cy)?;
                vehicles.push(TruthVehicle {
                    site_id: s.id.into(),
                    date: date.into(),
                    lon,
                    lat,
                    length_m: VEHICLE_LEN_M,
                    width_m: VEHICLE_WID_M,
                    heading_deg: v.heading.to_degrees(),
                });
            }
        }
    }
    let sites = dir.join("sites.geojson");
    let fc = serde_json::json!({"type": "FeatureCollection", "features": features});
    write_atomic(
        &sites,
        serde_json::to_string_pretty(&fc).expect("json").as_bytes(),
    )?;
    let truth_data = Truth {
        scenario: sc.name.into(),
        sites: truth_sites,
        vehicles,
    };
    let points: Vec<_> = truth_data
        .vehicles
        .iter()
        .map(|v| {
            serde_json::json!({"type": "Feature",
                "properties": {"site_id": v.site_id, "date": v.date, "length_m": v.length_m, "width_m": v.width_m},
                "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]}})
        })
        .collect();
    let fc = serde_json::json!({"type": "FeatureCollection", "features": points});
    write_atomic(
        &dir.join("truth.geojson"),
        serde_json::to_string_pretty(&fc).expect("json").as_bytes(),
    )?;
    let truth = dir.join("truth.json");
    write_atomic(
        &truth,
        serde_json::to_string_pretty(&truth_data)
            .expect("json")
            .as_bytes(),
    )?;
    Ok(Rendered {
        before,
        after,
        sites,
        truth,
        truth_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_scenario_exists_and_unknown_fails() {
        for s in SCENARIOS {
            assert_eq!(scenario(s).unwrap().name, *s);
        }
        assert!(scenario("nope").is_err());
    }

    #[test]
    fn slots_do_not_overlap() {
        let s = &scenarios::base_sites(false)[1];
        let v = slots(s, (0.0, 0.0), Layout::default());
        for (i, a) in v.iter().enumerate() {
            for b in &v[i + 1..] {
                assert!((a.cx - b.cx).hypot(a.cy - b.cy) > VEHICLE_WID_M + 2.0);
            }
        }
    }
}
