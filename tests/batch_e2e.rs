//! `plan`/`run`/`status`/`merge` end to end on the synthetic five-date series: sharded
//! runs merge byte-identically to one unsharded run, a run killed with SIGKILL part-way
//! leaves no partial file and completes when rerun, and a corrupt image becomes
//! permanent per-job errors while the other jobs finish.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use stagewatch::batch::run::JobResult;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn plan(catalog: &Path, sites: &Path, pairs: &str, out: &Path) {
    let o = common::run(&[
        "--quiet",
        "plan",
        "--detector",
        "tophat",
        "--images",
        s(catalog),
        "--sites",
        s(sites),
        "--pairs",
        pairs,
        "--out",
        s(out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn run(plan: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut a = vec!["--quiet", "run", "--plan", s(plan), "--out", s(out)];
    a.extend_from_slice(extra);
    common::run(&a)
}

fn merge(plan: &Path, out: &Path) -> std::process::Output {
    common::run(&["--quiet", "merge", "--plan", s(plan), "--out", s(out)])
}

/// Every file under `dir`, relative, with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                v.push((p.strip_prefix(dir).unwrap().to_path_buf(), fs::read(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

fn series(dir: &Path) -> stagewatch::synth::series::RenderedSeries {
    stagewatch::synth::series::render_series("withdrawal-series", &dir.join("scene")).unwrap()
}

#[test]
fn shards_merge_like_one_run_and_status_lists_missing_shards() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "baseline:2026-03-02", &p);
    assert_eq!(fs::read_to_string(&p).unwrap().lines().count(), 4 * 6);

    let single = d.path().join("single");
    assert!(run(&p, &single, &[]).status.success());
    assert!(merge(&p, &single).status.success());

    let sharded = d.path().join("sharded");
    // Shards 0, 2 via flags; 1 via a Slurm index; 3 left out at first.
    assert!(run(&p, &sharded, &["--shard", "0/4"]).status.success());
    assert!(run(&p, &sharded, &["--shard", "2/4"]).status.success());
    let o = common::bin()
        .args([
            "--quiet",
            "run",
            "--plan",
            s(&p),
            "--out",
            s(&sharded),
            "--shards",
            "4",
        ])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st = common::run(&[
        "status",
        "--plan",
        s(&p),
        "--out",
        s(&sharded),
        "--shards",
        "4",
        "--json",
    ]);
    assert_eq!(st.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["missing_shards"], "3");
    assert_eq!(v["missing"], 6);
    let m = merge(&p, &sharded);
    assert_eq!(m.status.code(), Some(2), "merge must refuse an incomplete plan");
    assert!(String::from_utf8_lossy(&m.stderr).contains("6 of 24 jobs have no output yet"));
    // A Kubernetes Indexed Job pod runs the last shard; a duplicate run is harmless.
    for _ in 0..2 {
        let o = common::bin()
            .args([
                "--quiet",
                "run",
                "--plan",
                s(&p),
                "--out",
                s(&sharded),
                "--shards",
                "4",
            ])
            .env("JOB_COMPLETION_INDEX", "3")
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    assert!(merge(&p, &sharded).status.success());
    let (one, many) = (tree(&single), tree(&sharded));
    let names = |t: &[(PathBuf, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&one), names(&many));
    for ((n, a), (_, b)) in one.iter().zip(&many) {
        assert!(a == b, "{} differs between one run and four shards", n.display());
    }

    agrees_with_timeline_and_compare(d.path(), &r, &single);
}

/// A single run's merged timeline agrees with `timeline` on the same catalogue, and its
/// pairs' change rasters are byte-identical to `compare`'s for the same pair.
fn agrees_with_timeline_and_compare(d: &Path, r: &stagewatch::synth::series::RenderedSeries, single: &Path) {
    // The merged timeline agrees with `timeline` on the same catalogue.
    let tl = d.join("tl");
    let o = common::run(&[
        "--quiet",
        "timeline",
        "--detector",
        "tophat",
        "--images",
        s(&r.catalog),
        "--sites",
        s(&r.sites),
        "--out",
        s(&tl),
    ]);
    assert!(o.status.success());
    let a: stagewatch::timeline::Timeline =
        serde_json::from_slice(&fs::read(tl.join("timeline.json")).unwrap()).unwrap();
    let b: stagewatch::timeline::Timeline =
        serde_json::from_slice(&fs::read(single.join("timeline.json")).unwrap()).unwrap();
    assert_eq!(a.sites, b.sites);
    assert_eq!(a.overall, b.overall);

    // Merged pairs carry change rasters, byte-identical to `compare`'s for the same pair.
    let pair = "2026-03-02_2026-04-14";
    let merged: stagewatch::report::Report =
        serde_json::from_slice(&fs::read(single.join("pairs").join(pair).join("report.json")).unwrap())
            .unwrap();
    let cmp = d.join("cmp");
    let images = r.catalog.parent().unwrap();
    let o = common::run(&[
        "--quiet",
        "compare",
        "--detector",
        "tophat",
        "--before",
        s(&images.join(&r.images[0])),
        "--after",
        s(&images.join(&r.images[1])),
        "--sites",
        s(&r.sites),
        "--out",
        s(&cmp),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let with_raster: Vec<&str> = merged
        .sites
        .iter()
        .filter_map(|s| s.change_raster.as_deref())
        .collect();
    assert!(with_raster.len() >= 4, "{with_raster:?}");
    for rel in with_raster {
        assert_eq!(
            fs::read(single.join("pairs").join(pair).join(rel)).unwrap(),
            fs::read(cmp.join(rel)).unwrap(),
            "{rel}"
        );
    }
}

#[test]
fn killed_run_leaves_no_partial_file_and_resumes() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "consecutive", &p);
    let total = fs::read_to_string(&p).unwrap().lines().count();

    let reference = d.path().join("reference");
    assert!(run(&p, &reference, &[]).status.success());
    assert!(merge(&p, &reference).status.success());

    let out = d.path().join("out");
    let jobs = out.join("jobs");
    let mut child = common::bin()
        .args(["--quiet", "run", "--plan", s(&p), "--out", s(&out)])
        .env("RAYON_NUM_THREADS", "1")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let count = || {
        fs::read_dir(&jobs)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "json")
                })
                .count()
            })
            .unwrap_or(0)
    };
    while count() < 3 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = count();
    assert!(
        after_kill >= 3 && after_kill < total,
        "killed part-way: {after_kill} of {total}"
    );
    // Everything in the output folder under its final name is complete: job results, and
    // change rasters `jobs/<key>/change/<site>.tif` and chips `jobs/<key>/chips/*.png` (a hidden `.<name>.<pid>.tmp` is a
    // raster being written when the run was killed; its job reruns).
    for (rel, bytes) in tree(&out) {
        assert!(rel.starts_with("jobs"), "{rel:?}");
        let name = rel.file_name().unwrap().to_string_lossy().into_owned();
        if rel.components().count() == 2 {
            assert!(name.ends_with(".json"), "{rel:?}");
            let _: JobResult = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{rel:?}: {e}"));
        } else if name.ends_with(".png") {
            image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{rel:?}: {e}"));
        } else if !(name.starts_with('.') && name.ends_with(".tmp")) {
            assert!(name.ends_with(".tif"), "{rel:?}");
            stagewatch::raster::geotiff::GeoTiff::open(&out.join(&rel))
                .unwrap_or_else(|e| panic!("{rel:?}: {e}"));
        }
    }
    let o = run(&p, &out, &["--log-format", "json"]);
    assert!(o.status.success());
    let end = String::from_utf8_lossy(&o.stderr)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let ev: serde_json::Value = serde_json::from_str(&end).unwrap();
    assert_eq!(ev["event"], "end");
    assert_eq!(ev["already_done"], after_kill);
    assert_eq!(ev["done"].as_u64().unwrap() as usize, total - after_kill);
    assert!(merge(&p, &out).status.success());
    assert_eq!(tree(&reference), tree(&out));
}

#[test]
fn corrupt_image_fails_its_jobs_for_good_and_the_rest_finish() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    // Replace the third date's image with a truncated copy of itself.
    let bad = &r.images[2];
    let bytes = fs::read(bad).unwrap();
    fs::write(bad, &bytes[..bytes.len() / 3]).unwrap();
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "consecutive", &p);
    let out = d.path().join("out");
    let o = run(&p, &out, &[]);
    assert!(
        o.status.success(),
        "permanent errors are done: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let errs: Vec<_> = fs::read_dir(out.join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".err.json"))
        .collect();
    assert!(!errs.is_empty());
    let e: serde_json::Value = serde_json::from_slice(&fs::read(&errs[0]).unwrap()).unwrap();
    assert!(e["error"].as_str().unwrap().contains("2026-05-20.tif"), "{e}");
    let st = common::run(&["status", "--plan", s(&p), "--out", s(&out)]);
    assert!(st.status.success());
    let m = merge(&p, &out);
    assert_eq!(m.status.code(), Some(1));
    let rep: serde_json::Value = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    let pairs = rep["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 4);
    // The first pair does not touch the corrupt date: every site analysed.
    assert!(pairs[0]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] != "error"));
    assert!(pairs[1]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["status"] == "error"));
}

#[test]
fn a_plan_from_other_analysis_code_is_refused_by_run() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "consecutive", &p);
    let text = fs::read_to_string(&p).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let ours = first["tool_version"].as_str().unwrap().to_string();
    assert_eq!(ours, stagewatch::batch::TOOL_VERSION);
    assert!(ours.contains("+src."), "{ours}");
    // The same plan as written by a build of other source.
    let old = d.path().join("old.jsonl");
    fs::write(&old, text.replace(&ours, "0.1.0+src.0000000000000000")).unwrap();
    let out = d.path().join("out");
    let o = run(&old, &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("old.jsonl") && err.contains("plan` again"), "{err}");
    assert!(!out.join("jobs").exists() || fs::read_dir(out.join("jobs")).unwrap().next().is_none());
}

/// A plan is input: keys and dates become file names, so a key or date that would write
/// outside `--out` (or a short key, which panicked on a failing job) is refused when the
/// plan is read, with its line number, by `run`, `status` and `merge`.
#[test]
fn hostile_plan_keys_and_dates_are_refused_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "baseline:2026-03-02", &p);
    let text = fs::read_to_string(&p).unwrap();
    let escape = d.path().join("escape");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let key = first["key"].as_str().unwrap().to_string();
    let date = first["after"]["date"].as_str().unwrap().to_string();
    let cases = [
        (
            "key-escape",
            text.replacen(&key, &format!("../../../../{}/ESC", s(&escape)), 1),
        ),
        (
            "key-absolute",
            text.replacen(&key, &format!("{}/ESC", s(&escape)), 1),
        ),
        ("key-short", text.replacen(&key, "abc", 1)),
        (
            "date-escape",
            text.replace(
                &format!("\"{date}\""),
                &format!("\"../../../../{}/D\"", s(&escape)),
            ),
        ),
        (
            "date-invalid",
            text.replace(&format!("\"{date}\""), "\"2026-02-30\""),
        ),
    ];
    for (name, bad) in cases {
        let bp = d.path().join(format!("{name}.jsonl"));
        fs::write(&bp, bad).unwrap();
        let out = d.path().join(format!("out-{name}"));
        for o in [
            run(&bp, &out, &[]),
            merge(&bp, &out),
            common::run(&["status", "--plan", s(&bp), "--out", s(&out)]),
        ] {
            assert_eq!(o.status.code(), Some(2), "{name}");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains(&format!("{name}.jsonl")) && err.contains("line 1"),
                "{name}: {err}"
            );
        }
        assert!(!escape.exists(), "{name} wrote outside --out");
        assert!(!out.join("jobs").exists() || fs::read_dir(out.join("jobs")).unwrap().next().is_none());
    }
}

/// A hand-edited plan (a parameter changed, the key kept) is refused; a job file copied
/// under another job's key is refused by `merge`, which then writes nothing.
#[test]
fn edited_plans_and_swapped_job_files_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "consecutive", &p);
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains("\"margin_m\":25.0"));
    let edited = d.path().join("edited.jsonl");
    fs::write(
        &edited,
        text.replacen("\"margin_m\":25.0", "\"margin_m\":500.0", 1),
    )
    .unwrap();
    let o = run(&edited, &d.path().join("e"), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1") && err.contains("does not match"), "{err}");

    let out = d.path().join("out");
    assert!(run(&p, &out, &[]).status.success());
    let keys: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let (a, b) = (
        out.join(format!("jobs/{}.json", keys[0])),
        out.join(format!("jobs/{}.json", keys[1])),
    );
    fs::copy(&a, &b).unwrap();
    let o = merge(&p, &out);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&keys[1]) && err.contains("holds job"), "{err}");
    assert!(!out.join("pairs").exists() && !out.join("report.json").exists());
}

/// An image replaced after `plan` is refused by `run` (it would be analysed under the old
/// key and cited with the old checksum).
#[test]
fn an_image_changed_after_plan_is_refused_by_run() {
    let d = tempfile::tempdir().unwrap();
    let r = series(d.path());
    let p = d.path().join("plan.jsonl");
    plan(&r.catalog, &r.sites, "consecutive", &p);
    let img = r.catalog.parent().unwrap().join(&r.images[2]);
    let mut bytes = fs::read(&img).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    fs::write(&img, bytes).unwrap();
    let out = d.path().join("out");
    let o = run(&p, &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("changed since the plan") && err.contains(img.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
    assert!(!out.join("jobs").exists() || fs::read_dir(out.join("jobs")).unwrap().next().is_none());
}
