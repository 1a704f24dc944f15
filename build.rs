//! Build script: a source identity for batch job keys. Job outputs are keyed by their
//! inputs, parameters and the code that computed them, so that a resumed or repeated
//! run never reuses results of different analysis code. The identity is an FNV-1a hash
//! of every file under `src/` (path and contents, in sorted order) and of `Cargo.lock`:
//! identical on every machine building the same source.

use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let mut paths = Vec::new();
    files(Path::new("src"), &mut paths);
    paths.push(PathBuf::from("Cargo.lock"));
    paths.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for p in &paths {
        let rel = p.to_string_lossy().replace('\\', "/");
        feed(rel.as_bytes());
        feed(&fs::read(p).unwrap_or_default());
    }
    println!("cargo:rustc-env=STAGEWATCH_SOURCE_ID={h:016x}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
}
