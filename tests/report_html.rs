//! `report.html` and the chips without a browser: site ids and names from the input are
//! escaped, `--no-html` skips the page but not the chips, chips decode and stay within
//! 512 pixels (also for a site off one image), the page loads nothing from anywhere, and a rerun with fewer sites
//! leaves no stale chip behind. (`tests/report_browser.rs` opens the page in Chromium.)

mod common;

use std::path::Path;

fn hostile_scene(dir: &Path) -> stagewatch::synth::Rendered {
    let r = common::synth("demo", &dir.join("scene"));
    let text = std::fs::read_to_string(&r.sites).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = &mut v["features"].as_array_mut().unwrap()[0]["properties"];
    f["id"] = "<script>alert(1)</script>".into();
    f["name"] = "\"><img src=x onerror=alert(2)>".into();
    std::fs::write(&r.sites, serde_json::to_string(&v).unwrap()).unwrap();
    r
}

#[test]
fn input_strings_are_escaped_and_nothing_is_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let r = hostile_scene(dir.path());
    let out = dir.path().join("out");
    assert!(common::compare(&r, &out, &[])
        .status
        .code()
        .is_some_and(|c| c <= 1));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert(1)"), "a site id became markup");
    assert!(!html.contains("<img src=x"), "a site name became markup");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert_eq!(html.matches("<script").count(), 1, "only the page's own script");
    // Nothing to fetch: every src/href is a data: URI or an in-page anchor.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            assert!(
                v.starts_with("data:") || v.starts_with('#'),
                "{}",
                &v[..v.len().min(60)]
            );
        }
    }
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn chips_are_written_with_or_without_the_page_and_stale_ones_go() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("demo", &dir.path().join("scene"));
    let out = dir.path().join("out");
    assert!(common::compare(&r, &out, &["--no-html"])
        .status
        .code()
        .is_some_and(|c| c <= 1));
    assert!(!out.join("report.html").exists(), "--no-html wrote the page");
    let report: stagewatch::report::Report =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let mut chips = 0;
    for s in report.sites.iter().filter(|s| s.grid.is_some()) {
        // A site seen on one date only gets its chips too (no change overlay).
        let kinds: &[&str] = if s.change_raster.is_some() {
            &["before", "after", "change", "unobserved"]
        } else {
            assert!(!out.join(format!("chips/{}_change.png", s.id)).exists());
            &["before", "after", "unobserved"]
        };
        for kind in kinds {
            let p = out.join(format!("chips/{}_{kind}.png", s.id));
            let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(img.width() <= 512 && img.height() <= 512);
            let g = s.grid.as_ref().unwrap();
            assert_eq!(
                (img.width() as usize, img.height() as usize),
                (g.width, g.height),
                "small sites: one pixel each"
            );
            chips += 1;
        }
    }
    assert!(chips >= 20, "{chips} chips");
    // The same folder with one site fewer: its chips are removed with its raster.
    let text = std::fs::read_to_string(&r.sites).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let gone = v["features"][0]["properties"]["id"].as_str().unwrap().to_string();
    v["features"].as_array_mut().unwrap().remove(0);
    std::fs::write(&r.sites, serde_json::to_string(&v).unwrap()).unwrap();
    assert!(common::compare(&r, &out, &[])
        .status
        .code()
        .is_some_and(|c| c <= 1));
    assert!(
        !out.join(format!("chips/{gone}_before.png")).exists(),
        "stale chip left"
    );
    assert!(out.join("report.html").exists());
}
