//! Withdrawal evidence an analyst can defend, per site and for the watched force.
//!
//! **Per site.** From the before/after detection counts N_b, N_a, the area observed on
//! both dates and the detector's error model (recall, false positives per km2; documented
//! defaults, overridable), the posterior of each date's true number of vehicles is
//! computed ([`posterior::posterior`]; with a false-positive rate that varies between
//! scenes, a mixture over that rate shared by both dates, [`posterior::PairPosterior`])
//! and the remaining fraction r = T_a / T_b sampled from them (4000 seeded draws):
//! `remaining_fraction = {estimate (median), low (5 %), high (95 %)}`, a 90 % interval.
//! The verdict, checked in this order:
//! 1. `inconclusive` when the site is observed below `min_observed_fraction` on either
//!    date, its co-registration is unreliable, fewer than `min_before_vehicles` were
//!    there before (unless the site filled up: `buildup`);
//! 2. `withdrawal` when high <= `withdrawal_max_remaining` (0.25);
//! 3. `partial_withdrawal` when high < `no_change_low` (0.9);
//! 4. `buildup` when low > `no_change_high` (1.1);
//! 5. `no_change` when the estimate lies in `no_change_low`-`no_change_high` and the
//!    interval within `no_change_min_low`-`no_change_max_high` (0.5-2.0), noted as
//!    re-parked when the changed fraction exceeds `reparked_min_changed_fraction`
//!    although the count held;
//! 6. otherwise `inconclusive`: too wide to tell no change from a large decrease or
//!    increase.
//!
//! **Redeployment.** A site that lost vehicles (withdrawal or partial) and a site within
//! `redeployment_max_distance_m` that gained (buildup) are paired, nearest first; the
//! vehicles moved are min(loss, gain) of the estimates. They are listed and discounted.
//!
//! **Overall.** Only usable sites count (observed on both dates, reliable alignment).
//! `remaining_fraction` is the interval of sum(w T_a) / sum(w T_b) over them (weights
//! from the sites file). The **score** is 1 - its estimate, clamped to [0, 1]: the share
//! of the watched force's vehicles that are gone from every watched site, so vehicles
//! that left one site and reappeared at another (nearby or not) are discounted by
//! construction. `coverage` is the share of all before-date detections (each site's
//! count over everything the before date observed of it) that were on usable sites and
//! compared on both dates: a site hidden by cloud on the after date lowers it. Overall verdict: `inconclusive` without usable sites or with fewer than
//! `min_before_vehicles` before; `redeployment` when at least half of the vehicles that
//! left sites (D, summed estimates) reappeared at paired nearby sites (M); otherwise the
//! per-site rules applied to the overall interval.

mod config;
pub mod posterior;

pub use config::load_params_over;

use serde::{Deserialize, Serialize};

use crate::raster::crs::ground_distance_m as distance_m;
use posterior::{sample_quantile, seed_of, PairPosterior, Sampler, XorShift64Star};

/// A verdict, per site or overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Withdrawal,
    PartialWithdrawal,
    NoChange,
    Buildup,
    Redeployment,
    Inconclusive,
}

impl Verdict {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Withdrawal => "withdrawal",
            Verdict::PartialWithdrawal => "partial_withdrawal",
            Verdict::NoChange => "no_change",
            Verdict::Buildup => "buildup",
            Verdict::Redeployment => "redeployment",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The detector's measured error rates. Fields left out of a config keep their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorModel {
    /// Share of vehicles present that are detected.
    pub recall: f64,
    /// False detections per km2 of observed area (the mean over scenes).
    pub false_positives_per_km2: f64,
    /// Coefficient of variation of the false-positive rate between scenes (log-normal,
    /// shared by both dates of a site; [`posterior::PairPosterior`]). 0, the default
    /// and the value of configs and models from before it existed: the rate is exact.
    #[serde(default)]
    pub false_positive_rate_cv: f64,
}

impl Default for DetectorModel {
    fn default() -> Self {
        EvidenceParams::default().detector
    }
}

/// Tunables of the evidence (all documented in the module doc). Read from a JSON file
/// with `compare --evidence-config`; fields left out keep their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceParams {
    pub min_observed_fraction: f64,
    pub min_before_vehicles: f64,
    pub withdrawal_max_remaining: f64,
    pub no_change_low: f64,
    pub no_change_high: f64,
    pub no_change_min_low: f64,
    pub no_change_max_high: f64,
    pub reparked_min_changed_fraction: f64,
    pub redeployment_max_distance_m: f64,
    pub detector: DetectorModel,
    pub samples: usize,
}

const DEFAULT_DETECTOR: DetectorModel = DetectorModel {
    recall: 0.95,
    false_positives_per_km2: 20.0,
    false_positive_rate_cv: 0.0,
};

impl Default for EvidenceParams {
    fn default() -> Self {
        EvidenceParams {
            min_observed_fraction: 0.8,
            min_before_vehicles: 3.0,
            withdrawal_max_remaining: 0.25,
            no_change_low: 0.9,
            no_change_high: 1.1,
            no_change_min_low: 0.5,
            no_change_max_high: 2.0,
            reparked_min_changed_fraction: 0.05,
            redeployment_max_distance_m: 20_000.0,
            // The synthetic suite measures recall 1.0 and no false positives; real
            // imagery is worse, so the defaults are deliberately conservative.
            detector: DEFAULT_DETECTOR,
            samples: 4000,
        }
    }
}

/// An estimate with its 90 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// What the evidence needs of a site.
#[derive(Debug, Clone)]
pub struct SiteInput {
    pub id: String,
    pub weight: f64,
    /// (lon, lat) of the site, for distances between sites.
    pub lon_lat: (f64, f64),
    pub before: u32,
    pub after: u32,
    /// Before-date vehicles over all of the site the before date observed: what
    /// `coverage` is measured against (with `before` when larger, e.g. 0 in job files of
    /// older builds).
    pub before_on_date: u32,
    pub observed_before: f64,
    pub observed_after: f64,
    pub observed_area_km2: f64,
    pub coregistration_unreliable: bool,
    /// The imagery cannot resolve the vehicle class; nothing was counted.
    pub gsd_too_coarse: bool,
    pub changed_fraction: f64,
    /// False for sites in error or without coverage.
    pub analysed: bool,
}

/// The evidence of one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteEvidence {
    pub before_vehicles: Interval,
    pub after_vehicles: Interval,
    pub remaining_fraction: Option<Interval>,
    pub verdict: Verdict,
    pub explanation: String,
    pub usable: bool,
}

/// A pair of sites between which vehicles appear to have moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redeployment {
    pub from: String,
    pub to: String,
    pub vehicles: f64,
    pub distance_m: f64,
}

/// The overall evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub score: f64,
    pub verdict: Verdict,
    pub sites_used: usize,
    pub remaining_fraction: Option<Interval>,
    pub coverage: f64,
    pub before_vehicles: f64,
    pub after_vehicles: f64,
    pub redeployments: Vec<Redeployment>,
    pub explanation: String,
}

fn interval_of(s: &Sampler) -> Interval {
    Interval {
        estimate: s.quantile(0.5),
        low: s.quantile(0.05),
        high: s.quantile(0.95),
    }
}

/// Verdict for a remaining-fraction interval.
pub fn verdict_for(r: &Interval, p: &EvidenceParams) -> Verdict {
    if r.high <= p.withdrawal_max_remaining {
        Verdict::Withdrawal
    } else if r.high < p.no_change_low {
        Verdict::PartialWithdrawal
    } else if r.low > p.no_change_high {
        Verdict::Buildup
    } else if r.low >= p.no_change_min_low
        && r.high <= p.no_change_max_high
        && (p.no_change_low..=p.no_change_high).contains(&r.estimate)
    {
        // The count held: the estimate in the narrow band, the interval in the wide one.
        Verdict::NoChange
    } else {
        Verdict::Inconclusive
    }
}

/// Why [`verdict_for`] gave `verdict` for `r`: the rule that fired, with the thresholds
/// in force (so an explanation never contradicts the rule applied).
pub fn rule_sentence(verdict: Verdict, r: &Interval, p: &EvidenceParams) -> String {
    let band = format!("{:.2}-{:.2}", p.no_change_low, p.no_change_high);
    let wide = format!("{:.2}-{:.2}", p.no_change_min_low, p.no_change_max_high);
    match verdict {
        Verdict::Withdrawal => format!(
            "its upper bound {:.2} is at most {:.2}",
            r.high, p.withdrawal_max_remaining
        ),
        Verdict::PartialWithdrawal => format!(
            "its upper bound {:.2} is below the no-change band {band} (but above {:.2}, the \
             bound of a full withdrawal)",
            r.high, p.withdrawal_max_remaining
        ),
        Verdict::Buildup => format!("its lower bound {:.2} is above the no-change band {band}", r.low),
        Verdict::NoChange => format!("it reaches the no-change band {band} and lies within {wide}"),
        _ => {
            let mut beyond = Vec::new();
            if r.low < p.no_change_min_low {
                beyond.push(format!(
                    "its lower bound {:.2} is below {:.2}",
                    r.low, p.no_change_min_low
                ));
            }
            if r.high > p.no_change_max_high {
                beyond.push(format!(
                    "its upper bound {:.2} is above {:.2}",
                    r.high, p.no_change_max_high
                ));
            }
            format!(
                "it reaches the no-change band {band} but cannot be called no change ({}; no \
                 change needs the estimate in the band and the interval within {wide})",
                beyond.join(" and ")
            )
        }
    }
}

fn fmt_iv(i: &Interval) -> String {
    format!("{:.2} (90 % interval {:.2}-{:.2})", i.estimate, i.low, i.high)
}

/// The joint posterior of a site's before and after numbers.
fn pair_posterior(s: &SiteInput, p: &EvidenceParams) -> PairPosterior {
    let d = &p.detector;
    let mu = d.false_positives_per_km2 * s.observed_area_km2;
    PairPosterior::new(s.before, s.after, d.recall, mu, d.false_positive_rate_cv)
}

/// The 90 % interval of after / before from joint draws.
fn ratio_interval(pair: &PairPosterior, seed: u64, n: usize) -> Option<Interval> {
    let mut rng = XorShift64Star::new(seed);
    let r: Vec<f64> = (0..n)
        .filter_map(|_| {
            let (tb, ta) = pair.draw(&mut rng);
            (tb > 0.0).then(|| ta / tb)
        })
        .collect();
    (r.len() * 2 >= n).then(|| Interval {
        estimate: sample_quantile(&r, 0.5),
        low: sample_quantile(&r, 0.05),
        high: sample_quantile(&r, 0.95),
    })
}

/// The evidence of one site.
pub fn site_evidence(s: &SiteInput, p: &EvidenceParams) -> SiteEvidence {
    let pair = pair_posterior(s, p);
    let (before_vehicles, after_vehicles) = (
        interval_of(&pair.before_marginal),
        interval_of(&pair.after_marginal),
    );
    let r = ratio_interval(&pair, seed_of(&s.id, 1), p.samples);
    let counts = format!(
        "counted {} before and {} after; true numbers estimated {:.0} ({:.0}-{:.0}) and {:.0} ({:.0}-{:.0})",
        s.before,
        s.after,
        before_vehicles.estimate,
        before_vehicles.low,
        before_vehicles.high,
        after_vehicles.estimate,
        after_vehicles.low,
        after_vehicles.high
    );
    let inconclusive = |why: String| SiteEvidence {
        before_vehicles,
        after_vehicles,
        remaining_fraction: r,
        verdict: Verdict::Inconclusive,
        explanation: format!("inconclusive: {why}; {counts}"),
        usable: false,
    };
    if !s.analysed {
        return inconclusive("the site was not analysed (error or no coverage)".into());
    }
    let min_obs = s.observed_before.min(s.observed_after);
    if min_obs < p.min_observed_fraction {
        return inconclusive(format!(
            "only {:.0} % of the site was observed before and {:.0} % after (at least {:.0} % needed on both)",
            100.0 * s.observed_before,
            100.0 * s.observed_after,
            100.0 * p.min_observed_fraction
        ));
    }
    if s.gsd_too_coarse {
        return inconclusive(
            "the imagery is too coarse to resolve vehicles of this class, so none were counted".into(),
        );
    }
    if s.coregistration_unreliable {
        return inconclusive("the dates could not be aligned reliably".into());
    }
    let Some(ri) = r.filter(|_| before_vehicles.estimate >= p.min_before_vehicles) else {
        // An (almost) empty site that filled up is a buildup even without a ratio.
        if after_vehicles.estimate >= p.min_before_vehicles && after_vehicles.low > before_vehicles.high {
            return SiteEvidence {
                before_vehicles,
                after_vehicles,
                remaining_fraction: r,
                verdict: Verdict::Buildup,
                explanation: format!("buildup: a site with few vehicles before filled up; {counts}"),
                usable: true,
            };
        }
        return SiteEvidence {
            usable: true,
            ..inconclusive(format!(
                "fewer than {} vehicles were there before, so no fraction can be judged",
                p.min_before_vehicles
            ))
        };
    };
    let verdict = verdict_for(&ri, p);
    let rule = rule_sentence(verdict, &ri, p);
    let mut explanation = format!(
        "{}: remaining fraction {}, and {rule}; {counts}",
        verdict.as_str(),
        fmt_iv(&ri)
    );
    if verdict == Verdict::NoChange && s.changed_fraction >= p.reparked_min_changed_fraction {
        explanation.push_str(&format!(
            "; re-parked: the count held but {:.0} % of the site changed",
            100.0 * s.changed_fraction
        ));
    }
    SiteEvidence {
        before_vehicles,
        after_vehicles,
        remaining_fraction: Some(ri),
        verdict,
        explanation,
        usable: true,
    }
}

/// Pairs losing and gaining sites within reach, nearest first.
fn redeployments(sites: &[SiteInput], ev: &[SiteEvidence], p: &EvidenceParams) -> Vec<Redeployment> {
    let delta = |i: usize| ev[i].after_vehicles.estimate - ev[i].before_vehicles.estimate;
    let mut loss: Vec<f64> = (0..sites.len())
        .map(|i| {
            let lost = matches!(ev[i].verdict, Verdict::Withdrawal | Verdict::PartialWithdrawal);
            if lost {
                (-delta(i)).max(0.0) * sites[i].weight
            } else {
                0.0
            }
        })
        .collect();
    let mut gain: Vec<f64> = (0..sites.len())
        .map(|i| {
            if ev[i].verdict == Verdict::Buildup {
                delta(i).max(0.0) * sites[i].weight
            } else {
                0.0
            }
        })
        .collect();
    let mut pairs = Vec::new();
    for i in 0..sites.len() {
        for j in 0..sites.len() {
            if loss[i] > 0.0 && gain[j] > 0.0 {
                let d = distance_m(sites[i].lon_lat, sites[j].lon_lat);
                if d <= p.redeployment_max_distance_m {
                    pairs.push((d, i, j));
                }
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out = Vec::new();
    for (d, i, j) in pairs {
        let moved = loss[i].min(gain[j]);
        if moved > 0.0 {
            loss[i] -= moved;
            gain[j] -= moved;
            out.push(Redeployment {
                from: sites[i].id.clone(),
                to: sites[j].id.clone(),
                vehicles: moved,
                distance_m: d,
            });
        }
    }
    out
}

/// Per-site evidence and the overall evidence.
pub fn evaluate(sites: &[SiteInput], p: &EvidenceParams) -> (Vec<SiteEvidence>, Evidence) {
    let ev: Vec<SiteEvidence> = sites.iter().map(|s| site_evidence(s, p)).collect();
    let used: Vec<usize> = (0..sites.len()).filter(|&i| ev[i].usable).collect();
    let all_before: f64 = sites
        .iter()
        .map(|s| s.weight * s.before_on_date.max(s.before) as f64)
        .sum();
    let used_before_counts: f64 = used
        .iter()
        .map(|&i| sites[i].weight * sites[i].before as f64)
        .sum();
    let coverage = if all_before > 0.0 {
        used_before_counts / all_before
    } else {
        0.0
    };
    let b: f64 = used
        .iter()
        .map(|&i| sites[i].weight * ev[i].before_vehicles.estimate)
        .sum();
    let a: f64 = used
        .iter()
        .map(|&i| sites[i].weight * ev[i].after_vehicles.estimate)
        .sum();
    // Interval of the weighted total ratio.
    let samp: Vec<(PairPosterior, f64)> = used
        .iter()
        .map(|&i| (pair_posterior(&sites[i], p), sites[i].weight))
        .collect();
    let mut rng = XorShift64Star::new(seed_of("overall", 7));
    let ratios: Vec<f64> = (0..p.samples)
        .filter_map(|_| {
            let (mut tb, mut ta) = (0.0, 0.0);
            for (pair, w) in &samp {
                let (b, a) = pair.draw(&mut rng);
                tb += w * b;
                ta += w * a;
            }
            (tb > 0.0).then(|| ta / tb)
        })
        .collect();
    let remaining = (!ratios.is_empty() && ratios.len() * 2 >= p.samples).then(|| Interval {
        estimate: sample_quantile(&ratios, 0.5),
        low: sample_quantile(&ratios, 0.05),
        high: sample_quantile(&ratios, 0.95),
    });
    let moves = redeployments(sites, &ev, p);
    let moved: f64 = moves.iter().map(|m| m.vehicles).sum::<f64>() + 0.0;
    let departed: f64 = used
        .iter()
        .filter(|&&i| matches!(ev[i].verdict, Verdict::Withdrawal | Verdict::PartialWithdrawal))
        .map(|&i| sites[i].weight * (ev[i].before_vehicles.estimate - ev[i].after_vehicles.estimate).max(0.0))
        .sum::<f64>()
        + 0.0;
    let score = remaining
        .map(|r| (1.0 - r.estimate).clamp(0.0, 1.0))
        .unwrap_or(0.0);
    let (verdict, why) = match remaining {
        _ if used.is_empty() => (
            Verdict::Inconclusive,
            "no site was observed well enough on both dates".to_string(),
        ),
        _ if b < p.min_before_vehicles => (
            Verdict::Inconclusive,
            format!("only {b:.0} vehicles were on usable sites before"),
        ),
        None => (
            Verdict::Inconclusive,
            "no remaining fraction can be computed".to_string(),
        ),
        Some(_) if departed >= 3.0 && moved >= 0.5 * departed => (
            Verdict::Redeployment,
            format!("{moved:.0} of the {departed:.0} vehicles that left reappeared at nearby watched sites"),
        ),
        Some(r) => (verdict_for(&r, p), format!("remaining fraction {}", fmt_iv(&r))),
    };
    let explanation = format!(
        "{}: {why}; {} sites used covering {:.0} % of the before-date detections; {:.0} vehicles before and {:.0} after on them; \
         score = 1 - remaining fraction = {score:.2}",
        verdict.as_str(),
        used.len(),
        100.0 * coverage,
        b,
        a
    );
    let overall = Evidence {
        score,
        verdict,
        sites_used: used.len(),
        remaining_fraction: remaining,
        coverage,
        before_vehicles: b,
        after_vehicles: a,
        redeployments: moves,
        explanation,
    };
    (ev, overall)
}

#[cfg(test)]
mod tests;
