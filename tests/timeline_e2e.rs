//! `timeline` end to end on the five-date synthetic series with known truth: a confirmed
//! withdrawal, a withdrawal that reverses on the next date, a site under a cloud on one
//! date, a buildup, a late (pending) withdrawal; the same series read from CSV, JSON
//! Lines and STAC catalogues gives the same timeline; outputs are read back as types.

mod common;

use std::fs;
use std::path::Path;

use stagewatch::evidence::Verdict;
use stagewatch::timeline::{Confirmation, Timeline};

fn run_timeline(catalog: &Path, sites: &Path, out: &Path) -> Timeline {
    let o = common::run(&[
        "--quiet",
        "timeline",
        "--detector",
        "tophat",
        "--images",
        catalog.to_str().unwrap(),
        "--sites",
        sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&fs::read(out.join("timeline.json")).unwrap()).unwrap()
}

#[test]
fn series_verdicts_confirmation_and_catalogue_formats() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene");
    let r = stagewatch::synth::series::render_series("withdrawal-series", &scene).unwrap();
    let t = run_timeline(&r.catalog, &r.sites, &dir.path().join("out"));
    assert_eq!(t.dates, r.truth.dates);
    assert_eq!(t.baseline_date, "2026-03-02");
    let site = |id: &str| t.sites.iter().find(|s| s.id == id).unwrap();
    let verdicts = |id: &str| site(id).points.iter().map(|p| p.verdict).collect::<Vec<_>>();
    let conf = |id: &str| site(id).points.iter().map(|p| p.withdrawal).collect::<Vec<_>>();
    use Confirmation::*;
    use Verdict::*;

    // Counts equal the truth wherever the site is observed.
    for (id, counts) in &r.truth.sites {
        for (p, &n) in site(id).points.iter().zip(counts) {
            if p.verdict != Some(Inconclusive) && id != "echo" {
                assert_eq!(p.vehicles, Some(n as u32), "{id} on {}", p.date);
                let iv = p.vehicles_estimate.unwrap();
                assert!(
                    iv.low <= n as f64 + 0.5 && n as f64 - 0.5 <= iv.high,
                    "{id} {iv:?}"
                );
            }
        }
    }
    // Unobserved is a gap, never 0: echo (off the imagery) on every date, bravo under the
    // cloud of 2026-05-20; in timeline.csv an empty cell.
    assert!(site("echo")
        .points
        .iter()
        .all(|p| p.vehicles.is_none() && p.vehicles_estimate.is_none()));
    let clouded = site("bravo")
        .points
        .iter()
        .find(|p| p.date == "2026-05-20")
        .unwrap();
    assert_eq!(
        (clouded.vehicles, clouded.vehicles_estimate),
        (None, None),
        "{clouded:?}"
    );
    let csv = std::fs::read_to_string(dir.path().join("out/timeline.csv")).unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with("site,bravo,2026-05-20,"))
        .unwrap();
    assert_eq!(row.split(',').nth(5), Some(""), "{row}");
    assert!(csv
        .lines()
        .filter(|l| l.starts_with("site,echo,"))
        .all(|l| l.split(',').nth(5) == Some("")));
    // alpha: withdrawal confirmed by the next two dates.
    assert_eq!(
        verdicts("alpha"),
        vec![
            None,
            Some(Withdrawal),
            Some(Withdrawal),
            Some(Withdrawal),
            Some(Withdrawal)
        ]
    );
    assert_eq!(
        conf("alpha"),
        vec![
            None,
            Some(Confirmed),
            Some(Confirmed),
            Some(Pending),
            Some(Pending)
        ]
    );
    assert!(site("alpha").summary.contains("confirmed since 2026-04-14"));
    // delta: a withdrawal that reverses on the next date.
    assert_eq!(verdicts("delta")[1], Some(Withdrawal));
    assert_eq!(conf("delta")[1], Some(NotSustained));
    assert_eq!(&verdicts("delta")[2..], &[Some(NoChange); 3]);
    assert!(site("delta").summary.contains("did not last"));
    // bravo: a cloud over the site is not an empty site.
    let b = &site("bravo").points[2];
    assert_eq!(b.verdict, Some(Inconclusive), "{}", b.explanation);
    assert!(b.observed_fraction < 0.8);
    assert_eq!(verdicts("bravo")[3], Some(NoChange));
    // charlie: buildup; foxtrot: a late withdrawal with only one later date.
    assert_eq!(&verdicts("charlie")[2..], &[Some(Buildup); 3]);
    assert_eq!(conf("foxtrot")[3], Some(Pending));
    assert_eq!(verdicts("foxtrot")[3], Some(Withdrawal));
    // echo is off the imagery: never a verdict other than inconclusive.
    assert!(verdicts("echo")[1..].iter().all(|v| *v == Some(Inconclusive)));
    // Overall: a partial withdrawal on the first date; then scored on every date.
    assert_eq!(t.overall[1].verdict, Some(PartialWithdrawal));
    assert!(t.overall[1].score > 0.4, "{}", t.overall[1].score);
    assert!(t.overall.iter().all(|p| (0.0..=1.0).contains(&p.score)));

    // Companions: CSV rows, charts.
    let out = dir.path().join("out");
    let csv = fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 * 5 + 5);
    for f in ["overall.png", "site-alpha.png", "site-echo.png"] {
        let img = image::open(out.join("charts").join(f)).unwrap();
        assert!(img.width() > 400, "{f}");
    }

    other_catalogue_formats_agree(&scene, &r, &t, dir.path());
}

/// The same series as JSON Lines and as a STAC ItemCollection gives the same timeline.
fn other_catalogue_formats_agree(
    scene: &Path,
    r: &stagewatch::synth::series::RenderedSeries,
    t: &Timeline,
    dir: &Path,
) {
    let mut jsonl = String::new();
    let mut items = Vec::new();
    for (d, p) in t.dates.iter().zip(&r.images) {
        let rel = p.strip_prefix(scene).unwrap().to_str().unwrap();
        jsonl.push_str(&format!("{{\"path\":\"{rel}\",\"date\":\"{d}\"}}\n"));
        items.push(serde_json::json!({"type": "Feature", "id": d,
            "properties": {"datetime": format!("{d}T10:00:00Z")},
            "assets": {"visual": {"href": rel, "type": "image/tiff; application=geotiff"}}}));
    }
    fs::write(scene.join("catalog.jsonl"), jsonl).unwrap();
    let stac = serde_json::json!({"type": "FeatureCollection", "features": items});
    fs::write(scene.join("stac.json"), stac.to_string()).unwrap();
    for name in ["catalog.jsonl", "stac.json"] {
        let t2 = run_timeline(&scene.join(name), &r.sites, &dir.join(name));
        assert_eq!(t2.sites, t.sites, "{name}");
        assert_eq!(t2.overall, t.overall, "{name}");
    }
}

#[test]
fn bad_catalogues_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites.geojson");
    fs::write(&sites, r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
    for (name, text, want) in [
        ("one.csv", "path,date\na.tif,2026-01-01\n", "at least two dates"),
        (
            "dup.csv",
            "path,date\na.tif,2026-01-01\nb.tif,2026-01-01\n",
            "two images for 2026-01-01",
        ),
        ("x.txt", "whatever", "unknown catalogue format"),
    ] {
        let cat = dir.path().join(name);
        fs::write(&cat, text).unwrap();
        let o = common::run(&[
            "--quiet",
            "timeline",
            "--images",
            cat.to_str().unwrap(),
            "--sites",
            sites.to_str().unwrap(),
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
    }
    assert!(!dir.path().join("out").exists());
}
