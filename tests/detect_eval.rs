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
