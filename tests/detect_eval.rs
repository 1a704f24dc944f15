//! `detect` on a single date and `eval` against the scene's truth.

mod common;

use std::fs;

use stagewatch::eval::EvalReport;
use stagewatch::pipeline::detect::DetectReport;

#[test]
fn detect_then_eval_on_a_generated_scene() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &dir.path().join("scene"));
    let out = dir.path().join("det");
    let o = common::run(&[
        "--quiet",
        "detect",
        "--detector",
        "tophat",
        "--image",
        r.before.to_str().unwrap(),
        "--sites",
        r.sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: DetectReport = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    for (s, t) in rep.sites.iter().zip(&r.truth_data.sites) {
        if t.expected_status == "ok" {
            assert_eq!(s.vehicles, Some(t.before_vehicles as u32), "{}", s.id);
        }
        if t.expected_status == "no_coverage" {
            // Off the imagery: no count (was 0), and the status in the table.
            assert_eq!(s.vehicles, None, "{}", s.id);
        }
    }
    assert_eq!(rep.inputs.image.date.as_deref(), Some("2026-03-02"));
    // Keep only the before-date truth, then evaluate.
    let mut truth: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("scene/truth.geojson")).unwrap()).unwrap();
    truth["features"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["properties"]["date"] == "before");
    for f in truth["features"].as_array_mut().unwrap() {
        f["properties"].as_object_mut().unwrap().remove("date");
    }
    let tpath = dir.path().join("before-truth.geojson");
    fs::write(&tpath, truth.to_string()).unwrap();
    let o = common::run(&[
        "eval",
        "--detections",
        out.join("detections.geojson").to_str().unwrap(),
        "--truth",
        tpath.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let e: EvalReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(e.truth, 74);
    assert!(e.recall >= 0.99 && e.precision >= 0.99, "{e:?}");
    // Undated truth: one row per site (not a detections row and a truth row per site).
    assert!(
        e.per_site
            .iter()
            .all(|s| s.date.is_none() && s.detected > 0 && s.truth > 0),
        "{e:?}"
    );
    assert!(e.per_site.iter().all(|s| s.count_error == Some(0.0)), "{e:?}");

    // The scene's own truth (dated before/after) against `detect` output (dated "image"):
    // nothing can match without --date, so exit 2 saying so (was: precision 0, recall 0).
    let dets = out.join("detections.geojson");
    let full = dir.path().join("scene/truth.geojson");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "eval",
            "--detections",
            dets.to_str().unwrap(),
            "--truth",
            full.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>| common::run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(&[]));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--date") && err.contains("image") && err.lines().count() == 1,
        "{err}"
    );
    let o = run(args(&["--date", "before"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e2: EvalReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (e2.truth, e2.true_positives, e2.per_site.len()),
        (e.truth, e.true_positives, e.per_site.len())
    );
    let o = run(args(&["--date", "2020-01-01"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn eval_rejects_a_file_that_is_not_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.geojson");
    fs::write(&p, "nope").unwrap();
    let o = common::run(&[
        "eval",
        "--detections",
        p.to_str().unwrap(),
        "--truth",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("x.geojson"));
}
