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

/// The stagewatch binary under test, limited to [`CHILD_ADDRESS_SPACE_BYTES`] of
/// address space (every child of every integration test: a run that needs more must
/// fail cleanly, never abort or take the machine).
pub fn bin() -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stagewatch"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: CHILD_ADDRESS_SPACE_BYTES,
                rlim_max: CHILD_ADDRESS_SPACE_BYTES,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Longest any child of [`run`] may take before it is killed (a hang fails the test
/// instead of stalling CI).
pub const CHILD_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Runs the binary with `args` (never printing a progress bar) under the address-space
/// limit, killed after [`CHILD_TIME_LIMIT`].
pub fn run(args: &[&str]) -> Output {
    output_within(args, CHILD_TIME_LIMIT)
        .unwrap_or_else(|| panic!("stagewatch {args:?} still running after {CHILD_TIME_LIMIT:?}: killed"))
}

/// Runs the binary with `args` under the address-space limit of [`bin`], both pipes
/// drained on threads (a chatty child never blocks on a full pipe); None when it was
/// still running after `limit` and was killed.
pub fn output_within(args: &[&str], limit: std::time::Duration) -> Option<Output> {
    use std::io::Read;
    let mut child = bin()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stagewatch runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            pipe.read_to_end(&mut b).ok();
            b
        })
    };
    let t_out = drain(Box::new(child.stdout.take().unwrap()));
    let t_err = drain(Box::new(child.stderr.take().unwrap()));
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Some(Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    })
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

/// Address space every child of [`run_limited`] may map: a run that needs more must
/// fail cleanly, never abort.
pub const CHILD_ADDRESS_SPACE_BYTES: u64 = 4 << 30;

/// Runs the binary (under the address-space limit of [`bin`]), killing it after
/// `limit`; returns (exit code, stderr), None on timeout.
pub fn run_limited(args: &[&str], limit: std::time::Duration) -> Option<(Option<i32>, String)> {
    output_within(args, limit).map(|o| (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned()))
}
