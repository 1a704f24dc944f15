//! Pieces shared by the HTML pages: the document head (inline style, a
//! Content-Security-Policy that lets the page load nothing but its own `data:` images),
//! the table-sorting and toggle script, `data:` URIs, and the words for verdicts,
//! statuses and flags.

use base64::Engine;
use maud::{html, Markup, PreEscaped};

use crate::evidence::Verdict;
use crate::report::{Report, SiteReport, SiteStatus};

/// Nothing may be fetched: images are `data:` URIs, style and script inline.
pub const CSP: &str =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left; }
table.sortable th { cursor: pointer; background: #f2f2f2; } table.sortable th:after { content: " \2195"; color: #999; }
code { font-size: 0.9em; word-break: break-all; }
.summary { font-size: 1.15em; font-weight: bold; }
.verdict { font-weight: bold; }
.v-withdrawal { color: #1a7f37; } .v-partial_withdrawal { color: #6a8f00; } .v-no_change { color: #555; }
.v-buildup { color: #c62828; } .v-redeployment { color: #8e44ad; } .v-inconclusive, .v-none { color: #b26a00; }
.v-error { color: #c62828; }
svg.overview { width: 100%; height: auto; background: #333; }
svg.overview polygon.site { fill: none; stroke-width: 3; vector-effect: non-scaling-stroke; }
svg.overview polygon.v-withdrawal { stroke: #2ecc40; } svg.overview polygon.v-partial_withdrawal { stroke: #b5e61d; }
svg.overview polygon.v-no_change { stroke: #dddddd; } svg.overview polygon.v-buildup { stroke: #ff4136; }
svg.overview polygon.v-redeployment { stroke: #d07cff; } svg.overview polygon.v-inconclusive,
svg.overview polygon.v-none, svg.overview polygon.v-error { stroke: #ffb000; stroke-dasharray: 6 4; }
svg.overview text.label { fill: #fff; font-size: 14px; paint-order: stroke; stroke: #000; stroke-width: 3px; vector-effect: non-scaling-stroke; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.5em 1em; margin: 1.2em 0; }
.card h3 { margin: 0.3em 0; word-break: break-all; }
.pair { display: flex; gap: 12px; flex-wrap: wrap; }
.chip { margin: 0; flex: 1 1 400px; } .chip figcaption { text-align: center; color: #555; }
.stack { position: relative; line-height: 0; }
.stack img { width: 100%; image-rendering: pixelated; }
.stack img.ov { position: absolute; left: 0; top: 0; display: none; }
.card.show-change img.ov.change, .card.show-unobs img.ov.unobs { display: block; }
.missing { padding: 3em; background: #eee; text-align: center; line-height: 1.2; }
.legend .k:before { content: "\25EF "; font-weight: bold; }
.k.matched:before { color: rgb(0,220,255); } .k.gone:before { color: rgb(255,40,40); }
.k.arrived:before { color: rgb(255,200,0); } .k.outline:before { content: "\25A1 "; color: #999; }
.flag, .error { color: #b26a00; }
.chart svg { width: 100%; height: auto; }
"#;

/// Sorts a table by the clicked column (numbers by `data-v`) and turns the chip
/// toggles into classes on their card.
pub const SCRIPT: &str = r#"
document.querySelectorAll("table.sortable").forEach(function (t) {
  t.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var num = th.dataset.type === "num", asc = th.dataset.dir !== "asc";
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var u = num ? parseFloat(x.dataset.v) : x.textContent, v = num ? parseFloat(y.dataset.v) : y.textContent;
        var c = num ? u - v : u.localeCompare(v);
        return asc ? c : -c;
      });
      th.dataset.dir = asc ? "asc" : "desc";
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll(".card").forEach(function (card) {
  [["t-change", "show-change"], ["t-unobs", "show-unobs"]].forEach(function (p) {
    var box = card.querySelector("input." + p[0]);
    if (box) { box.addEventListener("change", function () { card.classList.toggle(p[1], box.checked); }); }
  });
});
"#;

/// The `<head>` of a page.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta http-equiv="Content-Security-Policy" content=(CSP);
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// A `data:` URI of image bytes of type `mime`.
pub fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// `0.873` as `87 %`.
pub fn pct(f: f64) -> String {
    format!("{:.0} %", f * 100.0)
}

/// CSS class of a site's verdict (`v-error` for a failed site, `v-none` unscored).
pub fn verdict_class(s: &SiteReport) -> String {
    if s.status == SiteStatus::Error {
        return "v-error".into();
    }
    match &s.evidence {
        Some(e) => format!("v-{}", e.verdict.as_str()),
        None => "v-none".into(),
    }
}

/// A status in words.
pub fn status_words(s: SiteStatus) -> &'static str {
    match s {
        SiteStatus::Ok => "Observed on both dates.",
        SiteStatus::PartialCoverage => {
            "Partial coverage: part of the site was hidden (cloud, nodata or outside an image) on a date; counts cover only what both dates show."
        }
        SiteStatus::NoCoverage => "No coverage: neither date shows the site.",
        SiteStatus::Error => "The site could not be analysed.",
    }
}

/// A flag in words.
pub fn flag_words(flag: &str) -> String {
    match flag {
        "coregistration_unreliable" => {
            "Co-registration unreliable: the dates could not be aligned with confidence, so change may be misalignment; the site is not used for the overall score.".into()
        }
        "gsd_too_coarse" => {
            "Pixels too coarse for this vehicle class: nothing was counted; the change mask is still shown.".into()
        }
        other => format!("Flag: {other}"),
    }
}

/// "4 of 6 watched sites emptied; 1 unobserved; no redeployment".
pub fn summary_line(r: &Report) -> String {
    let n = r.sites.len();
    let verdict = |v: Verdict| {
        r.sites
            .iter()
            .filter(|s| s.status != SiteStatus::Error && s.evidence.as_ref().is_some_and(|e| e.verdict == v))
            .count()
    };
    let unseen = |s: &SiteReport| {
        matches!(s.status, SiteStatus::NoCoverage | SiteStatus::Error) || s.observed_fraction == 0.0
    };
    let unobserved = r.sites.iter().filter(|s| unseen(s)).count();
    let inconclusive = r
        .sites
        .iter()
        .filter(|s| {
            !unseen(s)
                && s.evidence
                    .as_ref()
                    .is_some_and(|e| e.verdict == Verdict::Inconclusive)
        })
        .count();
    let mut parts = vec![format!(
        "{} of {n} watched sites emptied",
        verdict(Verdict::Withdrawal)
    )];
    for (count, words) in [
        (verdict(Verdict::PartialWithdrawal), "partly emptied"),
        (verdict(Verdict::NoChange), "unchanged"),
        (verdict(Verdict::Buildup), "built up"),
        (inconclusive, "inconclusive"),
        (unobserved, "unobserved"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {words}"));
        }
    }
    let moves = r.withdrawal_evidence.redeployments.len();
    parts.push(match moves {
        0 => "no redeployment".into(),
        1 => "1 redeployment".into(),
        m => format!("{m} redeployments"),
    });
    parts.join("; ")
}
