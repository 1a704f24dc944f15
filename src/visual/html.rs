//! `report.html` of `compare` (and of each pair `merge` writes): one self-contained page
//! (images as `data:` URIs, inline style and a few lines of inline script, a
//! Content-Security-Policy that forbids fetching anything) with the overall verdict, an
//! overview map, a sortable table of sites and a card per site with its chips.
//!
//! Built with the `maud` template macros, which escape every interpolated string: site
//! ids, names and paths from the input render as text, never as markup.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::embed::{Embedded, PageChips};
use super::page::{data_uri, flag_words, head, pct, status_words, summary_line, verdict_class};
use crate::evidence::Interval;
use crate::report::{Report, SiteReport, SiteStatus};

/// The overview map: a quicklook PNG of the before scene and each site's outline in its
/// pixels (one ring per polygon), in site order.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The quicklook image and its MIME type.
    pub image: Vec<u8>,
    pub mime: &'static str,
    pub width: usize,
    pub height: usize,
    pub outlines: Vec<Vec<Vec<(f64, f64)>>>,
}

fn interval(i: &Interval, digits: usize) -> String {
    format!(
        "{:.*} ({:.*}-{:.*})",
        digits, i.estimate, digits, i.low, digits, i.high
    )
}

/// The upper-left corner of the rings' bounding box (None without vertices).
fn top_left(rings: &[Vec<(f64, f64)>]) -> Option<(f64, f64)> {
    let pts = || rings.iter().flatten();
    pts().next()?;
    Some((
        pts().map(|p| p.0).fold(f64::INFINITY, f64::min),
        pts().map(|p| p.1).fold(f64::INFINITY, f64::min),
    ))
}

fn overview_svg(o: &Overview, report: &Report, stems: &[String]) -> Markup {
    html! {
        svg class="overview" viewBox=(format!("0 0 {} {}", o.width, o.height)) role="img"
            aria-label="Overview of the before scene with every site" {
            image href=(data_uri(o.mime, &o.image)) x="0" y="0" width=(o.width) height=(o.height) {}
            @for ((site, rings), stem) in report.sites.iter().zip(&o.outlines).zip(stems) {
                a href=(format!("#site-{stem}")) {
                    @for ring in rings {
                        polygon class=(format!("site {}", verdict_class(site)))
                            points=(ring.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")) {}
                    }
                    @if let Some((x, y)) = top_left(rings) {
                        text x=(format!("{x:.1}")) y=(format!("{:.1}", y - 4.0)) class="label" { (site.id) }
                    }
                }
            }
        }
    }
}

fn sites_table(report: &Report, stems: &[String]) -> Markup {
    html! {
        table id="sites" class="sortable" {
            thead { tr {
                th data-type="text" { "site" } th data-type="text" { "name" }
                th data-type="text" { "verdict" } th data-type="num" { "before" }
                th data-type="num" { "after" } th data-type="num" { "change" }
                th data-type="num" { "observed" } th data-type="text" { "status" }
            } }
            tbody {
                @for (s, stem) in report.sites.iter().zip(stems) {
                    tr {
                        td { a href=(format!("#site-{stem}")) { (s.id) } }
                        td { (s.name.as_deref().unwrap_or("")) }
                        td class=(verdict_class(s)) { (s.evidence.as_ref().map_or("-", |e| e.verdict.as_str())) }
                        td data-v=(s.before.vehicles) { (s.before.vehicles) }
                        td data-v=(s.after.vehicles) { (s.after.vehicles) }
                        td data-v=(s.delta.vehicles) { (format!("{:+}", s.delta.vehicles)) }
                        td data-v=(format!("{:.4}", s.observed_fraction)) { (pct(s.observed_fraction)) }
                        td { (s.status.as_str()) }
                    }
                }
            }
        }
    }
}

fn chip(label: &str, base: &Option<Embedded>, files: &PageChips) -> Markup {
    html! {
        figure class="chip" {
            div class="stack" {
                @if let Some(png) = base {
                    img class="base" alt=(format!("{label} chip")) src=(data_uri(png.mime, &png.bytes));
                    @if let Some(c) = &files.change {
                        img class="ov change" alt="change mask" src=(data_uri(c.mime, &c.bytes));
                    }
                    @if let Some(u) = &files.unobserved {
                        img class="ov unobs" alt="not observed" src=(data_uri(u.mime, &u.bytes));
                    }
                } @else {
                    div class="missing" { "no chip" }
                }
            }
            figcaption { (label) }
        }
    }
}

fn site_card(s: &SiteReport, stem: &str, files: &PageChips, report: &Report) -> Markup {
    let ev = s.evidence.as_ref();
    html! {
        section class="card" id=(format!("site-{stem}")) {
            h3 { (s.id) @if let Some(n) = &s.name { " - " (n) } }
            p class=(format!("verdict {}", verdict_class(s))) {
                (ev.map_or("not analysed", |e| e.verdict.as_str()))
            }
            @if let Some(e) = ev { p { (e.explanation) } }
            @if let Some(err) = &s.error { p class="error" { "Error: " (err) } }
            ul class="facts" {
                li { "Vehicles counted: before " (s.before.vehicles) ", after " (s.after.vehicles)
                     " (" (format!("{:+}", s.delta.vehicles)) ")" }
                @if let Some(e) = ev {
                    li { "Estimated vehicles (90 % interval): before " (interval(&e.before_vehicles, 1))
                         ", after " (interval(&e.after_vehicles, 1)) }
                    @if let Some(r) = &e.remaining_fraction {
                        li { "Remaining fraction: " (interval(r, 2)) }
                    }
                }
                li { "Observed on both dates: " (pct(s.observed_fraction)) "; cloud before "
                     (pct(s.before.cloud_fraction)) ", after " (pct(s.after.cloud_fraction))
                     "; changed " (pct(s.changed_fraction)) }
                li { (status_words(s.status)) }
                @for f in &s.flags { li class="flag" { (flag_words(f)) } }
            }
            @if s.status != SiteStatus::Error && (files.before.is_some() || files.after.is_some()) {
                div class="toggles" {
                    label { input type="checkbox" class="t-change"; " change mask" }
                    label { input type="checkbox" class="t-unobs"; " not observed / cloud" }
                }
                div class="pair" {
                    (chip(&format!("before {}", report.inputs.before.date.as_deref().unwrap_or("")), &files.before, files))
                    (chip(&format!("after {}", report.inputs.after.date.as_deref().unwrap_or("")), &files.after, files))
                }
                p class="legend" {
                    span class="k matched" { "counted on both dates" } " "
                    span class="k gone" { "before only: gone" } " "
                    span class="k arrived" { "after only: arrived" } " "
                    span class="k outline" { "site polygon" }
                }
            }
        }
    }
}

/// The page of one `compare` report. `stems` are the sites' file stems (for anchors),
/// `chips` their images ([`super::embed::page_chips`]), in site order.
pub fn compare_page(
    report: &Report,
    stems: &[String],
    chips: &[PageChips],
    overview: Option<&Overview>,
) -> String {
    let ev = &report.withdrawal_evidence;
    let params = serde_json::to_string_pretty(&report.parameters).expect("json");
    let inputs = [("before", &report.inputs.before), ("after", &report.inputs.after)];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("stagewatch report: {}", ev.verdict.as_str())))
            body {
                header {
                    h1 { "Withdrawal evidence: " span class=(format!("verdict v-{}", ev.verdict.as_str())) { (ev.verdict.as_str()) } }
                    p class="summary" { (summary_line(report)) }
                    p { "Score " (format!("{:.2}", ev.score))
                        @if let Some(r) = &ev.remaining_fraction {
                            "; remaining fraction " (interval(r, 2)) " (90 % interval)"
                        }
                        "; coverage " (pct(ev.coverage)) "; sites used " (ev.sites_used) " of " (report.sites.len()) "." }
                    p { (ev.explanation) }
                }
                h2 { "Inputs" }
                table class="inputs" {
                    tr { th { "" } th { "path" } th { "date" } th { "GSD (m)" } th { "CRS" } th { "size" } }
                    @for (label, i) in inputs {
                        tr { td { (label) } td { code { (i.path) } } td { (i.date.as_deref().unwrap_or("unknown")) }
                             td { (format!("{:.2}", i.gsd_m)) } td { (i.crs) } td { (i.width) " x " (i.height) " x " (i.bands) } }
                    }
                    tr { td { "sites" } td { code { (report.inputs.sites.path) } } td colspan="4" {} }
                }
                p { "Written by " (report.tool.name) " " (report.tool.version) "." }
                details { summary { "Parameters" } pre { (params) } }
                @if let Some(o) = overview {
                    h2 { "Overview" }
                    (overview_svg(o, report, stems))
                }
                h2 { "Sites" }
                (sites_table(report, stems))
                @for ((s, stem), files) in report.sites.iter().zip(stems).zip(chips) {
                    (site_card(s, stem, files, report))
                }
                script { (PreEscaped(super::page::SCRIPT)) }
            }
        }
    };
    page.into_string()
}
