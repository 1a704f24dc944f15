//! Every fuzzer-found malformed TIFF gives an error or a result: never a panic, a hang
//! (10 s limit per file) or more than 1 GiB of address space (`ulimit -v`).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_limited(args: &[&str]) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_stagewatch"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err, start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            return (None, "timed out".into(), start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn malformed_tiffs_fail_cleanly() {
    let Some(dir) = common::shared_data("tiff-malformed") else {
        return;
    };
    let files = common::tiffs_below(&dir);
    assert!(
        files.len() >= 100,
        "expected the fuzz corpus, found {}",
        files.len()
    );
    let mut outcomes = [0usize; 2];
    for f in &files {
        let p = f.to_str().unwrap();
        for extra in [&["--reader", "rust"][..], &["--pixels-only"][..]] {
            let mut args = vec!["info", "--read", p];
            args.extend_from_slice(extra);
            let (code, err, took) = run_limited(&args);
            assert!(
                matches!(code, Some(0) | Some(2)),
                "{p} {extra:?}: exit {code:?} after {took:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{p}: {err}");
            if code == Some(2) {
                assert_eq!(err.trim_end().lines().count(), 1, "{p}: {err}");
                assert!(err.contains(p), "{p}: error does not name the file: {err}");
                outcomes[1] += 1;
            } else {
                outcomes[0] += 1;
            }
        }
    }
    eprintln!(
        "malformed corpus: {} files, {} reads succeeded, {} refused",
        files.len(),
        outcomes[0],
        outcomes[1]
    );
}
