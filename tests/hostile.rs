//! Hostile and careless input (issue 12, part): a FIFO or a device where a file is
//! expected gives a one-line error naming it instead of blocking forever; text inputs
//! are read up to a size limit. Every child runs under a time and an address-space
//! limit ([`common::run_limited`]).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn fifos_and_devices_are_refused_not_waited_on() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let fifo = d.path().join("pipe.fifo");
    mkfifo(&fifo);
    let series =
        stagewatch::synth::series::render_series("withdrawal-series", &d.path().join("series")).unwrap();
    // A catalogue whose second entry is the FIFO.
    let cat_text = std::fs::read_to_string(&series.catalog).unwrap();
    let mut lines: Vec<String> = cat_text.lines().map(String::from).collect();
    let header_and_first = lines.drain(..2).collect::<Vec<_>>();
    let bad_cat = d.path().join("series/bad-catalog.csv");
    std::fs::write(
        &bad_cat,
        format!("{}\n{},2026-04-14\n", header_and_first.join("\n"), s(&fifo)),
    )
    .unwrap();
    let out = d.path().join("out");
    let (b, a, sites) = (s(&r.before), s(&r.after), s(&r.sites));
    let f = s(&fifo);
    let (plan_out, scan_out) = (d.path().join("p.jsonl"), d.path().join("c.geojson"));
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("info", vec!["info", f], f),
        (
            "compare --sites",
            vec![
                "compare",
                "--before",
                b,
                "--after",
                a,
                "--sites",
                f,
                "--out",
                s(&out),
            ],
            f,
        ),
        (
            "compare --before-mask",
            vec![
                "compare",
                "--detector",
                "tophat",
                "--before",
                b,
                "--after",
                a,
                "--sites",
                sites,
                "--before-mask",
                f,
                "--out",
                s(&out),
            ],
            f,
        ),
        (
            "compare --evidence-config",
            vec![
                "compare",
                "--before",
                b,
                "--after",
                a,
                "--sites",
                sites,
                "--evidence-config",
                f,
                "--out",
                s(&out),
            ],
            f,
        ),
        (
            "compare --before",
            vec![
                "compare",
                "--before",
                f,
                "--after",
                a,
                "--sites",
                sites,
                "--out",
                s(&out),
            ],
            f,
        ),
        (
            "timeline --images",
            vec!["timeline", "--images", f, "--sites", sites, "--out", s(&out)],
            f,
        ),
        (
            "plan catalogue entry",
            vec![
                "plan",
                "--images",
                s(&bad_cat),
                "--sites",
                s(&series.sites),
                "--out",
                s(&plan_out),
            ],
            f,
        ),
        (
            "plan --sites",
            vec![
                "plan",
                "--images",
                s(&series.catalog),
                "--sites",
                f,
                "--out",
                s(&plan_out),
            ],
            f,
        ),
        ("run --plan", vec!["run", "--plan", f, "--out", s(&out)], f),
        (
            "eval --truth",
            vec!["eval", "--detections", sites, "--truth", f],
            f,
        ),
        (
            "sites /dev/zero",
            vec![
                "compare",
                "--before",
                b,
                "--after",
                a,
                "--sites",
                "/dev/zero",
                "--out",
                s(&out),
            ],
            "/dev/zero",
        ),
        (
            "scan",
            vec!["scan", "--before", f, "--after", a, "--out", s(&scan_out)],
            f,
        ),
    ];
    for (name, args, named) in cases {
        let (code, err) = common::run_limited(&args, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("{name}: still running after 60 s"));
        assert!(code == Some(2) || code == Some(1), "{name}: exit {code:?}: {err}");
        assert!(
            err.contains(named) && err.contains("not a regular file"),
            "{name}: {err}"
        );
    }
}

/// Absurd option values exit 2 naming the option, before any work.
#[test]
fn absurd_margins_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let out = d.path().join("out");
    for bad in ["-5", "NaN", "inf", "1e9", "x"] {
        let o = common::compare(&r, &out, &[&format!("--margin-m={bad}")]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--margin-m"), "{bad}");
        assert!(!out.exists(), "{bad}");
    }
}

/// Impossible dates and dates in the wrong order exit 2 (a swapped pair would report a
/// withdrawal where vehicles arrived).
#[test]
fn impossible_and_reversed_dates_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let out = d.path().join("out");
    let compare = |extra: &[&str]| {
        let mut a = vec![
            "compare",
            "--detector",
            "tophat",
            "--before",
            s(&r.before),
            "--after",
            s(&r.after),
        ];
        a.extend_from_slice(&["--sites", s(&r.sites), "--out", s(&out)]);
        a.extend_from_slice(extra);
        common::run(&a)
    };
    for bad in ["2026-02-30", "2026-13-45", "0000-00-00"] {
        let o = compare(&["--after-date", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("--after-date"),
            "{bad}"
        );
    }
    let o = compare(&["--before-date", "2026-05-01", "--after-date", "2026-04-01"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("after.tif") && err.contains("earlier than the before image"),
        "{err}"
    );
    assert!(!out.join("report.json").exists());
}

/// `plan` opens every catalogued image: a text file listed as an image is refused there,
/// not in every job of the run.
#[test]
fn plan_refuses_a_catalogue_entry_that_is_not_an_image() {
    let d = tempfile::tempdir().unwrap();
    let series =
        stagewatch::synth::series::render_series("withdrawal-series", &d.path().join("series")).unwrap();
    let text_file = d.path().join("passwd.tif");
    std::fs::write(&text_file, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let cat = std::fs::read_to_string(&series.catalog).unwrap();
    let mut lines: Vec<&str> = cat.lines().collect();
    let entry = format!("{},2026-04-14", s(&text_file));
    lines[2] = &entry;
    let bad_cat = d.path().join("series/bad.csv");
    std::fs::write(&bad_cat, lines.join("\n") + "\n").unwrap();
    let plan = d.path().join("p.jsonl");
    let o = common::run(&[
        "plan",
        "--images",
        s(&bad_cat),
        "--sites",
        s(&series.sites),
        "--out",
        s(&plan),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("passwd.tif") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!plan.exists());
}

/// A rerun into a folder holding an earlier run's outputs keeps no change raster the new
/// report does not list.
#[test]
fn rerun_removes_stale_change_rasters() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let out = d.path().join("out");
    std::fs::create_dir_all(out.join("change")).unwrap();
    std::fs::write(out.join("change/old-site.tif"), b"from an earlier run").unwrap();
    let o = common::compare(&r, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.join("change/old-site.tif").exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("removed 1 change raster"));
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for s in rep["sites"].as_array().unwrap() {
        if let Some(p) = s["change_raster"].as_str() {
            assert!(out.join(p).exists(), "{p}");
        }
    }
}

/// `--out` naming an existing file is refused before any work (was: "File exists" after it).
#[test]
fn out_being_a_file_is_refused_first() {
    let d = tempfile::tempdir().unwrap();
    let r = common::synth("clear", &d.path().join("scene"));
    let file = d.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    let o = common::compare(&r, &file, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("afile") && err.contains("not a folder"), "{err}");
    let o = common::run(&[
        "detect",
        "--image",
        s(&r.before),
        "--sites",
        s(&r.sites),
        "--out",
        s(&file),
    ]);
    assert_eq!(o.status.code(), Some(2));
}
