//! Tests of the evidence model: verdict rules, their explanations, coverage, redeployment,
//! and interval coverage on simulated counts.

use super::*;

fn site(id: &str, before: u32, after: u32) -> SiteInput {
    SiteInput {
        id: id.into(),
        weight: 1.0,
        lon_lat: (36.0, 48.0),
        before,
        after,
        before_on_date: before,
        observed_before: 1.0,
        observed_after: 1.0,
        observed_area_km2: 0.004,
        coregistration_unreliable: false,
        gsd_too_coarse: false,
        changed_fraction: 0.0,
        analysed: true,
    }
}

#[test]
fn imagery_too_coarse_is_inconclusive_and_unused() {
    let s = SiteInput {
        gsd_too_coarse: true,
        ..site("c", 0, 0)
    };
    let e = site_evidence(&s, &EvidenceParams::default());
    assert_eq!(e.verdict, Verdict::Inconclusive);
    assert!(!e.usable);
    assert!(e.explanation.contains("too coarse"), "{}", e.explanation);
}

#[test]
fn every_rule_explains_itself_with_the_thresholds_in_force() {
    let p = EvidenceParams {
        withdrawal_max_remaining: 0.2,
        no_change_low: 0.85,
        no_change_high: 1.15,
        no_change_min_low: 0.6,
        no_change_max_high: 1.8,
        ..EvidenceParams::default()
    };
    let iv = |low, high| Interval {
        estimate: (low + high) / 2.0,
        low,
        high,
    };
    let cases = [
        (
            iv(0.0, 0.15),
            Verdict::Withdrawal,
            "its upper bound 0.15 is at most 0.20",
        ),
        (
            iv(0.3, 0.7),
            Verdict::PartialWithdrawal,
            "upper bound 0.70 is below the no-change band 0.85-1.15",
        ),
        (
            iv(1.3, 2.5),
            Verdict::Buildup,
            "lower bound 1.30 is above the no-change band 0.85-1.15",
        ),
        // The demo's foxtrot: 0.80-1.25 is no change by the wide rule, not "reaches the band".
        (
            iv(0.8, 1.25),
            Verdict::NoChange,
            "reaches the no-change band 0.85-1.15 and lies within 0.60-1.80",
        ),
        (
            iv(0.3, 1.2),
            Verdict::Inconclusive,
            "cannot be called no change (its lower bound 0.30 is below 0.60",
        ),
        (
            iv(0.9, 3.0),
            Verdict::Inconclusive,
            "(its upper bound 3.00 is above 1.80;",
        ),
        (
            iv(0.1, 4.0),
            Verdict::Inconclusive,
            "below 0.60 and its upper bound 4.00 is above 1.80",
        ),
    ];
    for (r, want, words) in cases {
        let v = verdict_for(&r, &p);
        assert_eq!(v, want, "{r:?}");
        let s = rule_sentence(v, &r, &p);
        assert!(s.contains(words), "{r:?}: {s}");
    }
}

#[test]
fn verdict_table() {
    let p = EvidenceParams::default();
    let cases: Vec<(SiteInput, Verdict)> = vec![
        (site("w", 24, 1), Verdict::Withdrawal),
        (site("p", 20, 10), Verdict::PartialWithdrawal),
        (site("n", 16, 16), Verdict::NoChange),
        (site("b", 6, 18), Verdict::Buildup),
        (
            SiteInput {
                observed_after: 0.3,
                ..site("c", 24, 0)
            },
            Verdict::Inconclusive,
        ),
        (
            SiteInput {
                coregistration_unreliable: true,
                gsd_too_coarse: false,
                ..site("u", 24, 0)
            },
            Verdict::Inconclusive,
        ),
        (site("few", 1, 0), Verdict::Inconclusive),
    ];
    for (s, want) in cases {
        let e = site_evidence(&s, &p);
        assert_eq!(e.verdict, want, "{}: {}", s.id, e.explanation);
    }
    let re = site_evidence(
        &SiteInput {
            changed_fraction: 0.3,
            ..site("r", 16, 16)
        },
        &p,
    );
    assert!(re.explanation.contains("re-parked"), "{}", re.explanation);
}

#[test]
fn a_site_hidden_on_the_after_date_lowers_coverage() {
    let p = EvidenceParams::default();
    // 24 vehicles seen before at the clouded site, none comparable on both dates.
    let hidden = SiteInput {
        before: 0,
        after: 0,
        before_on_date: 24,
        observed_after: 0.0,
        ..site("hidden", 0, 0)
    };
    let (_, e) = evaluate(&[hidden, site("a", 16, 16), site("b", 20, 20)], &p);
    assert!((e.coverage - 36.0 / 60.0).abs() < 1e-9, "coverage {}", e.coverage);
    assert!(e.explanation.contains("60 %"), "{}", e.explanation);
}

#[test]
fn redeployment_is_paired_and_discounted() {
    let p = EvidenceParams::default();
    let mut far = site("far", 0, 20);
    far.lon_lat = (40.0, 48.0);
    let (_, e) = evaluate(&[site("a", 24, 2), site("b", 1, 22), far.clone()], &p);
    assert_eq!(e.verdict, Verdict::Redeployment, "{}", e.explanation);
    assert_eq!(e.redeployments.len(), 1);
    assert_eq!(
        (e.redeployments[0].from.as_str(), e.redeployments[0].to.as_str()),
        ("a", "b")
    );
    assert!(e.score < 0.2, "{}", e.explanation);
    // Alone, the same departure is a withdrawal with a high score.
    let (_, e) = evaluate(&[site("a", 24, 2)], &p);
    assert_eq!(e.verdict, Verdict::Withdrawal, "{}", e.explanation);
    assert!(e.score > 0.8);
    // Vehicles reappearing far away are no redeployment pair, but the force as a
    // whole did not shrink.
    let (_, e) = evaluate(&[site("a", 24, 2), far], &p);
    assert!(e.redeployments.is_empty());
    assert!(
        e.score < 0.2 && e.verdict != Verdict::Withdrawal,
        "{}",
        e.explanation
    );
}

#[test]
fn interval_coverage_on_simulated_counts() {
    // Simulate counts from the detector model and check that the 90 % interval of
    // the remaining fraction holds the truth in at least 88 % of trials.
    let p = EvidenceParams {
        samples: 1500,
        ..EvidenceParams::default()
    };
    let (recall, fp) = (p.detector.recall, p.detector.false_positives_per_km2);
    let area = 0.004;
    let mut rng = XorShift64Star::new(12345);
    let pois = |mu: f64, rng: &mut XorShift64Star| {
        let (l, mut k, mut prod) = ((-mu).exp(), 0u32, rng.next_f64());
        while prod > l {
            k += 1;
            prod *= rng.next_f64();
        }
        k
    };
    let (mut hit, trials) = (0, 300);
    for t in 0..trials {
        let tb = 10 + (t % 30) as u32;
        let ta = (tb as f64 * [0.0, 0.3, 0.6, 1.0, 1.3][t % 5]).round() as u32;
        let det = |n: u32, rng: &mut XorShift64Star| {
            (0..n).filter(|_| rng.next_f64() < recall).count() as u32 + pois(fp * area, rng)
        };
        let s = SiteInput {
            before: det(tb, &mut rng),
            after: det(ta, &mut rng),
            ..site(&format!("s{t}"), 0, 0)
        };
        let e = site_evidence(&s, &p);
        let truth = ta as f64 / tb as f64;
        if let Some(r) = e.remaining_fraction {
            if r.low <= truth + 1e-9 && truth <= r.high + 1e-9 {
                hit += 1;
            }
        }
    }
    let coverage = hit as f64 / trials as f64;
    eprintln!("90 % interval coverage over {trials} simulated sites: {coverage:.3}");
    assert!(coverage >= 0.88, "coverage {coverage}");
}
