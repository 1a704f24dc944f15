//! The learned detector: a tiny training run learns (its loss falls) and is the same on
//! 1 and 2 threads; model files that are not models are refused naming the file; the
//! shipped model counts held-aside real frames (never used for training or tuning)
//! within the bounds measured when it was shipped.

mod common;

use stagewatch::learned::frames::{Frame, LBox};
use stagewatch::learned::net::Tensor;
use stagewatch::learned::rng::SplitMix64;
use stagewatch::learned::train::{train, TrainOptions};

/// A 0.4 m frame of textured bright ground with dark 4.5 x 2 m "vehicles" in rows.
fn toy_frame(seed: u64) -> Frame {
    let (w, h) = (160, 120);
    let mut rng = SplitMix64::new(seed);
    let mut img = Tensor::zeros(h, w, 3);
    for v in img.data.iter_mut() {
        *v = 0.3 + 0.1 * rng.normal();
    }
    let mut boxes = Vec::new();
    for row in 0..3 {
        for k in 0..8 {
            let (cx, cy) = (20.0 + k as f32 * 16.0, 25.0 + row as f32 * 35.0);
            for y in (cy - 2.5) as usize..(cy + 2.5) as usize {
                for x in (cx - 5.5) as usize..(cx + 5.5) as usize {
                    for b in 0..3 {
                        img.data[(y * w + x) * 3 + b] = -0.6;
                    }
                }
            }
            boxes.push(LBox {
                x: cx,
                y: cy,
                len_m: 4.5,
                short_m: 2.0,
                horizontal: true,
            });
        }
    }
    Frame {
        name: format!("toy{seed}"),
        img,
        boxes,
        incomplete: false,
    }
}

fn tiny_options() -> TrainOptions {
    TrainOptions {
        steps: 150,
        batch: 4,
        patch_px: 48,
        width: 8,
        ..TrainOptions::default()
    }
}

#[test]
fn tiny_training_run_loss_falls_and_is_thread_count_independent() {
    let frames = vec![toy_frame(1), toy_frame(2)];
    let o = tiny_options();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| train(&frames, &o, &|_, _| {}))
    };
    let (m1, losses) = run(1);
    assert_eq!(losses.len(), 3);
    assert!(losses[2] < 0.8 * losses[0], "loss did not fall: {losses:?}");
    let (m2, losses2) = run(2);
    assert_eq!(m1.weights, m2.weights, "weights differ between 1 and 2 threads");
    assert_eq!(losses, losses2);
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn files_that_are_not_models_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &dir.path().join("scene"));
    let shipped = stagewatch::learned::model::SHIPPED;
    let mut other_version = shipped.to_vec();
    other_version[5..7].copy_from_slice(b"07");
    let mut truncated = shipped.to_vec();
    truncated.truncate(shipped.len() - 10);
    let cases = [
        (
            "text.swdet",
            b"hello, not a model".to_vec(),
            "not a stagewatch detector model",
        ),
        ("v7.swdet", other_version, "model format"),
        ("short.swdet", truncated, "weight bytes"),
    ];
    for (name, bytes, want) in cases {
        let p = write(dir.path(), name, &bytes);
        let out = dir.path().join(format!("out-{name}"));
        let o = common::compare_with(&r, &out, "learned", &["--model", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(name) && err.contains(want), "{name}: {err}");
        assert!(!out.join("report.json").exists());
    }
}

#[test]
fn a_model_file_is_used_and_its_hash_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &dir.path().join("scene"));
    let p = write(dir.path(), "m.swdet", stagewatch::learned::model::SHIPPED);
    let out = dir.path().join("out");
    let o = common::compare_with(&r, &out, "learned", &["--model", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: stagewatch::report::Report =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let d = &rep.parameters.settings.detect;
    assert_eq!(d.detector, stagewatch::blobs::Detector::Learned);
    let shipped = stagewatch::learned::model::Model::shipped();
    assert_eq!(d.model_sha256.as_deref(), Some(shipped.sha256.as_str()));
    // The evidence model's detector terms are the model's measured ones.
    let cal = shipped
        .header
        .calibration
        .as_ref()
        .expect("the shipped model is calibrated");
    assert_eq!(rep.parameters.settings.evidence.detector.recall, cal.recall);
    assert_eq!(
        rep.parameters.settings.evidence.detector.false_positives_per_km2,
        cal.false_positives_per_km2
    );
}

#[test]
fn an_evidence_config_without_a_detector_block_keeps_the_measured_terms() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &dir.path().join("scene"));
    let cfg = write(dir.path(), "evidence.json", br#"{"min_before_vehicles": 5}"#);
    let out = dir.path().join("out");
    let o = common::compare_with(&r, &out, "learned", &["--evidence-config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: stagewatch::report::Report =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let cal = stagewatch::learned::model::Model::shipped()
        .evidence_detector()
        .unwrap();
    assert_eq!(rep.parameters.settings.evidence.detector, cal);
    assert_eq!(rep.parameters.settings.evidence.min_before_vehicles, 5.0);
}
