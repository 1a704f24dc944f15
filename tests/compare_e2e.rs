//! `compare` end to end on generated scenes with known truth: mixed CRS and GSD, a
//! geographic after image, off-image and half-covered sites; the report is read back
//! into the typed structs of the contract.

mod common;

use std::fs;

use stagewatch::evidence::Verdict;
use stagewatch::raster::{geotiff::GeoTiff, read_all, RasterSource};
use stagewatch::report::{Report, SiteStatus};

fn check_scenario(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth(name, &dir.path().join("scene"));
    let out = dir.path().join("out");
    let o = common::compare(&r, &out, &[]);
    assert!(
        o.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Report = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report.schema_version, 2);
    assert_eq!(report.tool.name, "stagewatch");
    // Every input site once, in input order.
    let ids: Vec<&str> = report.sites.iter().map(|s| s.id.as_str()).collect();
    let truth_ids: Vec<&str> = r.truth_data.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, truth_ids);
    let mut total = 0;
    for (s, t) in report.sites.iter().zip(&r.truth_data.sites) {
        assert_eq!(s.status.as_str(), t.expected_status, "{name}/{}", s.id);
        if s.status == SiteStatus::Ok {
            for (got, want) in [
                (s.before.vehicles, t.before_vehicles),
                (s.after.vehicles, t.after_vehicles),
            ] {
                let err = (got as f64 - want as f64).abs();
                assert!(
                    err <= (0.1 * want as f64).max(0.0),
                    "{name}/{}: counted {got}, truth {want}",
                    s.id
                );
            }
            assert!(s.change_raster.is_some());
        }
        assert!((0.0..=1.0).contains(&s.observed_fraction) && (0.0..=1.0).contains(&s.changed_fraction));
        total += s.before.vehicles + s.after.vehicles;
    }
    // Sites that lost or gained vehicles changed more than the steady one.
    let cf = |id: &str| report.sites.iter().find(|s| s.id == id).unwrap().changed_fraction;
    assert!(
        cf("alpha") > 0.05 && cf("charlie") > 0.05 && cf("bravo") < 0.01,
        "{name}"
    );
    assert_eq!(report.withdrawal_evidence.verdict, Verdict::PartialWithdrawal);
    assert!(report.withdrawal_evidence.sites_used >= 4);
    // Companion outputs agree with the report.
    check_sites_csv(&out, &report);
    check_change_raster(name, &r, &out, &report);
    let det: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("detections.geojson")).unwrap()).unwrap();
    assert_eq!(det["features"].as_array().unwrap().len() as u32, total);
    let f0 = &det["features"][0];
    assert_eq!(f0["geometry"]["type"], "Point");
    assert!(f0["properties"]["site_id"].is_string() && f0["properties"]["area_m2"].is_number());
}

/// `sites.csv` has one row per site with the site's verdict and remaining fraction.
fn check_sites_csv(out: &std::path::Path, report: &Report) {
    let csv = fs::read_to_string(out.join("sites.csv")).unwrap();
    assert_eq!(csv.lines().count(), report.sites.len() + 1);
    // Each row carries the site's verdict and remaining-fraction interval.
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        head.iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    for name in [
        "verdict",
        "remaining_estimate",
        "remaining_low",
        "remaining_high",
        "explanation",
        "flags",
    ] {
        col(name);
    }
    for (line, s) in csv.lines().skip(1).zip(&report.sites) {
        // Explanations hold commas, so they are quoted: split off the unquoted head only.
        let cells: Vec<&str> = line.split(',').collect();
        let ev = s.evidence.as_ref().unwrap();
        assert_eq!(cells[col("verdict")], ev.verdict.as_str(), "{line}");
        let want = ev
            .remaining_fraction
            .map_or(String::new(), |i| format!("{:.4}", i.estimate));
        assert_eq!(cells[col("remaining_estimate")], want, "{line}");
        assert!(line.contains(&format!("\"{}\"", ev.explanation)) || line.contains(&ev.explanation));
    }
}

/// The change raster is georeferenced on the site grid, with named bands; no temporary
/// files are left behind.
fn check_change_raster(name: &str, r: &stagewatch::synth::Rendered, out: &std::path::Path, report: &Report) {
    let alpha = report.sites.iter().find(|s| s.id == "alpha").unwrap();
    let change_path = out.join(alpha.change_raster.as_ref().unwrap());
    let g = GeoTiff::open(&change_path).unwrap();
    // Its bands are named (GDAL_METADATA descriptions, shown by QGIS and gdalinfo).
    let photometric = |p: &std::path::Path| {
        let mut d = tiff::decoder::Decoder::new(fs::File::open(p).unwrap()).unwrap();
        let names = d.get_tag_ascii_string(tiff::tags::Tag::Unknown(42112)).ok();
        (
            d.get_tag_u32(tiff::tags::Tag::PhotometricInterpretation).unwrap(),
            names,
        )
    };
    let (_, names) = photometric(&change_path);
    // Three Byte bands (the rendered scenes) are tagged RGB, so viewers show true colour.
    if GeoTiff::open(&r.before).unwrap().info().data_type == stagewatch::raster::DataType::Byte {
        assert_eq!(photometric(&r.before).0, 2, "{name}");
    }
    let names = names.unwrap();
    assert!(
        names.contains(">change_magnitude<") && names.contains(">change_mask<"),
        "{names}"
    );
    let grid = alpha.grid.as_ref().unwrap();
    assert_eq!(format!("EPSG:{}", g.info().epsg), grid.crs);
    assert_eq!(
        (g.info().width, g.info().height, g.info().bands),
        (grid.width, grid.height, 2)
    );
    let block = read_all(&g).unwrap();
    let changed = block
        .data
        .index_axis(ndarray::Axis(0), 1)
        .iter()
        .filter(|&&v| v == 1.0)
        .count();
    assert!(changed > 0);
    // No temporary files are left behind.
    for p in common::files_below(out) {
        assert!(
            !p.file_name().unwrap().to_string_lossy().ends_with(".tmp"),
            "{}",
            p.display()
        );
    }
}

#[test]
fn demo_scenario_mixed_utm_zones_and_gsd() {
    check_scenario("demo");
}

#[test]
fn clear_scenario_same_grid() {
    check_scenario("clear");
}

#[test]
fn geographic_after_image_and_uint16_before() {
    check_scenario("geographic");
}

#[test]
fn demo_subcommand_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::run(&["demo", "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("alpha") && text.contains("withdrawal evidence"),
        "{text}"
    );
    assert!(dir.path().join("out/report.json").is_file());
}

/// `synth --list` needs no `--out`, and every pair it lists renders (scripts/eval-suite
/// feeds the list back to `synth --scenario`).
#[test]
fn synth_list_works_without_out_and_names_renderable_scenarios() {
    let o = common::run(&["synth", "--list"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("(series") && !l.contains("(validation"))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    // The validation scenes are listed apart (never measured) and render too.
    for name in stagewatch::synth::PARK_VALIDATION_SCENARIOS {
        assert!(text.contains(&format!("{name} (validation")), "{text}");
        assert!(stagewatch::synth::scenario(name).is_ok(), "{name}");
    }
    assert!(names.len() >= 10 && names.contains(&"demo"), "{text}");
    for name in names {
        assert!(stagewatch::synth::scenario(name).is_ok(), "{name}");
    }
    let o = common::run(&["synth", "--scenario", "clear"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A mask raster (nonzero = not observed) on the after image's grid: its left half set
/// hides exactly the sites there on the after date; an all-zero mask changes nothing.
#[test]
fn a_mask_raster_hides_what_it_marks() {
    use stagewatch::raster::write::{write_geotiff, GeoMeta, Samples};
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &dir.path().join("scene"));
    let after = GeoTiff::open(&r.after).unwrap();
    let info = after.info().clone();
    let (w, h) = (info.width, info.height);
    let meta = GeoMeta {
        epsg: info.epsg,
        transform: info.transform,
        nodata: None,
        datetime: None,
    };
    let run = |name: &str, mask: Option<Vec<u8>>| -> Report {
        let out = dir.path().join(name);
        let mut extra = Vec::new();
        let path = dir.path().join(format!("{name}.tif"));
        if let Some(m) = mask {
            write_geotiff(&path, w, h, 1, Samples::U8(&m), &meta).unwrap();
            extra = vec!["--after-mask", path.to_str().unwrap()];
        }
        let o = common::compare(&r, &out, &extra);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap()
    };
    let plain = run("plain", None);
    let zero = run("zero", Some(vec![0; w * h]));
    let left: Vec<u8> = (0..w * h).map(|i| u8::from(i % w < w / 2)).collect();
    let half = run("half", Some(left));
    // All zero: the same counts and coverage as no mask at all.
    for (a, b) in plain.sites.iter().zip(&zero.sites) {
        assert_eq!(
            (a.observed_fraction, a.after.vehicles, a.before.vehicles),
            (b.observed_fraction, b.after.vehicles, b.before.vehicles),
            "{}",
            a.id
        );
    }
    // Left half masked: some site loses after-date coverage, none gains any.
    let mut hidden = 0;
    for (a, b) in plain.sites.iter().zip(&half.sites) {
        assert!(
            b.after.observed_fraction <= a.after.observed_fraction + 1e-12,
            "{}",
            a.id
        );
        if b.after.observed_fraction < a.after.observed_fraction - 0.5 {
            hidden += 1;
        }
    }
    assert!(hidden >= 1, "no site lost its after-date coverage under the mask");
}
