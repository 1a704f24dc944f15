//! A first withdrawal-evidence score over sites.
//!
//! Only sites observed well enough count: status `ok`, or `partial_coverage` with an
//! observed fraction of at least `min_observed_fraction` on both dates. Over those sites,
//! with B and A the before/after vehicle totals (each site weighted by its `weight`), the
//! remaining fraction is r = (A + 0.5) / (B + 0.5) (the 0.5 keeps r defined and pulls tiny
//! counts toward "no information"), and the score is 1 - r clamped to [0, 1]. Verdict:
//! `inconclusive` when no site is usable or B < `min_before_vehicles`; otherwise
//! `withdrawal` when r <= 0.25, `partial_withdrawal` when r <= 0.75, `no_change` when
//! r <= 1.25, else `buildup`. A later stage replaces this with intervals from the
//! detector's measured error rates; these thresholds are documented defaults.

use serde::{Deserialize, Serialize};

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Withdrawal,
    PartialWithdrawal,
    NoChange,
    Buildup,
    Inconclusive,
}

/// Tunables of the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceParams {
    pub min_observed_fraction: f64,
    pub min_before_vehicles: f64,
    pub withdrawal_max_remaining: f64,
    pub partial_max_remaining: f64,
    pub no_change_max_remaining: f64,
}

impl Default for EvidenceParams {
    fn default() -> Self {
        EvidenceParams {
            min_observed_fraction: 0.8,
            min_before_vehicles: 3.0,
            withdrawal_max_remaining: 0.25,
            partial_max_remaining: 0.75,
            no_change_max_remaining: 1.25,
        }
    }
}

/// What the score needs of a site.
#[derive(Debug, Clone, Copy)]
pub struct SiteCounts {
    pub usable: bool,
    pub weight: f64,
    pub before: u32,
    pub after: u32,
}

/// The overall score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub score: f64,
    pub verdict: Verdict,
    pub sites_used: usize,
    /// r = (A + 0.5) / (B + 0.5) over used sites, null when none.
    pub remaining_fraction: Option<f64>,
    pub before_vehicles: f64,
    pub after_vehicles: f64,
}

/// Verdict for a remaining fraction r.
pub fn verdict_for(r: f64, p: &EvidenceParams) -> Verdict {
    if r <= p.withdrawal_max_remaining {
        Verdict::Withdrawal
    } else if r <= p.partial_max_remaining {
        Verdict::PartialWithdrawal
    } else if r <= p.no_change_max_remaining {
        Verdict::NoChange
    } else {
        Verdict::Buildup
    }
}

/// Scores the watched force as a whole.
pub fn score(sites: &[SiteCounts], p: &EvidenceParams) -> Evidence {
    let used: Vec<&SiteCounts> = sites.iter().filter(|s| s.usable).collect();
    let b: f64 = used.iter().map(|s| s.weight * s.before as f64).sum();
    let a: f64 = used.iter().map(|s| s.weight * s.after as f64).sum();
    if used.is_empty() || b < p.min_before_vehicles {
        return Evidence {
            score: 0.0,
            verdict: Verdict::Inconclusive,
            sites_used: used.len(),
            remaining_fraction: None,
            before_vehicles: b,
            after_vehicles: a,
        };
    }
    let r = (a + 0.5) / (b + 0.5);
    Evidence {
        score: (1.0 - r).clamp(0.0, 1.0),
        verdict: verdict_for(r, p),
        sites_used: used.len(),
        remaining_fraction: Some(r),
        before_vehicles: b,
        after_vehicles: a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(usable: bool, before: u32, after: u32) -> SiteCounts {
        SiteCounts {
            usable,
            weight: 1.0,
            before,
            after,
        }
    }

    #[test]
    fn verdict_table() {
        let p = EvidenceParams::default();
        let cases = [
            (vec![s(true, 20, 0)], Verdict::Withdrawal),
            (vec![s(true, 20, 10)], Verdict::PartialWithdrawal),
            (vec![s(true, 20, 19)], Verdict::NoChange),
            (vec![s(true, 10, 30)], Verdict::Buildup),
            (vec![s(false, 20, 0)], Verdict::Inconclusive),
            (vec![s(true, 1, 0)], Verdict::Inconclusive),
        ];
        for (sites, want) in cases {
            assert_eq!(score(&sites, &p).verdict, want, "{sites:?}");
        }
    }

    #[test]
    fn unusable_sites_do_not_count() {
        let e = score(&[s(true, 10, 0), s(false, 50, 50)], &EvidenceParams::default());
        assert_eq!(e.sites_used, 1);
        assert!(e.score > 0.9);
    }
}
