//! Bad input: a one-line error naming the file, exit code 2 and no outputs; per-site
//! problems mark that site `error`, the rest finish, exit code 1.

mod common;

use std::fs;
use std::path::Path;

use stagewatch::report::{Report, SiteStatus};

fn expect_input_error(args_before: &Path, args_after: &Path, sites: &Path, needle: &str, names: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = common::run(&[
        "--quiet",
        "compare",
        "--before",
        args_before.to_str().unwrap(),
        "--after",
        args_after.to_str().unwrap(),
        "--sites",
        sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(
        err.contains(&names.display().to_string()),
        "file not named: {err}"
    );
    assert!(
        !out.exists() || fs::read_dir(&out).unwrap().next().is_none(),
        "outputs were written"
    );
}

struct Scene {
    _dir: tempfile::TempDir,
    r: stagewatch::synth::Rendered,
    root: std::path::PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let r = common::synth("clear", &root.join("scene"));
    Scene { _dir: dir, r, root }
}

#[test]
fn missing_and_non_raster_files() {
    let s = scene();
    let missing = s.root.join("nope.tif");
    expect_input_error(&missing, &s.r.after, &s.r.sites, "no such file", &missing);
    let text = s.root.join("notes.tif");
    fs::write(&text, "this is not a TIFF").unwrap();
    expect_input_error(&s.r.before, &text, &s.r.sites, "not a readable raster", &text);
}

#[test]
fn raster_without_georeferencing() {
    let s = scene();
    let plain = s.root.join("plain.tif");
    let mut f = fs::File::create(&plain).unwrap();
    let mut enc = tiff::encoder::TiffEncoder::new(&mut f).unwrap();
    enc.write_image::<tiff::encoder::colortype::RGB8>(4, 4, &[100u8; 48])
        .unwrap();
    drop(f);
    expect_input_error(&plain, &s.r.after, &s.r.sites, "no usable georeferencing", &plain);
}

#[test]
fn bad_geojson_cases() {
    let s = scene();
    let text = fs::read_to_string(&s.r.sites).unwrap();
    let cases = [
        (
            "invalid.geojson",
            "{\"type\": \"FeatureCollection\", ".to_string(),
            "not JSON",
        ),
        (
            "noid.geojson",
            text.replacen("\"id\": \"alpha\",", "", 1),
            "no \"id\"",
        ),
        (
            "dup.geojson",
            text.replacen("\"id\": \"bravo\"", "\"id\": \"alpha\"", 1),
            "duplicate id",
        ),
        (
            "point.geojson",
            text.replacen("\"type\": \"Polygon\"", "\"type\": \"Point\"", 1),
            "not Polygon",
        ),
    ];
    for (name, body, needle) in cases {
        assert_ne!(body, text, "{name}: the fixture edit did not apply");
        let p = s.root.join(name);
        fs::write(&p, body).unwrap();
        expect_input_error(&s.r.before, &s.r.after, &p, needle, &p);
    }
}

#[test]
fn band_count_mismatch_names_the_after_image() {
    let s = scene();
    let one = s.root.join("one_band.tif");
    let info = {
        use stagewatch::raster::RasterSource;
        stagewatch::raster::geotiff::GeoTiff::open(&s.r.before)
            .unwrap()
            .info()
            .clone()
    };
    let meta = stagewatch::raster::write::GeoMeta {
        epsg: info.epsg,
        transform: info.transform,
        nodata: None,
        datetime: None,
    };
    let px = vec![50u8; 64 * 64];
    stagewatch::raster::write::write_geotiff(
        &one,
        64,
        64,
        1,
        stagewatch::raster::write::Samples::U8(&px),
        &meta,
    )
    .unwrap();
    expect_input_error(&s.r.before, &one, &s.r.sites, "bands", &one);
}

#[test]
fn a_failing_site_does_not_stop_the_others() {
    let s = scene();
    let mut fc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&s.r.sites).unwrap()).unwrap();
    // A polygon far smaller than a pixel: that site errors, the rest finish.
    let p = fc["features"][0]["geometry"]["coordinates"][0][0].clone();
    let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    let d = 1e-7;
    fc["features"].as_array_mut().unwrap().push(serde_json::json!({
        "type": "Feature", "properties": {"id": "speck"},
        "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y]]]}
    }));
    let sites = s.root.join("with_speck.geojson");
    fs::write(&sites, fc.to_string()).unwrap();
    let out = s.root.join("out");
    let o = common::run(&[
        "--quiet",
        "compare",
        "--before",
        s.r.before.to_str().unwrap(),
        "--after",
        s.r.after.to_str().unwrap(),
        "--sites",
        sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        // Counts on this synthetic scene are the classical detector's.
        "--detector",
        "tophat",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Report = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    let speck = report.sites.last().unwrap();
    assert_eq!((speck.id.as_str(), speck.status), ("speck", SiteStatus::Error));
    assert!(speck.error.as_deref().unwrap().contains("covers no pixel"));
    assert_eq!(report.sites[0].status, SiteStatus::Ok);
    assert!(report.sites[0].before.vehicles > 0);
}

#[test]
fn bad_dates_are_usage_errors() {
    let s = scene();
    let o = common::run(&[
        "--quiet",
        "compare",
        "--before",
        s.r.before.to_str().unwrap(),
        "--after",
        s.r.after.to_str().unwrap(),
        "--sites",
        s.r.sites.to_str().unwrap(),
        "--out",
        s.root.join("o").to_str().unwrap(),
        "--before-date",
        "March",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("YYYY-MM-DD"));
}

#[test]
fn evidence_config_overrides_the_detector_model() {
    let s = scene();
    let cfg = s.root.join("evidence.json");
    fs::write(
        &cfg,
        r#"{"detector": {"recall": 0.5, "false_positives_per_km2": 0}}"#,
    )
    .unwrap();
    let out = s.root.join("out");
    let o = common::run(&[
        "--quiet",
        "compare",
        "--before",
        s.r.before.to_str().unwrap(),
        "--after",
        s.r.after.to_str().unwrap(),
        "--sites",
        s.r.sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--evidence-config",
        cfg.to_str().unwrap(),
        "--detector",
        "tophat",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Report = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report.parameters.settings.evidence.detector.recall, 0.5);
    // Half the vehicles are assumed missed: 24 counted means about 48 there.
    let e = report.sites[0].evidence.as_ref().unwrap();
    assert!((e.before_vehicles.estimate - 48.0).abs() <= 4.0, "{e:?}");
    // An unknown field is a one-line input error naming the file.
    fs::write(&cfg, r#"{"detecter": {}}"#).unwrap();
    expect_input_error_args(&s, &cfg);
}

fn expect_input_error_args(s: &Scene, cfg: &Path) {
    let o = common::run(&[
        "--quiet",
        "compare",
        "--before",
        s.r.before.to_str().unwrap(),
        "--after",
        s.r.after.to_str().unwrap(),
        "--sites",
        s.r.sites.to_str().unwrap(),
        "--out",
        s.root.join("out2").to_str().unwrap(),
        "--evidence-config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("evidence.json") && err.contains("invalid evidence config"),
        "{err}"
    );
    assert!(!s.root.join("out2").exists());
}
