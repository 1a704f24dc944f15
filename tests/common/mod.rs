//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `../shared/data` folder beside the checkout, or `None` with a printed reason.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is absent (real test data lives beside the checkout)",
            p.display()
        );
        None
    }
}

/// The stagewatch binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stagewatch"))
}

/// Runs the binary with `args`, never printing a progress bar.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("stagewatch runs")
}

/// Renders a synthetic scenario into `dir` (cached per test process by folder).
pub fn synth(scenario: &str, dir: &Path) -> stagewatch::synth::Rendered {
    stagewatch::synth::render_scenario(scenario, dir).expect("scenario renders")
}

/// Runs `compare` on a rendered scene into `out` with the classical detector: the
/// scenario targets are its own (exact on these scenes); the learned detector is
/// measured on real frames (tests/learned_real.rs).
pub fn compare(r: &stagewatch::synth::Rendered, out: &Path, extra: &[&str]) -> Output {
    compare_with(r, out, "tophat", extra)
}

/// Runs `compare` on a rendered scene into `out` with `detector`.
pub fn compare_with(r: &stagewatch::synth::Rendered, out: &Path, detector: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--quiet",
        "compare",
        "--detector",
        detector,
        "--before",
        r.before.to_str().unwrap(),
        "--after",
        r.after.to_str().unwrap(),
        "--sites",
        r.sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Every file below `dir` (sorted), recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Files of `dir` and its subfolders that look like TIFFs.
pub fn tiffs_below(dir: &Path) -> Vec<PathBuf> {
    files_below(dir)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_ascii_lowercase();
            n.ends_with(".tif") || n.ends_with(".tiff")
        })
        .collect()
}
