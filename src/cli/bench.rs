//! `stagewatch bench-hotpath` (hidden; driven by `scripts/bench-vs-opencv`): throughput
//! of the hot path on a generated pair, in memory and streamed from GeoTIFFs, on 1 and
//! 2 threads, with the inflate-only ceiling of the same files and the peak memory each
//! stage adds. Prints one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::fast::tiff::{changed_blobs_files, inflate_only, TiffPair};
use crate::fast::{bench_pair, changed_blobs, HotParams};
use crate::raster::write::GeoMeta;
use crate::raster::write_tiled::{write_tiled_u8_with, TileCompression};
use crate::raster::GeoTransform;

/// Resident and peak resident memory of this process in KiB (`/proc/self/status`).
fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs `f` `repeats` times on a pool of `threads`; best time, the peak memory it added
/// above what was resident before (the peak is reset through `/proc/self/clear_refs`),
/// and its last result.
fn timed<T: Send>(threads: usize, repeats: usize, f: impl Fn() -> Result<T> + Sync) -> Result<(f64, f64, T)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (before, _) = rss_kib();
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = pool.install(&f)?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    let (_, peak) = rss_kib();
    let added_mib = peak.saturating_sub(before) as f64 / 1024.0;
    Ok((best, added_mib, last.expect("ran at least once")))
}

fn entry(pixels: usize, seconds: f64, added_mib: f64, extra: Value) -> Value {
    json!({
        "seconds": seconds,
        "mpx_per_s": pixels as f64 / seconds / 1e6,
        "peak_added_mib": added_mib,
        "result": extra,
    })
}

fn write_pair(dir: &Path, size: usize, a: &[u8], b: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::fsutil::write_atomic(&dir.join("before.u8"), a)?;
    crate::fsutil::write_atomic(&dir.join("after.u8"), b)?;
    let meta = GeoMeta {
        epsg: 32636,
        transform: GeoTransform::north_up(500_000.0, 5_600_000.0, 0.5, 0.5),
        nodata: None,
        datetime: None,
    };
    let tile = 256;
    for (name, img) in [("before", a), ("after", b)] {
        for (suffix, c) in [("", TileCompression::Deflate), ("_raw", TileCompression::None)] {
            let path = dir.join(format!("{name}{suffix}.tif"));
            write_tiled_u8_with(&path, (size, size, 1, tile), c, &meta, |tx, ty, buf| {
                buf.fill(0);
                for r in 0..tile.min(size.saturating_sub(ty * tile)) {
                    let (y, x0) = (ty * tile + r, tx * tile);
                    let n = tile.min(size - x0);
                    buf[r * tile..r * tile + n].copy_from_slice(&img[y * size + x0..y * size + x0 + n]);
                }
            })?;
        }
    }
    Ok(())
}

fn files(dir: &Path, suffix: &str, repeats: usize, p: &HotParams, want: usize) -> Result<Value> {
    let pair = TiffPair::open(
        &dir.join(format!("before{suffix}.tif")),
        &dir.join(format!("after{suffix}.tif")),
    )?;
    let (w, h) = pair.size();
    let mut out = Map::new();
    for threads in [1usize, 2] {
        let (s, m, sum) = timed(threads, repeats, || inflate_only(&pair, p.strip_rows))?;
        out.insert(format!("inflate_only_{threads}"), entry(w * h, s, m, json!(sum)));
        let (s, m, blobs) = timed(threads, repeats, || changed_blobs_files(&pair, p))?;
        if blobs.len() != want {
            return Err(Error::Usage(format!(
                "streamed path found {} blobs, in memory {want}",
                blobs.len()
            )));
        }
        out.insert(
            format!("stream_{threads}"),
            entry(w * h, s, m, json!(blobs.len())),
        );
    }
    Ok(Value::Object(out))
}

/// Memory-read ceiling of the in-memory path: both inputs are read once, 8 bytes at a
/// time, over the same strips, with nothing but an XOR-sum done on them.
fn read_ceiling(a: &[u8], b: &[u8], w: usize, strip_rows: usize) -> u64 {
    use rayon::prelude::*;
    let strip = w * strip_rows.max(1);
    a.par_chunks(strip)
        .zip(b.par_chunks(strip))
        .map(|(x, y)| {
            x.chunks_exact(8)
                .zip(y.chunks_exact(8))
                .fold(0u64, |acc, (p, q)| {
                    let (p, q) = (
                        u64::from_le_bytes(p.try_into().expect("8")),
                        u64::from_le_bytes(q.try_into().expect("8")),
                    );
                    acc.wrapping_add(p ^ q)
                })
        })
        .reduce(|| 0, u64::wrapping_add)
}

/// Hot-path benchmark (used by scripts/bench-vs-opencv): prints JSON.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 8192)]
    pub size: usize,
    #[arg(long, default_value_t = 4000)]
    pub vehicles: usize,
    /// Also write the pair here (raw bytes before.u8/after.u8, tiled DEFLATE
    /// before.tif/after.tif, tiled uncompressed before_raw.tif/after_raw.tif) and
    /// time the streamed path and inflate-only reads on those files.
    #[arg(long)]
    pub write_raw: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
}

/// The `bench-hotpath` command.
pub fn run(a: Args) -> Result<ExitCode> {
    let Args {
        size,
        vehicles,
        write_raw,
        repeats,
    } = a;
    let (a, b) = bench_pair(size, vehicles);
    let p = HotParams::default();
    let mut out = Map::new();
    out.insert("size".into(), json!(size));
    out.insert("vehicles".into(), json!(vehicles));
    let mut n_blobs = 0;
    for threads in [1usize, 2] {
        let (s, m, blobs) = timed(threads, repeats, || Ok(changed_blobs(&a, &b, size, size, &p)))?;
        n_blobs = blobs.len();
        let changed: u64 = blobs.iter().map(|b| b.area as u64).sum();
        out.insert(
            format!("memory_{threads}"),
            entry(
                size * size,
                s,
                m,
                json!({"blobs": blobs.len(), "blob_px": changed}),
            ),
        );
    }
    for threads in [1usize, 2] {
        let (s, m, x) = timed(threads, repeats, || Ok(read_ceiling(&a, &b, size, p.strip_rows)))?;
        out.insert(
            format!("read_ceiling_{threads}"),
            entry(size * size, s, m, json!(x)),
        );
    }
    if let Some(dir) = write_raw {
        write_pair(&dir, size, &a, &b)?;
        drop((a, b));
        out.insert("deflate".into(), files(&dir, "", repeats, &p, n_blobs)?);
        out.insert("uncompressed".into(), files(&dir, "_raw", repeats, &p, n_blobs)?);
    }
    println!("{}", Value::Object(out));
    Ok(ExitCode::SUCCESS)
}
