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
    use std::io::Read;
    let mut child = bin()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stagewatch runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        out.read_to_end(&mut b).ok();
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        err.read_to_end(&mut b).ok();
        b
    });
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > CHILD_TIME_LIMIT {
            child.kill().ok();
            panic!("stagewatch {args:?} still running after {CHILD_TIME_LIMIT:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
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
    use std::io::Read;
    let mut cmd = bin();
    cmd.args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Drain stderr on a thread so a chatty child never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut err = String::new();
        stderr.read_to_string(&mut err).ok();
        err
    });
    let t0 = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status.code(), reader.join().unwrap()));
        }
        if t0.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
