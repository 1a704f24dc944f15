//! The shipped learned detector on real labelled frames it never saw (the measuring
//! split of `learned::frames`), and on the synthetic vehicle park. The bounds below are
//! regression bounds just under what the shipped model measured (README, "Vehicle
//! detector"); the issue's targets are printed by `scripts/eval-suite`.

mod common;

use std::path::Path;

use stagewatch::blobs::VehicleClass;
use stagewatch::learned::frames::{shared_entries, Split};
use stagewatch::learned::measure::{detect_all, summarise};
use stagewatch::learned::model::Model;

const DATA: &str = "../shared/data/aerial-vehicles";

#[test]
fn shipped_model_on_held_aside_real_frames() {
    if !Path::new(DATA).is_dir() {
        eprintln!("skipped: {DATA} is absent");
        return;
    }
    let picks = [
        "MOS160.png",
        "MOS170.png",
        "DJI_0762-00013.jpg",
        "DJI_0013-0028.jpg",
        "tanks21.jpg",
        "tanks58.jpg",
    ];
    let entries: Vec<_> = shared_entries(Path::new(DATA))
        .unwrap()
        .into_iter()
        .filter(|e| e.split == Split::Test)
        .filter(|e| picks.iter().any(|p| e.image.ends_with(p)))
        .collect();
    assert!(entries.len() >= 4, "held-aside frames missing: {}", entries.len());
    let m = Model::shipped();
    for gsd in [None, Some(0.5)] {
        let scored = detect_all(&entries, gsd, &m, VehicleClass::Any).unwrap();
        let frames: Vec<_> = scored.iter().map(|s| s.at(m.header.threshold)).collect();
        for f in &frames {
            eprintln!(
                "{:<24} gsd {:.2} truth {:>3} detected {:>3} matched {:>3}",
                f.frame, f.gsd_m, f.truth, f.detected, f.matched
            );
        }
        let s = summarise(&frames, 5);
        eprintln!("{gsd:?}: {s:?}");
        assert!(s.recall >= RECALL_MIN, "{gsd:?}: recall {}", s.recall);
        assert!(s.precision >= PRECISION_MIN, "{gsd:?}: precision {}", s.precision);
        assert!(s.count_error_median <= COUNT_ERROR_MEDIAN_MAX, "{gsd:?}: {s:?}");
    }
}

/// The packed vehicle park (rows of 10-30, 0.5-1.0 m gaps, hazy after date): with
/// either detector a withdrawal is never reported as a buildup or no change. Counts are
/// printed, not asserted: neither detector counts this scene within the 10 %
/// yet (README, "Vehicle detector").
#[test]
fn vehicle_park_withdrawals_are_never_buildup_or_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("vehicle-park", &dir.path().join("scene"));
    for det in ["learned", "tophat"] {
        let out = dir.path().join(det);
        let o = common::compare_with(&r, &out, det, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rep: stagewatch::report::Report =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        for (s, t) in rep.sites.iter().zip(&r.truth_data.sites) {
            let v = s.evidence.as_ref().unwrap().verdict;
            eprintln!(
                "{det} {}: {}/{} -> {}/{} {:?}",
                s.id, s.before.vehicles, t.before_vehicles, s.after.vehicles, t.after_vehicles, v
            );
            if t.after_vehicles * 10 <= t.before_vehicles * 9 {
                use stagewatch::evidence::Verdict;
                assert!(
                    !matches!(v, Verdict::Buildup | Verdict::NoChange),
                    "{det} {}: a withdrawal reported as {v:?}",
                    s.id
                );
            }
        }
    }
}

// Measured on these six frames: the model shipped in the fourth session, recall 0.652 /
// 0.709, precision 0.558 / 0.551, median count error 0.31 / 0.24 (native / 0.5 m); the
// model shipped in the fifth (rendered vehicles), recall 0.627 / 0.689, precision 0.558 /
// 0.569, median count error 0.13 / 0.26; the sixth's (24,000 steps, sha a085a962...),
// recall 0.549 / 0.582, precision 0.779 / 0.802, median count error 0.23 / 0.30: fewer
// vehicles found, far fewer false ones (README, "Vehicle detector"). The recall bound was
// lowered from 0.62 to 0.52 for it, the precision bound raised from 0.52 to 0.72. The
// eighth session's (the same weights averaged over four mirror views, threshold 0.45,
// sha 11bcd6c8...): recall 0.701 / 0.709, precision 0.774 / 0.762, median count error
// 0.17 / 0.29; the recall bound is raised to 0.65. The tenth session's (really packed rows
// in training, threshold 0.475, sha 634ff1f3...): recall 0.676 / 0.656, precision 0.778 /
// 0.792, median count error 0.17 / 0.30; bounds unchanged. The thirteenth session's
// (48,000 training steps, threshold 0.45, sha 73aff55e...): recall 0.750 / 0.787,
// precision 0.779 / 0.777, median count error 0.18 / 0.13; the recall bound is raised to
// 0.72. The sixteenth session re-embedded its calibration (sha 351790e0...: same weights
// and threshold, so the same figures).
const RECALL_MIN: f64 = 0.72;
const PRECISION_MIN: f64 = 0.72;
const COUNT_ERROR_MEDIAN_MAX: f64 = 0.35;
