//! Hostile sizes (issue 12, items 4-5): a site, image or pair too large for memory gives
//! a one-line error (a site error when it is one site of many: the others still finish
//! and the report is written), never an allocation abort. Every child runs under a
//! 4 GiB address-space limit ([`common::run_limited`]), so the default memory budget is
//! 2 GiB there.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

/// A valid, georeferenced, 1-band Byte GeoTIFF of `side` x `side` pixels whose every
/// row strip points at the same zero row: a few MB on disk for a terapixel image.
fn sparse_tiff(path: &Path, side: u32) {
    tiff_with(path, side, None)
}

/// [`sparse_tiff`], with an ASCII `DateTime` tag of `ascii_len` bytes when given.
fn tiff_with(path: &Path, side: u32, ascii_len: Option<u32>) {
    let n_entries: u16 = 14 + ascii_len.is_some() as u16;
    let ifd_off = 8u32;
    let mut off = ifd_off + 2 + n_entries as u32 * 12 + 4;
    let offsets_off = off;
    off += 4 * side;
    let counts_off = off;
    off += 4 * side;
    let (scale_off, tie_off, geo_off) = (off, off + 24, off + 72);
    let data_off = off + 72 + 32;
    let mut b: Vec<u8> = b"II*\0".to_vec();
    b.extend(ifd_off.to_le_bytes());
    b.extend(n_entries.to_le_bytes());
    // (tag, type, count, value or offset); type 3 SHORT, 4 LONG, 12 DOUBLE.
    let mut entries: Vec<(u16, u16, u32, u32)> = vec![
        (256, 4, 1, side),
        (257, 4, 1, side),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, side, offsets_off),
        (277, 3, 1, 1),
        (278, 4, 1, 1),
        (279, 4, side, counts_off),
        (284, 3, 1, 1),
        (339, 3, 1, 1),
        (33550, 12, 3, scale_off),
        (33922, 12, 6, tie_off),
        (34735, 3, 16, geo_off),
    ];
    if let Some(n) = ascii_len {
        entries.push((306, 2, n, data_off));
        entries.sort();
    }
    for (tag, typ, count, val) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(typ.to_le_bytes());
        b.extend(count.to_le_bytes());
        b.extend(val.to_le_bytes());
    }
    b.extend(0u32.to_le_bytes());
    for _ in 0..side {
        b.extend(data_off.to_le_bytes());
    }
    for _ in 0..side {
        b.extend(side.to_le_bytes());
    }
    for v in [0.5f64, 0.5, 0.0, 0.0, 0.0, 0.0, 300000.0, 5330000.0, 0.0] {
        b.extend(v.to_le_bytes());
    }
    for v in [1u16, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32636] {
        b.extend(v.to_le_bytes());
    }
    b.resize(b.len() + side as usize, 0);
    std::fs::write(path, b).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Issue 12 item 19: the `tiff` crate's `dbg!` line on an over-long ASCII tag never
/// reaches the user; the error is one line naming the file.
#[test]
fn an_overlong_ascii_tag_is_one_line() {
    let d = tempfile::tempdir().unwrap();
    let tif = d.path().join("ascii.tif");
    tiff_with(&tif, 4, Some(0x2000_0000));
    // The pure-Rust reader (GDAL, in a `--features gdal` build, reads the file and ignores
    // the tag with a warning of its own).
    let args = ["info", "--reader", "rust", s(&tif)];
    let (code, err) = common::run_limited(&args, Duration::from_secs(30)).expect("in time");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("ascii.tif") && err.contains("ASCII tag 306"),
        "{err}"
    );
}

#[test]
fn a_sparse_terapixel_tiff_is_refused_by_info_and_scan() {
    let d = tempfile::tempdir().unwrap();
    let tif = d.path().join("sparse.tif");
    sparse_tiff(&tif, 1_000_000);
    let limit = Duration::from_secs(60);
    let (code, err) = common::run_limited(&["info", "--read", s(&tif)], limit).expect("in time");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("sparse.tif") && err.contains("over the memory budget"),
        "{err}"
    );
    let out = d.path().join("scan.geojson");
    let (code, err) = common::run_limited(
        &["scan", "--before", s(&tif), "--after", s(&tif), "--out", s(&out)],
        limit,
    )
    .expect("in time");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("sparse.tif") && err.contains("over the memory budget"),
        "{err}"
    );
    assert!(!out.exists());
}

/// The `clear` scene's sites plus a 5 km x 5 km one (a 10,000² grid at 0.5 m).
fn with_huge_site(sites: &Path, out: &Path) -> usize {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(sites).unwrap()).unwrap();
    let p = v["features"][0]["geometry"]["coordinates"][0][0].clone();
    let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    let (dx, dy) = (2500.0 / (111_320.0 * y.to_radians().cos()), 2500.0 / 111_320.0);
    let ring = json!([
        [x - dx, y - dy],
        [x + dx, y - dy],
        [x + dx, y + dy],
        [x - dx, y + dy],
        [x - dx, y - dy]
    ]);
    let feats = v["features"].as_array_mut().unwrap();
    feats.push(json!({"type": "Feature", "properties": {"id": "huge"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}));
    let n = feats.len();
    std::fs::write(out, serde_json::to_vec(&v).unwrap()).unwrap();
    n
}

#[test]
fn a_site_too_large_for_memory_is_a_site_error_and_the_others_finish() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let sites = d.path().join("sites.geojson");
    let n = with_huge_site(&r.sites, &sites);
    let out = d.path().join("out");
    let args = [
        "--quiet",
        "compare",
        "--before",
        s(&r.before),
        "--after",
        s(&r.after),
        "--sites",
        s(&sites),
        "--out",
        s(&out),
        "--detector",
        "tophat",
    ];
    let (code, err) = common::run_limited(&args, Duration::from_secs(120)).expect("in time");
    assert_eq!(code, Some(1), "{err}");
    let rep: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let rows = rep["sites"].as_array().unwrap();
    assert_eq!(rows.len(), n);
    for row in rows {
        if row["id"] == "huge" {
            assert_eq!(row["status"], "error");
            let e = row["error"].as_str().unwrap();
            assert!(
                e.contains("over the budget") && e.contains("--max-site-mib"),
                "{e}"
            );
        } else {
            assert_ne!(row["status"], "error", "{row}");
        }
    }
    // `detect` on one date: the same site error, the other sites counted.
    let det = d.path().join("det");
    let args = [
        "--quiet",
        "detect",
        "--image",
        s(&r.before),
        "--sites",
        s(&sites),
        "--out",
        s(&det),
    ];
    let (code, err) = common::run_limited(&args, Duration::from_secs(120)).expect("in time");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("huge") && err.contains("over the budget"), "{err}");
}
