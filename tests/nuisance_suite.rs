//! The scenario suite: counts and verdicts hold up under misregistration, radiometry,
//! blur and noise, GSD, band count, sample type, UTM zone, snow, tight rows, cloud and
//! re-parking. Thresholds are the targets of the suite: per-site count error at most
//! 12 % (worst case), and on nuisance-only pairs |ratio - 1| <= 0.05 and never a
//! withdrawal verdict.

mod common;

use std::fs;

use stagewatch::evidence::Verdict;
use stagewatch::report::{Report, SiteStatus};
use stagewatch::synth::SCENARIOS;

fn run(name: &str) -> (Report, stagewatch::synth::Rendered, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth(name, &dir.path().join("scene"));
    let out = dir.path().join("out");
    let o = common::compare(&r, &out, &[]);
    assert!(
        o.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rep: Report = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    (rep, r, dir)
}

#[test]
fn every_scenario_meets_the_count_and_verdict_targets() {
    let mut worst: f64 = 0.0;
    for name in SCENARIOS {
        let (rep, r, _dir) = run(name);
        let steady = r
            .truth_data
            .sites
            .iter()
            .all(|t| t.before_vehicles == t.after_vehicles);
        for (s, t) in rep.sites.iter().zip(&r.truth_data.sites) {
            if s.status != SiteStatus::Ok {
                continue;
            }
            for (got, want) in [
                (s.before.vehicles, t.before_vehicles),
                (s.after.vehicles, t.after_vehicles),
            ] {
                if want > 0 {
                    let e = (got as f64 - want as f64).abs() / want as f64;
                    worst = worst.max(e);
                    assert!(e <= 0.12, "{name}/{}: counted {got}, truth {want}", s.id);
                }
            }
            if steady {
                if let Some(ratio) = s.delta.ratio {
                    assert!((ratio - 1.0).abs() <= 0.05, "{name}/{}: ratio {ratio}", s.id);
                }
            }
        }
        let v = rep.withdrawal_evidence.verdict;
        if steady {
            assert!(
                !matches!(v, Verdict::Withdrawal | Verdict::PartialWithdrawal),
                "{name}: {v:?}"
            );
        }
    }
    eprintln!(
        "worst per-site count error over the suite: {:.1} %",
        100.0 * worst
    );
}

#[test]
fn misregistration_is_measured_and_removed() {
    let (rep, _, _dir) = run("nuisance-shift");
    for s in rep.sites.iter().filter(|s| s.status == SiteStatus::Ok) {
        let c = s.coregistration.as_ref().expect("coregistration reported");
        // The after image was displaced 1.3 m east and 0.7 m south at 0.5 m pixels.
        assert!(
            (c.dx_px - 2.6).abs() < 0.2 && (c.dy_px - 1.4).abs() < 0.2,
            "{}: {c:?}",
            s.id
        );
        assert!(c.reliable && c.applied);
        assert!(s.changed_fraction < 0.01, "{}: {}", s.id, s.changed_fraction);
    }
}

#[test]
fn radiometric_gain_is_recovered() {
    let (rep, _, _dir) = run("nuisance-radiometry");
    let s = &rep.sites[1];
    assert_eq!(s.radiometry.len(), 3);
    for f in &s.radiometry {
        // after = 1.2 before + 0.03 * 255, so before = after / 1.2 - 6.4.
        assert!((f.gain - 1.0 / 1.2).abs() < 0.02, "{f:?}");
        assert!((f.offset + 6.4).abs() < 1.5, "{f:?}");
    }
}

#[test]
fn a_clouded_site_is_partial_and_left_out_of_the_score() {
    let (rep, _, _dir) = run("cloud");
    let alpha = &rep.sites[0];
    assert_eq!(alpha.status, SiteStatus::PartialCoverage);
    assert!(
        alpha.after.cloud_fraction > 0.5 && alpha.after.observed_fraction < 0.5,
        "{alpha:?}"
    );
    assert_eq!(alpha.before.cloud_fraction, 0.0);
    // Four sites remain usable (foxtrot, bravo, charlie, delta); the hidden one never
    // turns into a withdrawal.
    assert_eq!(rep.withdrawal_evidence.sites_used, 4);
    assert_eq!(rep.withdrawal_evidence.verdict, Verdict::NoChange);
    // Its 24 vehicles were seen on the before date: coverage says a third is unknown
    // (50 of 74 before-date vehicles were compared: 16 + 6 + 20 + 8 of 24 + those).
    assert_eq!(alpha.before.vehicles_on_date, 24);
    let cov = rep.withdrawal_evidence.coverage;
    assert!((cov - 50.0 / 74.0).abs() < 1e-9, "coverage {cov}");
}

#[test]
fn re_parked_vehicles_change_pixels_not_counts() {
    let (rep, _, _dir) = run("reparked");
    for s in rep.sites.iter().filter(|s| s.status == SiteStatus::Ok) {
        assert_eq!(s.before.vehicles, s.after.vehicles, "{}", s.id);
        assert!(s.changed_fraction > 0.05, "{}: {}", s.id, s.changed_fraction);
        // The moved vehicles must not drag the alignment along with them.
        let c = s.coregistration.as_ref().unwrap();
        assert!(c.dx_px.hypot(c.dy_px) < 0.3, "{}: {c:?}", s.id);
    }
}

#[test]
fn per_site_verdicts_on_the_end_to_end_scenarios() {
    use Verdict::*;
    /// Scenario, expected per-site verdicts, expected overall verdict.
    type Case<'a> = (&'a str, &'a [(&'a str, Verdict)], Verdict);
    let table: &[Case] = &[
        (
            "clear",
            &[
                ("alpha", Withdrawal),
                ("bravo", NoChange),
                ("charlie", Buildup),
                ("delta", PartialWithdrawal),
            ],
            PartialWithdrawal,
        ),
        (
            "nuisance-all",
            &[("alpha", NoChange), ("bravo", NoChange), ("delta", NoChange)],
            NoChange,
        ),
        ("reparked", &[("alpha", NoChange), ("delta", NoChange)], NoChange),
        ("cloud", &[("alpha", Inconclusive), ("bravo", NoChange)], NoChange),
        (
            "redeployment",
            &[("alpha", Withdrawal), ("golf", Buildup), ("bravo", NoChange)],
            Redeployment,
        ),
    ];
    for (name, sites, overall) in table {
        let (rep, _, _dir) = run(name);
        for (id, want) in sites.iter() {
            let s = rep.sites.iter().find(|s| s.id == *id).unwrap();
            let e = s.evidence.as_ref().unwrap();
            assert_eq!(e.verdict, *want, "{name}/{id}: {}", e.explanation);
            assert!(!e.explanation.is_empty());
            if *name == "reparked" {
                assert!(e.explanation.contains("re-parked"), "{}", e.explanation);
            }
        }
        let w = &rep.withdrawal_evidence;
        assert_eq!(w.verdict, *overall, "{name}: {}", w.explanation);
        assert!((0.0..=1.0).contains(&w.score));
        if *name == "redeployment" {
            assert_eq!(w.redeployments.len(), 1);
            assert_eq!(
                (w.redeployments[0].from.as_str(), w.redeployments[0].to.as_str()),
                ("alpha", "golf")
            );
            assert!(w.score < 0.1, "{}", w.explanation);
        }
        if *name == "clear" {
            let r = w.remaining_fraction.unwrap();
            assert!(r.low < 0.73 && 0.73 < r.high, "{r:?}");
        }
    }
}
