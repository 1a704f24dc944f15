//! Detection accuracy against ground truth (`stagewatch eval`).
//!
//! Detections and truth are lon/lat points (truth polygons count by their vertex
//! centroid). Matching is one-to-one: all detection-truth pairs closer than
//! `match_distance_m` are taken in order of increasing distance, each point used at
//! most once (greedy bipartite matching, the usual rule of detection benchmarks such as
//! the DOTA and xView evaluations for point targets). Precision = TP / detections,
//! recall = TP / truth, F1 their harmonic mean. Counts are also compared per site (and
//! per date when both files carry `date`): count error = |detected - truth| / truth.

pub mod frames;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// A point with the site and date it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub lon: f64,
    pub lat: f64,
    pub site_id: Option<String>,
    pub date: Option<String>,
}

/// Accuracy of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub match_distance_m: f64,
    pub detections: usize,
    pub truth: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub per_site: Vec<SiteCount>,
}

/// Counts of one site (and date).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCount {
    pub site_id: Option<String>,
    pub date: Option<String>,
    pub detected: usize,
    pub truth: usize,
    /// |detected - truth| / truth; null when truth is 0.
    pub count_error: Option<f64>,
}

/// Ground distance in metres between two points ([`crate::raster::crs::ground_distance_m`]).
pub fn distance_m(a: &Point, b: &Point) -> f64 {
    crate::raster::crs::ground_distance_m((a.lon, a.lat), (b.lon, b.lat))
}

/// Reads Point / Polygon / MultiPolygon features of a GeoJSON FeatureCollection.
pub fn load_points(path: &Path) -> Result<Vec<Point>> {
    let text = crate::fsutil::read_text_input(path, crate::fsutil::limits::GEOJSON)?;
    parse_points(&text).map_err(|m| Error::input(path, m))
}

/// Parses points out of GeoJSON text.
pub fn parse_points(text: &str) -> Result<Vec<Point>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let feats = v
        .get("features")
        .and_then(Value::as_array)
        .ok_or("not a FeatureCollection")?;
    let mut out = Vec::with_capacity(feats.len());
    for (i, f) in feats.iter().enumerate() {
        let g = f.get("geometry").ok_or(format!("feature {i}: no geometry"))?;
        let coords = g
            .get("coordinates")
            .ok_or(format!("feature {i}: no coordinates"))?;
        let (lon, lat) = match g.get("type").and_then(Value::as_str) {
            Some("Point") => pos(coords).ok_or(format!("feature {i}: bad Point"))?,
            Some("Polygon") => centroid(coords.get(0)).ok_or(format!("feature {i}: bad Polygon"))?,
            Some("MultiPolygon") => centroid(coords.get(0).and_then(|p| p.get(0)))
                .ok_or(format!("feature {i}: bad MultiPolygon"))?,
            other => {
                return Err(format!(
                    "feature {i}: geometry {other:?} is not a Point or Polygon"
                ))
            }
        };
        let prop = |k: &str| {
            f.get("properties")
                .and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        out.push(Point {
            lon,
            lat,
            site_id: prop("site_id"),
            date: prop("date"),
        });
    }
    Ok(out)
}

fn pos(v: &Value) -> Option<(f64, f64)> {
    Some((v.get(0)?.as_f64()?, v.get(1)?.as_f64()?))
}

fn centroid(ring: Option<&Value>) -> Option<(f64, f64)> {
    let pts: Vec<(f64, f64)> = ring?.as_array()?.iter().filter_map(pos).collect();
    // Drop the closing vertex.
    let n = if pts.len() > 1 && pts.first() == pts.last() {
        pts.len() - 1
    } else {
        pts.len()
    };
    if n == 0 {
        return None;
    }
    let (sx, sy) = pts[..n].iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    Some((sx / n as f64, sy / n as f64))
}

fn dates(points: &[Point]) -> std::collections::BTreeSet<String> {
    points.iter().filter_map(|p| p.date.clone()).collect()
}

fn list(d: &std::collections::BTreeSet<String>) -> String {
    d.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Puts detections and truth on the same date(s) before matching, or says why they cannot
/// be. `detect` labels its points `date: "image"`, truth from `wrap-frame` has no date and
/// truth from `synth` says `before`/`after`: without this, nothing matches and `eval`
/// reports zeros without a word.
///
/// - `date = Some(D)`: in a file with several dates only the points dated `D` (and
///   undated ones) are kept; a file with one date or none is taken whole. Both sides then
///   count as one date. A file with several dates none of which is `D` is an error.
/// - `date = None`: dated files with at least one date in common are compared date by
///   date. A file with one date (or none) facing a file with no date is compared as one
///   date. Files with no date in common, or several dates facing none, are an error that
///   asks for `--date`.
pub fn align_dates(
    det: Vec<Point>,
    truth: Vec<Point>,
    date: Option<&str>,
) -> Result<(Vec<Point>, Vec<Point>), String> {
    let undate = |v: Vec<Point>| -> Vec<Point> { v.into_iter().map(|p| Point { date: None, ..p }).collect() };
    let (dd, dt) = (dates(&det), dates(&truth));
    if let Some(d) = date {
        let pick = |v: Vec<Point>, ds: &std::collections::BTreeSet<String>, what: &str| {
            if ds.len() <= 1 {
                return Ok(undate(v));
            }
            if !ds.contains(d) {
                return Err(format!(
                    "the {what} have no points dated {d:?} (their dates: {})",
                    list(ds)
                ));
            }
            Ok(undate(
                v.into_iter()
                    .filter(|p| p.date.as_deref().is_none_or(|x| x == d))
                    .collect(),
            ))
        };
        return Ok((pick(det, &dd, "detections")?, pick(truth, &dt, "truth")?));
    }
    if !dd.is_empty() && !dt.is_empty() {
        if dd.is_disjoint(&dt) {
            return Err(format!(
                "the detections are dated {} and the truth {}: no date in common, so nothing \
                 can match; pass --date to compare one date of the truth with them",
                list(&dd),
                list(&dt)
            ));
        }
        return Ok((det, truth));
    }
    if det.is_empty() || truth.is_empty() {
        // Nothing on one side: every point of the other is a miss or a false alarm.
        return Ok((det, truth));
    }
    if dd.len() > 1 || dt.len() > 1 {
        let (what, ds) = if dd.len() > 1 {
            ("detections", &dd)
        } else {
            ("truth", &dt)
        };
        return Err(format!(
            "the {what} carry several dates ({}) and the other file none: pass --date to pick one",
            list(ds)
        ));
    }
    Ok((undate(det), undate(truth)))
}

/// Candidate pairs closer than `max_m` (and on the same date), found through a grid of
/// cells at least `max_m` wide so that only neighbouring cells are compared: about
/// n + m + pairs work instead of n x m.
fn close_pairs(det: &[Point], truth: &[Point], max_m: f64) -> Vec<(f64, usize, usize)> {
    let same_date = |d: &Point, t: &Point| match (&d.date, &t.date) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let mut pairs = Vec::new();
    // The cell's longitude width uses the smallest cos(lat) of all points: the midpoint
    // latitude of any pair has a cos at least that large, so a close pair is never more
    // than one cell apart.
    let min_cos = det
        .iter()
        .chain(truth)
        .map(|p| p.lat.to_radians().cos())
        .fold(1.0f64, f64::min)
        .max(1e-9);
    let (cell_lon, cell_lat) = (max_m / (111_320.0 * min_cos), max_m / 110_574.0);
    if !(cell_lon > 0.0 && cell_lat > 0.0 && cell_lon.is_finite()) {
        return pairs;
    }
    let cell = |p: &Point| {
        (
            (p.lon / cell_lon).floor() as i64,
            (p.lat / cell_lat).floor() as i64,
        )
    };
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = std::collections::HashMap::new();
    for (j, t) in truth.iter().enumerate() {
        grid.entry(cell(t)).or_default().push(j);
    }
    for (i, d) in det.iter().enumerate() {
        let (cx, cy) = cell(d);
        for gx in cx - 1..=cx + 1 {
            for gy in cy - 1..=cy + 1 {
                for &j in grid.get(&(gx, gy)).map(Vec::as_slice).unwrap_or(&[]) {
                    let dist = distance_m(d, &truth[j]);
                    if same_date(d, &truth[j]) && dist <= max_m {
                        pairs.push((dist, i, j));
                    }
                }
            }
        }
    }
    pairs
}

/// One-to-one greedy matching within `max_m`; returns the matched (detection, truth) pairs.
pub fn match_points(det: &[Point], truth: &[Point], max_m: f64) -> Vec<(usize, usize)> {
    let mut pairs = close_pairs(det, truth, max_m);
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut used_d, mut used_t) = (vec![false; det.len()], vec![false; truth.len()]);
    let mut out = Vec::new();
    for (_, i, j) in pairs {
        if !used_d[i] && !used_t[j] {
            used_d[i] = true;
            used_t[j] = true;
            out.push((i, j));
        }
    }
    out
}

/// Precision, recall, F1 and per-site counts.
pub fn evaluate(det: &[Point], truth: &[Point], max_m: f64) -> EvalReport {
    let tp = match_points(det, truth, max_m).len();
    let precision = if det.is_empty() {
        0.0
    } else {
        tp as f64 / det.len() as f64
    };
    let recall = if truth.is_empty() {
        0.0
    } else {
        tp as f64 / truth.len() as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let mut counts: BTreeMap<(Option<String>, Option<String>), (usize, usize)> = BTreeMap::new();
    for d in det {
        counts.entry((d.site_id.clone(), d.date.clone())).or_default().0 += 1;
    }
    for t in truth {
        counts.entry((t.site_id.clone(), t.date.clone())).or_default().1 += 1;
    }
    let per_site = counts
        .into_iter()
        .map(|((site_id, date), (detected, truth))| SiteCount {
            site_id,
            date,
            detected,
            truth,
            count_error: (truth > 0).then(|| (detected as f64 - truth as f64).abs() / truth as f64),
        })
        .collect();
    EvalReport {
        match_distance_m: max_m,
        detections: det.len(),
        truth: truth.len(),
        true_positives: tp,
        false_positives: det.len() - tp,
        false_negatives: truth.len() - tp,
        precision,
        recall,
        f1,
        per_site,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lon: f64, lat: f64) -> Point {
        Point {
            lon,
            lat,
            site_id: Some("a".into()),
            date: None,
        }
    }

    #[test]
    fn one_to_one_matching_and_scores() {
        let m = 1.0 / 111_320.0; // about a metre of latitude in degrees
        let truth = vec![p(0.0, 0.0), p(0.0, 10.0 * m)];
        // Two detections near the first truth point, none near the second, one far away.
        let det = vec![p(0.0, 0.5 * m), p(0.0, -0.8 * m), p(0.0, 50.0 * m)];
        let r = evaluate(&det, &truth, 1.5);
        assert_eq!(
            (r.true_positives, r.false_positives, r.false_negatives),
            (1, 2, 1)
        );
        assert!((r.precision - 1.0 / 3.0).abs() < 1e-12 && (r.recall - 0.5).abs() < 1e-12);
        assert!((r.f1 - 0.4).abs() < 1e-12);
        assert_eq!(r.per_site[0].count_error, Some(0.5));
    }

    fn dated(date: Option<&str>, n: usize) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                date: date.map(str::to_string),
                ..p(0.0, i as f64 * 1e-3)
            })
            .collect()
    }

    #[test]
    fn detect_output_against_undated_truth_matches() {
        // `detect` writes date "image"; `wrap-frame` truth has no date.
        let (d, t) = align_dates(dated(Some("image"), 3), dated(None, 3), None).unwrap();
        let r = evaluate(&d, &t, 1.5);
        assert_eq!((r.true_positives, r.precision, r.recall), (3, 1.0, 1.0));
        assert_eq!(r.per_site.len(), 1);
        assert_eq!(r.per_site[0].count_error, Some(0.0));
    }

    #[test]
    fn disjoint_dates_are_refused_unless_one_is_picked() {
        let mut truth = dated(Some("before"), 3);
        truth.extend(dated(Some("after"), 1));
        let e = align_dates(dated(Some("image"), 3), truth.clone(), None).unwrap_err();
        assert!(e.contains("--date") && e.contains("image"), "{e}");
        let (d, t) = align_dates(dated(Some("image"), 3), truth.clone(), Some("before")).unwrap();
        let r = evaluate(&d, &t, 1.5);
        assert_eq!((r.true_positives, r.truth), (3, 3));
        let (d, t) = align_dates(dated(Some("image"), 3), truth.clone(), Some("after")).unwrap();
        assert_eq!(evaluate(&d, &t, 1.5).per_site[0].count_error, Some(2.0));
        assert!(align_dates(dated(Some("image"), 3), truth, Some("2026-01-01")).is_err());
        // Several dates facing none.
        let mut two = dated(Some("before"), 1);
        two.extend(dated(Some("after"), 1));
        assert!(align_dates(two.clone(), dated(None, 1), None).is_err());
        // No detections at all: every truth point is a miss, not an error.
        let (d, t) = align_dates(Vec::new(), two, None).unwrap();
        assert_eq!(evaluate(&d, &t, 1.5).recall, 0.0);
    }

    #[test]
    fn shared_dates_are_compared_date_by_date() {
        let mut det = dated(Some("before"), 2);
        det.extend(dated(Some("after"), 1));
        let mut truth = dated(Some("before"), 2);
        truth.extend(dated(Some("after"), 2));
        let (d, t) = align_dates(det, truth, None).unwrap();
        let r = evaluate(&d, &t, 1.5);
        assert_eq!(r.per_site.len(), 2);
        assert_eq!(r.true_positives, 3);
    }

    /// Every pair within the distance, the brute-force way (the reference for the grid).
    fn brute_pairs(det: &[Point], truth: &[Point], max_m: f64) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (i, d) in det.iter().enumerate() {
            for (j, t) in truth.iter().enumerate() {
                if distance_m(d, t) <= max_m {
                    v.push((i, j));
                }
            }
        }
        v
    }

    proptest::proptest! {
        #[test]
        fn grid_finds_every_close_pair(
            seed in 0u64..1000, lat0 in -70.0f64..70.0, max_m in 0.5f64..5.0,
        ) {
            let mut rng = crate::learned::rng::SplitMix64::new(seed);
            let mut pts = |n: usize| -> Vec<Point> {
                (0..n).map(|_| Point {
                    lon: 30.0 + rng.range(0.0, 2e-4) as f64,
                    lat: lat0 + rng.range(0.0, 2e-4) as f64,
                    site_id: None,
                    date: None,
                }).collect()
            };
            let (d, t) = (pts(60), pts(60));
            let mut got: Vec<(usize, usize)> = close_pairs(&d, &t, max_m).iter().map(|p| (p.1, p.2)).collect();
            got.sort();
            proptest::prop_assert_eq!(got, brute_pairs(&d, &t, max_m));
        }
    }

    #[test]
    fn polygons_count_by_centroid() {
        let t = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"site_id":"s"},
            "geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}}]}"#;
        let pts = parse_points(t).unwrap();
        assert_eq!((pts[0].lon, pts[0].lat), (1.0, 1.0));
        assert!(parse_points("{}").is_err());
    }
}
