//! Same inputs give byte-identical outputs whatever the thread count (rayon's own
//! practice: serial and parallel results compared for equality).

mod common;

use std::fs;

#[test]
fn outputs_identical_with_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::synth("demo", &dir.path().join("scene"));
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("out{threads}"));
        let o = common::bin()
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "--quiet",
                "compare",
                "--before",
                r.before.to_str().unwrap(),
                "--after",
                r.after.to_str().unwrap(),
                "--sites",
                r.sites.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        outs.push(out);
    }
    let a = common::files_below(&outs[0]);
    let b = common::files_below(&outs[1]);
    assert_eq!(a.len(), b.len());
    assert!(
        a.len() >= 3 + 4,
        "expected report, csv, geojson and change rasters"
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            x.strip_prefix(&outs[0]).unwrap(),
            y.strip_prefix(&outs[1]).unwrap()
        );
        assert!(
            fs::read(x).unwrap() == fs::read(y).unwrap(),
            "{} differs between thread counts",
            x.display()
        );
    }
}
