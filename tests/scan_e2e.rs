//! `stagewatch scan` end to end: a georeferenced pair on one grid gives one lon/lat
//! polygon per changed blob (the same blobs as the in-memory hot path), byte-identical
//! on 1 and 2 threads; a pair on different grids is refused in one line naming the
//! after file, and nothing is written.

mod common;

use std::path::Path;
use std::process::Command;

use stagewatch::fast::{bench_pair, changed_blobs, HotParams};
use stagewatch::raster::write::GeoMeta;
use stagewatch::raster::write_tiled::{write_tiled_u8_with, TileCompression};
use stagewatch::raster::GeoTransform;

fn write(path: &Path, img: &[u8], n: usize, x0: f64) {
    let meta = GeoMeta {
        epsg: 32636,
        transform: GeoTransform::north_up(x0, 5_600_000.0, 0.5, 0.5),
        nodata: None,
        datetime: None,
    };
    let t = 128;
    write_tiled_u8_with(
        path,
        (n, n, 1, t),
        TileCompression::Deflate,
        &meta,
        |tx, ty, buf| {
            for r in 0..t {
                for c in 0..t {
                    let (x, y) = (tx * t + c, ty * t + r);
                    buf[r * t + c] = if x < n && y < n { img[y * n + x] } else { 0 };
                }
            }
        },
    )
    .unwrap();
}

fn scan(dir: &Path, after: &str, out: &str, threads: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stagewatch"))
        .args(["scan", "--before"])
        .arg(dir.join("before.tif"))
        .arg("--after")
        .arg(dir.join(after))
        .arg("--out")
        .arg(dir.join(out))
        .args(["--max-area-m2", "100", "--quiet"])
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap()
}

#[test]
fn scan_writes_changed_blobs_as_lonlat_polygons() {
    let dir = tempfile::tempdir().unwrap();
    let n = 600;
    let (a, b) = bench_pair(n, 40);
    write(&dir.path().join("before.tif"), &a, n, 500_000.0);
    write(&dir.path().join("after.tif"), &b, n, 500_000.0);
    write(&dir.path().join("elsewhere.tif"), &b, n, 500_100.0);

    let o1 = scan(dir.path(), "after.tif", "one.geojson", "1");
    assert!(o1.status.success(), "{}", String::from_utf8_lossy(&o1.stderr));
    let o2 = scan(dir.path(), "after.tif", "two.geojson", "2");
    assert!(o2.status.success());
    let text = std::fs::read_to_string(dir.path().join("one.geojson")).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(dir.path().join("two.geojson")).unwrap()
    );

    // 0.25 m2 pixels: 4-100 m2 is 16-400 px.
    let p = HotParams {
        min_area_px: 16,
        max_area_px: 400,
        ..HotParams::default()
    };
    let want = changed_blobs(&a, &b, n, n, &p);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), want.len());
    assert!(want.len() > 30, "{} blobs", want.len());
    for (f, w) in feats.iter().zip(&want) {
        assert_eq!(f["properties"]["area_px"].as_u64().unwrap(), w.area as u64);
        assert_eq!(f["properties"]["area_m2"].as_f64().unwrap(), w.area as f64 * 0.25);
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 5);
        let (lon, lat) = (ring[0][0].as_f64().unwrap(), ring[0][1].as_f64().unwrap());
        // UTM 36N easting 500 km is the central meridian, 33 E; northing 5600 km is ~50.5 N.
        assert!(
            (32.99..33.02).contains(&lon) && (50.5..50.6).contains(&lat),
            "{lon} {lat}"
        );
    }

    let bad = scan(dir.path(), "elsewhere.tif", "bad.geojson", "2");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("elsewhere.tif") && err.contains("not on the grid"),
        "{err}"
    );
    assert!(!dir.path().join("bad.geojson").exists());
}

/// UInt16 imagery is refused by the fast path with a hint of what to do instead.
#[test]
fn uint16_input_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("nuisance-uint16-4band", &dir.path().join("s"));
    let out = dir.path().join("c.geojson");
    let o = common::run(&[
        "scan",
        "--before",
        r.before.to_str().unwrap(),
        "--after",
        r.after.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("before.tif") && err.contains("convert it to Byte") && err.contains("compare"),
        "{err}"
    );
    assert!(!out.exists());
}
