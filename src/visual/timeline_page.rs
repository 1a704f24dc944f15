//! `report.html` of `timeline` (and of `merge` when its pairs share a baseline): the
//! overall series and each site's series as inline SVG charts ([`super::charts`]),
//! each with its table of dates, verdicts and confirmations. Self-contained like the
//! `compare` page and built with the same escaping templates.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::charts::series_svg;
use super::page::{head, pct};
use crate::timeline::chart::{overall_points, site_points, OVERALL_TITLE, OVERALL_Y_LABEL, SITE_Y_LABEL};
use crate::timeline::{SiteSeries, Timeline};

fn site_section(s: &SiteSeries, stem: &str) -> Markup {
    let (title, pts) = site_points(s);
    html! {
        section class="card" id=(format!("site-{stem}")) {
            h3 { (title) }
            p { (s.summary) }
            div class="chart" { (PreEscaped(series_svg(&title, SITE_Y_LABEL, &pts, None))) }
            table {
                tr { th { "date" } th { "status" } th { "observed" } th { "counted" } th { "estimate (90 %)" }
                     th { "verdict" } th { "lasting" } }
                @for p in &s.points {
                    tr {
                        td { (p.date) } td { (p.status.as_str()) } td { (pct(p.observed_fraction)) }
                        td { (p.vehicles.map_or("-".to_string(), |v| v.to_string())) }
                        td { (p.vehicles_estimate.map_or("-".to_string(), |v| format!("{:.1} ({:.1}-{:.1})", v.estimate, v.low, v.high))) }
                        td class=(p.verdict.map_or("v-none".to_string(), |v| format!("v-{}", v.as_str()))) {
                            (p.verdict.map_or("baseline", |v| v.as_str())) }
                        td { (p.withdrawal.map_or("", |w| w.as_str())) }
                    }
                }
            }
        }
    }
}

/// A pair's own page, linked from `merge`'s top-level page.
#[derive(Debug, Clone)]
pub struct PairLink {
    /// `before -> after` dates.
    pub label: String,
    /// Relative link to the pair's `report.html`.
    pub href: String,
    pub verdict: String,
    pub score: f64,
}

fn pair_list(pairs: &[PairLink]) -> Markup {
    html! {
        @if !pairs.is_empty() {
            h2 { "Date pairs" }
            table {
                tr { th { "pair" } th { "verdict" } th { "score" } }
                @for p in pairs {
                    tr { td { a href=(p.href) { (p.label) } } td class=(format!("v-{}", p.verdict)) { (p.verdict) }
                         td { (format!("{:.2}", p.score)) } }
                }
            }
        }
    }
}

/// `merge`'s top-level page when its pairs do not share a baseline: the pairs only.
pub fn pairs_page(pairs: &[PairLink]) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("stagewatch merged report"))
            body { h1 { "Merged report" } (pair_list(pairs)) }
        }
    }
    .into_string()
}

/// The page of a timeline. `stems` are the sites' file stems, in site order; `pairs`
/// links each date pair's own page (`merge`), empty for `timeline`.
pub fn timeline_page(t: &Timeline, stems: &[String], pairs: &[PairLink]) -> String {
    let overall = overall_points(&t.overall);
    let params = serde_json::to_string_pretty(&t.parameters).expect("json");
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("stagewatch timeline from {}", t.baseline_date)))
            body {
                header {
                    h1 { "Withdrawal evidence over time" }
                    p class="summary" { (t.summary) }
                    p { "Baseline " (t.baseline_date) "; " (t.dates.len()) " dates; "
                        (t.sites.len()) " sites. Written by " (t.tool.name) " " (t.tool.version) "." }
                }
                h2 { "Inputs" }
                table class="inputs" {
                    tr { th { "date" } th { "path" } th { "GSD (m)" } th { "CRS" } }
                    @for i in &t.images {
                        tr { td { (i.date.as_deref().unwrap_or("unknown")) } td { code { (i.path) } }
                             td { (format!("{:.2}", i.gsd_m)) } td { (i.crs) } }
                    }
                    tr { td { "sites" } td { code { (t.sites_file.path) } } td colspan="2" {} }
                }
                details { summary { "Parameters" } pre { (params) } }
                (pair_list(pairs))
                h2 { "Overall" }
                p class="legend" { "Each chart: the estimate (line) with its 90 % interval (band), the raw count \
                    (black squares, site charts), and a dot per date coloured by its verdict against the baseline \
                    (green withdrawal, olive partial withdrawal, grey no change, red buildup, purple redeployment, \
                    orange inconclusive); a ring marks a decrease confirmed by the next two conclusive dates." }
                div class="chart" { (PreEscaped(series_svg(OVERALL_TITLE, OVERALL_Y_LABEL, &overall, Some(1.0)))) }
                h2 { "Sites" }
                ul { @for (s, stem) in t.sites.iter().zip(stems) {
                    li { a href=(format!("#site-{stem}")) { (s.id) } ": " (s.summary) }
                } }
                @for (s, stem) in t.sites.iter().zip(stems) { (site_section(s, stem)) }
            }
        }
    };
    page.into_string()
}
