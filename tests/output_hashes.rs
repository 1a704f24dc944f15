//! Byte-for-byte guard for restructurings (issue 13, "no behaviour change"): every
//! output file of `compare` on every built-in scenario (both detectors) and of
//! `timeline` on the five-date series, plus the rendered scenes themselves, is hashed
//! (SHA-256) and compared with `tests/output_hashes.txt`, written by the build before
//! the change.
//!
//! Commands run inside one temporary folder with relative paths, so no temporary path
//! reaches a report, and with `--reader rust`, so a build with GDAL (whose default
//! reader is GDAL, recorded in `parameters.reader`) checks the same bytes. The hashes hold for one machine and toolchain (floating-point
//! results of `libm` and of the compiler's vectorisation may differ elsewhere); CI runs
//! on the project's own machine. A deliberate change of outputs (a new model, a new
//! field) is recorded by rerunning with `STAGEWATCH_BLESS_HASHES=1`, which rewrites the
//! file; the commit then shows which outputs changed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

const HASH_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/output_hashes.txt");

fn run_in(cwd: &Path, args: &[&str]) {
    let o = common::bin().current_dir(cwd).args(args).output().unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn compare(cwd: &Path, name: &str, detector: &str) {
    let scene = format!("{name}/scene");
    let out = format!("{name}/out-{detector}");
    run_in(
        cwd,
        &[
            "--quiet",
            "compare",
            "--reader",
            "rust",
            "--detector",
            detector,
            "--before",
            &format!("{scene}/before.tif"),
            "--after",
            &format!("{scene}/after.tif"),
            "--sites",
            &format!("{scene}/sites.geojson"),
            "--out",
            &out,
        ],
    );
}

fn timeline(cwd: &Path, detector: &str) {
    run_in(
        cwd,
        &[
            "--quiet",
            "timeline",
            "--reader",
            "rust",
            "--detector",
            detector,
            "--images",
            "series/scene/catalog.csv",
            "--sites",
            "series/scene/sites.geojson",
            "--out",
            &format!("series/out-{detector}"),
        ],
    );
}

/// Renders and analyses everything, returning `relative path -> sha256 hex`.
fn hash_all(root: &Path) -> BTreeMap<String, String> {
    let names: Vec<&str> = stagewatch::synth::SCENARIOS
        .iter()
        .chain(stagewatch::synth::PARK_SCENARIOS)
        .copied()
        .collect();
    for name in &names {
        stagewatch::synth::render_scenario(name, &root.join(name).join("scene")).unwrap();
        for detector in ["learned", "tophat"] {
            compare(root, name, detector);
        }
    }
    stagewatch::synth::series::render_series("withdrawal-series", &root.join("series/scene")).unwrap();
    for detector in ["learned", "tophat"] {
        timeline(root, detector);
    }
    common::files_below(root)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            let digest = Sha256::digest(fs::read(&p).unwrap());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            (rel, hex)
        })
        .collect()
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (h, p) = l.split_once("  ").expect("`<sha256>  <path>` lines");
            (p.to_string(), h.to_string())
        })
        .collect()
}

#[test]
fn every_output_matches_the_stored_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let now = hash_all(dir.path());
    if std::env::var_os("STAGEWATCH_BLESS_HASHES").is_some() {
        let mut text = String::from(
            "# SHA-256 of every output of tests/output_hashes.rs (sha256sum format);\n\
             # rewrite with STAGEWATCH_BLESS_HASHES=1 cargo test --release --test output_hashes\n",
        );
        for (p, h) in &now {
            text.push_str(&format!("{h}  {p}\n"));
        }
        fs::write(HASH_FILE, text).unwrap();
        return;
    }
    let stored = parse(&fs::read_to_string(HASH_FILE).expect("tests/output_hashes.txt"));
    assert!(now.len() > 200, "only {} files hashed", now.len());
    let mut diffs = Vec::new();
    for (p, h) in &stored {
        match now.get(p) {
            None => diffs.push(format!("missing: {p}")),
            Some(x) if x != h => diffs.push(format!("differs: {p}")),
            _ => {}
        }
    }
    for p in now.keys().filter(|p| !stored.contains_key(*p)) {
        diffs.push(format!("new: {p}"));
    }
    assert!(
        diffs.is_empty(),
        "{} of {} outputs differ from tests/output_hashes.txt:\n{}",
        diffs.len(),
        stored.len(),
        diffs.join("\n")
    );
}
