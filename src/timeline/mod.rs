//! Withdrawal evidence over time (`stagewatch timeline`): a series of dates compared with
//! the first (the baseline), and a withdrawal counted as confirmed only when it lasts.
//!
//! Each later date d is compared with the baseline exactly as `compare` compares two
//! dates (same alignment, detection and evidence model, see [`crate::evidence`]), giving
//! per site and overall a vehicle-count interval, the remaining fraction r(d) with its
//! 90 % interval, and a verdict. **Confirmation** ([`confirm`]): a decrease seen on date
//! d (`withdrawal`, or `partial_withdrawal`) is
//! - `confirmed` when the next two conclusive dates after d (verdict not `inconclusive`:
//!   a cloud over a site neither confirms nor breaks a withdrawal) show it too (a
//!   withdrawal needs `withdrawal` again; a partial one `withdrawal` or
//!   `partial_withdrawal`);
//! - `not_sustained` (reversed) when either of those dates does not;
//! - `pending` while fewer than two conclusive dates follow.
//!
//! This module is the pure part: it takes the per-date reports and returns the series;
//! `pipeline::timeline` runs the comparisons and [`chart`] draws the PNG charts.

pub mod chart;
mod font;

use serde::{Deserialize, Serialize};

use crate::evidence::{Evidence, Interval, Verdict};
use crate::report::csv::{guard, iv_cols, to_csv};
use crate::report::{FileInput, ImageInput, Parameters, Report, SiteStatus, Tool};

/// Schema version of `timeline.json`.
///
/// Version 2: a site not observed on a date has `vehicles` and `vehicles_estimate` null
/// (version 1 wrote 0). Version 3: `parameters.vehicle_class` is gone (it was written
/// twice; it is `parameters.detect.vehicle_class`).
pub const TIMELINE_SCHEMA_VERSION: u32 = 3;

/// Whether a decrease lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Fewer than two conclusive dates follow.
    Pending,
    /// The next two conclusive dates show it too.
    Confirmed,
    /// A following conclusive date does not show it (reversed).
    NotSustained,
}

impl Confirmation {
    /// The name used in the outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Confirmation::Pending => "pending",
            Confirmation::Confirmed => "confirmed",
            Confirmation::NotSustained => "not_sustained",
        }
    }
}

/// Number of later conclusive dates a decrease must last for.
pub const CONFIRM_DATES: usize = 2;

fn sustains(first: Verdict, later: Verdict) -> bool {
    match first {
        Verdict::Withdrawal => later == Verdict::Withdrawal,
        Verdict::PartialWithdrawal => matches!(later, Verdict::Withdrawal | Verdict::PartialWithdrawal),
        _ => false,
    }
}

/// Confirmation of each date's verdict (None where the verdict is not a decrease).
pub fn confirm(verdicts: &[Verdict]) -> Vec<Option<Confirmation>> {
    (0..verdicts.len())
        .map(|i| {
            let v = verdicts[i];
            if !matches!(v, Verdict::Withdrawal | Verdict::PartialWithdrawal) {
                return None;
            }
            let later: Vec<Verdict> = verdicts[i + 1..]
                .iter()
                .copied()
                .filter(|&x| x != Verdict::Inconclusive)
                .take(CONFIRM_DATES)
                .collect();
            Some(if later.iter().any(|&x| !sustains(v, x)) {
                Confirmation::NotSustained
            } else if later.len() < CONFIRM_DATES {
                Confirmation::Pending
            } else {
                Confirmation::Confirmed
            })
        })
        .collect()
}

/// One site on one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SitePoint {
    pub date: String,
    pub status: SiteStatus,
    pub error: Option<String>,
    /// Share of the site observed on both this date and the baseline.
    pub observed_fraction: f64,
    /// Vehicles counted on this date (on the area observed on both dates); null when the
    /// site was not observed (off the imagery, clouded over, failed): a gap, never 0.
    pub vehicles: Option<u32>,
    /// True number of vehicles, 90 % interval (null when not observed).
    pub vehicles_estimate: Option<Interval>,
    /// This date over the baseline; null on the baseline itself.
    pub remaining_fraction: Option<Interval>,
    /// Verdict against the baseline; null on the baseline itself.
    pub verdict: Option<Verdict>,
    /// For decreases: whether they lasted.
    pub withdrawal: Option<Confirmation>,
    pub explanation: String,
}

/// The series of one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSeries {
    pub id: String,
    pub name: Option<String>,
    pub points: Vec<SitePoint>,
    /// The state at the end of the series, in words.
    pub summary: String,
}

/// The watched force on one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallPoint {
    pub date: String,
    /// Withdrawal-evidence score against the baseline (0 on the baseline).
    pub score: f64,
    pub verdict: Option<Verdict>,
    pub remaining_fraction: Option<Interval>,
    pub coverage: f64,
    pub withdrawal: Option<Confirmation>,
    /// The full evidence of this date's comparison (null on the baseline).
    pub evidence: Option<Evidence>,
}

/// `timeline.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub schema_version: u32,
    pub tool: Tool,
    pub catalog: FileInput,
    pub sites_file: FileInput,
    /// Every image, in date order; the first is the baseline.
    pub images: Vec<ImageInput>,
    pub parameters: Parameters,
    pub baseline_date: String,
    pub dates: Vec<String>,
    pub sites: Vec<SiteSeries>,
    pub overall: Vec<OverallPoint>,
    pub summary: String,
}

/// What the series is built from: the baseline and one report per later date.
pub struct SeriesInput<'a> {
    pub baseline_date: &'a str,
    /// Reports of (baseline, date) comparisons, in date order, each with its date.
    pub reports: &'a [(String, Report)],
}

fn summarise(dates: &[String], verdicts: &[Option<Verdict>], conf: &[Option<Confirmation>]) -> String {
    let mut reversed = Vec::new();
    let mut confirmed_since: Option<&str> = None;
    for i in 0..dates.len() {
        match conf[i] {
            Some(Confirmation::Confirmed) if confirmed_since.is_none() => confirmed_since = Some(&dates[i]),
            Some(Confirmation::NotSustained) => {
                confirmed_since = None;
                reversed.push(dates[i].as_str());
            }
            _ => {}
        }
    }
    let last = (0..dates.len())
        .rev()
        .find(|&i| matches!(verdicts[i], Some(v) if v != Verdict::Inconclusive));
    let mut s = match last {
        None => "no conclusive date after the baseline".to_string(),
        Some(i) => {
            let v = verdicts[i].expect("conclusive");
            let mut s = format!("last conclusive date {}: {}", dates[i], v.as_str());
            match (v, confirmed_since) {
                (Verdict::Withdrawal | Verdict::PartialWithdrawal, Some(d)) => {
                    s += &format!("; decrease confirmed since {d}")
                }
                (Verdict::Withdrawal | Verdict::PartialWithdrawal, None) => {
                    s += "; not yet confirmed (needs two later conclusive dates)"
                }
                _ => {}
            }
            s
        }
    };
    if !reversed.is_empty() {
        s += &format!("; decrease seen on {} did not last", reversed.join(", "));
    }
    s
}

/// Whether a site was seen on a date: analysed, with some of it observed.
fn observed(status: SiteStatus, observed_fraction: f64) -> bool {
    matches!(status, SiteStatus::Ok | SiteStatus::PartialCoverage) && observed_fraction > 0.0
}

/// Builds the per-site and overall series.
pub fn build(input: &SeriesInput) -> (Vec<SiteSeries>, Vec<OverallPoint>, String) {
    let first = input.reports.first().map(|(_, r)| r);
    let nsites = first.map(|r| r.sites.len()).unwrap_or(0);
    let mut dates = vec![input.baseline_date.to_string()];
    dates.extend(input.reports.iter().map(|(d, _)| d.clone()));
    let mut series = Vec::with_capacity(nsites);
    for k in 0..nsites {
        let s0 = &first.expect("reports").sites[k];
        // The baseline's count: from the first comparison in which the site was analysed.
        let base = input
            .reports
            .iter()
            .map(|(_, r)| &r.sites[k])
            .find(|s| matches!(s.status, SiteStatus::Ok | SiteStatus::PartialCoverage))
            .unwrap_or(s0);
        let base_seen = observed(base.status, base.before.observed_fraction);
        let mut points = vec![SitePoint {
            date: input.baseline_date.to_string(),
            status: base.status,
            error: base.error.clone(),
            observed_fraction: base.before.observed_fraction,
            vehicles: Some(base.before.vehicles).filter(|_| base_seen),
            vehicles_estimate: base
                .evidence
                .as_ref()
                .map(|e| e.before_vehicles)
                .filter(|_| base_seen),
            remaining_fraction: None,
            verdict: None,
            withdrawal: None,
            explanation: "baseline".into(),
        }];
        for (d, r) in input.reports {
            let s = &r.sites[k];
            let ev = s.evidence.as_ref();
            let seen = observed(s.status, s.observed_fraction);
            points.push(SitePoint {
                date: d.clone(),
                status: s.status,
                error: s.error.clone(),
                observed_fraction: s.observed_fraction,
                vehicles: Some(s.after.vehicles).filter(|_| seen),
                vehicles_estimate: ev.filter(|_| seen).map(|e| e.after_vehicles),
                remaining_fraction: ev.and_then(|e| e.remaining_fraction),
                verdict: Some(ev.map(|e| e.verdict).unwrap_or(Verdict::Inconclusive)),
                withdrawal: None,
                explanation: ev
                    .map(|e| e.explanation.clone())
                    .or_else(|| s.error.clone())
                    .unwrap_or_default(),
            });
        }
        let verdicts: Vec<Option<Verdict>> = points.iter().map(|p| p.verdict).collect();
        let conf = confirm(
            &verdicts
                .iter()
                .map(|v| v.unwrap_or(Verdict::Inconclusive))
                .collect::<Vec<_>>(),
        );
        for (p, c) in points.iter_mut().zip(&conf) {
            p.withdrawal = *c;
        }
        series.push(SiteSeries {
            id: s0.id.clone(),
            name: s0.name.clone(),
            summary: summarise(&dates, &verdicts, &conf),
            points,
        });
    }
    let mut overall = vec![OverallPoint {
        date: input.baseline_date.to_string(),
        score: 0.0,
        verdict: None,
        remaining_fraction: None,
        coverage: first.map(|r| r.withdrawal_evidence.coverage).unwrap_or(0.0),
        withdrawal: None,
        evidence: None,
    }];
    for (d, r) in input.reports {
        let e = &r.withdrawal_evidence;
        overall.push(OverallPoint {
            date: d.clone(),
            score: e.score,
            verdict: Some(e.verdict),
            remaining_fraction: e.remaining_fraction,
            coverage: e.coverage,
            withdrawal: None,
            evidence: Some(e.clone()),
        });
    }
    let verdicts: Vec<Option<Verdict>> = overall.iter().map(|p| p.verdict).collect();
    let conf = confirm(
        &verdicts
            .iter()
            .map(|v| v.unwrap_or(Verdict::Inconclusive))
            .collect::<Vec<_>>(),
    );
    for (p, c) in overall.iter_mut().zip(&conf) {
        p.withdrawal = *c;
    }
    let summary = format!("overall: {}", summarise(&dates, &verdicts, &conf));
    (series, overall, summary)
}

/// `timeline.csv`: one row per site and date, then one `overall` row per date.
pub fn timeline_csv(t: &Timeline) -> String {
    let header = [
        "scope",
        "site_id",
        "date",
        "status",
        "observed_fraction",
        "vehicles",
        "vehicles_estimate",
        "vehicles_low",
        "vehicles_high",
        "remaining_estimate",
        "remaining_low",
        "remaining_high",
        "score",
        "verdict",
        "withdrawal",
    ];
    let opt = |v: Option<&str>| v.unwrap_or("").to_string();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in &t.sites {
        for p in &s.points {
            let mut r = vec![
                "site".into(),
                guard(&s.id),
                p.date.clone(),
                p.status.as_str().into(),
                format!("{:.6}", p.observed_fraction),
                p.vehicles.map_or(String::new(), |v| v.to_string()),
            ];
            r.extend(iv_cols(&p.vehicles_estimate, 1));
            r.extend(iv_cols(&p.remaining_fraction, 4));
            r.extend([
                String::new(),
                opt(p.verdict.map(Verdict::as_str)),
                opt(p.withdrawal.map(Confirmation::as_str)),
            ]);
            rows.push(r);
        }
    }
    for p in &t.overall {
        let mut r = vec![
            "overall".into(),
            String::new(),
            p.date.clone(),
            String::new(),
            format!("{:.6}", p.coverage),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        r.extend(iv_cols(&p.remaining_fraction, 4));
        r.extend([
            format!("{:.4}", p.score),
            opt(p.verdict.map(Verdict::as_str)),
            opt(p.withdrawal.map(Confirmation::as_str)),
        ]);
        rows.push(r);
    }
    to_csv(&header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Confirmation::*;
    use Verdict::*;

    #[test]
    fn confirmation_table() {
        // (verdicts, expected confirmation per date)
        let cases: Vec<(Vec<Verdict>, Vec<Option<Confirmation>>)> = vec![
            (
                vec![Withdrawal, Withdrawal, Withdrawal],
                vec![Some(Confirmed), Some(Pending), Some(Pending)],
            ),
            (
                vec![Withdrawal, NoChange, NoChange],
                vec![Some(NotSustained), None, None],
            ),
            (
                vec![Withdrawal, Inconclusive, Withdrawal, Withdrawal],
                vec![Some(Confirmed), None, Some(Pending), Some(Pending)],
            ),
            (
                vec![PartialWithdrawal, Withdrawal, PartialWithdrawal],
                vec![Some(Confirmed), Some(NotSustained), Some(Pending)],
            ),
            (vec![Withdrawal, Buildup], vec![Some(NotSustained), None]),
            (vec![Withdrawal, Withdrawal], vec![Some(Pending), Some(Pending)]),
            (vec![NoChange, Redeployment], vec![None, None]),
        ];
        for (v, want) in cases {
            assert_eq!(confirm(&v), want, "{v:?}");
        }
    }

    #[test]
    fn summary_words() {
        let d: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let v = [None, Some(Withdrawal), Some(Withdrawal), Some(Withdrawal)];
        let c = confirm(&[Inconclusive, Withdrawal, Withdrawal, Withdrawal]);
        assert_eq!(
            summarise(&d, &v, &c),
            "last conclusive date d: withdrawal; decrease confirmed since b"
        );
        let v = [None, Some(Withdrawal), Some(NoChange), Some(NoChange)];
        let c = confirm(&[Inconclusive, Withdrawal, NoChange, NoChange]);
        assert_eq!(
            summarise(&d, &v, &c),
            "last conclusive date d: no_change; decrease seen on b did not last"
        );
    }
}
