//! Hostile geometry (issue 12, item 6): a ring of a million vertices and a MultiPolygon
//! of 100,000 parts are rasterised in seconds (edge-table scanline fill), and a site over
//! the vertex limit is refused with one line naming it. Every child runs under a time and
//! an address-space limit.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

/// The first site of a rendered scene: its id and its exterior ring's bounding box.
fn first_site(sites: &Path) -> (String, [f64; 4]) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(sites).unwrap()).unwrap();
    let f = &v["features"][0];
    let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
    let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for p in ring {
        let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    (f["properties"]["id"].as_str().unwrap().to_string(), b)
}

/// A closed ring of `n` vertices on the ellipse inscribed in `b`.
fn ellipse(b: [f64; 4], n: usize) -> Vec<[f64; 2]> {
    let (cx, cy, rx, ry) = (
        (b[0] + b[2]) / 2.0,
        (b[1] + b[3]) / 2.0,
        (b[2] - b[0]) / 2.0,
        (b[3] - b[1]) / 2.0,
    );
    let mut r: Vec<[f64; 2]> = (0..n - 1)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
            [cx + rx * t.cos(), cy + ry * t.sin()]
        })
        .collect();
    r.push(r[0]);
    r
}

fn write_sites(path: &Path, id: &str, geometry: Value) {
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": id}, "geometry": geometry}]});
    std::fs::write(path, serde_json::to_vec(&fc).unwrap()).unwrap();
}

fn compare(r: &stagewatch::synth::Rendered, sites: &Path, out: &Path) -> Option<(Option<i32>, String)> {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let args = [
        "--quiet".to_string(),
        "compare".into(),
        "--before".into(),
        s(&r.before),
        "--after".into(),
        s(&r.after),
        "--sites".into(),
        s(sites),
        "--out".into(),
        s(out),
        "--detector".into(),
        "tophat".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run_limited(&args, Duration::from_secs(120))
}

#[test]
fn a_million_vertex_ring_and_100000_parts_rasterise_quickly() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let (id, b) = first_site(&r.sites);
    // One ring of exactly the vertex limit.
    let ring_sites = d.path().join("ring.geojson");
    let n = stagewatch::sites::MAX_SITE_VERTICES;
    write_sites(
        &ring_sites,
        &id,
        json!({"type": "Polygon", "coordinates": [ellipse(b, n)]}),
    );
    let (code, err) = compare(&r, &ring_sites, &d.path().join("out-ring")).expect("finishes in time");
    assert_eq!(code, Some(0), "{err}");
    // 100,000 small squares tiling the site's box (4 vertices each + closing).
    let k = 316;
    let (dx, dy) = ((b[2] - b[0]) / k as f64, (b[3] - b[1]) / k as f64);
    let parts: Vec<Value> = (0..100_000)
        .map(|i| {
            let (x0, y0) = (b[0] + (i % k) as f64 * dx, b[1] + (i / k) as f64 * dy);
            let (x1, y1) = (x0 + dx * 0.6, y0 + dy * 0.6);
            json!([[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]])
        })
        .collect();
    let multi_sites = d.path().join("multi.geojson");
    write_sites(
        &multi_sites,
        &id,
        json!({"type": "MultiPolygon", "coordinates": parts}),
    );
    let (code, err) = compare(&r, &multi_sites, &d.path().join("out-multi")).expect("finishes in time");
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_site_over_the_vertex_limit_is_refused_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let (id, b) = first_site(&r.sites);
    let sites = d.path().join("over.geojson");
    let n = stagewatch::sites::MAX_SITE_VERTICES + 1;
    write_sites(
        &sites,
        &id,
        json!({"type": "Polygon", "coordinates": [ellipse(b, n)]}),
    );
    let out = d.path().join("out");
    let (code, err) = compare(&r, &sites, &out).expect("finishes in time");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("over.geojson") && err.contains("vertices, over the limit"),
        "{err}"
    );
    assert!(!out.join("report.json").exists());
}
