//! Says, in the ordinary `cargo test` output, which real-data tests run and which skip.
//!
//! Tests on `../shared/data/` return early (and pass) when the folder is absent, and
//! libtest hides what a passing test prints; this target has no test harness
//! (`harness = false` in Cargo.toml), so its lines always show.

use std::path::Path;

/// (folder under `../shared/data`, the tests that need it)
const NEEDS: &[(&str, &str)] = &[
    (
        "aerial-vehicles",
        "learned_real (shipped model on held-aside frames, painted-out withdrawal)",
    ),
    (
        "geotiff",
        "real_data (pure reader vs. reference pixels), gdal_parity (--features gdal)",
    ),
    (
        "tiff-malformed",
        "real_data (malformed TIFFs give one-line errors)",
    ),
    (
        "sentinel2-pair",
        "sentinel2_coreg (shift on the real Sentinel-2 pair)",
    ),
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    for (sub, tests) in NEEDS {
        let p = root.join(sub);
        if p.is_dir() {
            println!("real data: {} present: {tests} run", p.display());
        } else {
            println!("real data: SKIPPED {tests}: {} is absent", p.display());
        }
    }
}
