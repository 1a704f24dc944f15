//! The learned detector's network alone, for `scripts/bench-vs-onnxruntime`: the same
//! windows through stagewatch's forward pass here and through onnxruntime on the same
//! weights exported to ONNX (by the script, from the JSON this writes).
//!
//! ```text
//! forward_bench export MODEL OUT.json
//!     the layer list and weights (kernel `[ky][kx][cin][cout]`, then bias, per layer)
//! forward_bench windows MODEL IMAGE.tif N SIDE OUT.bin
//!     N windows of SIDE x SIDE working pixels (of MODEL) from a GeoTIFF, prepared as
//!     `detect` prepares a site (bands to a 3-channel tensor, resized from the image's pixel size
//!     to the model's working size, robust per-band stretch); f32 HWC, little-endian
//! forward_bench run MODEL WINDOWS.bin N SIDE REPS OUT.bin
//!     one forward pass (one view) per window, REPS times; prints a JSON line with the
//!     median time per window and the working-pixel rate; writes the outputs (f32 HWC)
//! ```
//! Threads: rayon's, from `RAYON_NUM_THREADS` (the script runs 1 and 2).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use stagewatch::learned::image::{resize, stretch};
use stagewatch::learned::model::Model;
use stagewatch::learned::net::{forward, Tensor};
use stagewatch::learned::to_tensor;
use stagewatch::raster::geotiff::GeoTiff;
use stagewatch::raster::{RasterSource, Window};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let r = match a.get(1).map(String::as_str) {
        Some("export") if a.len() == 4 => export(&a[2], &a[3]),
        Some("windows") if a.len() == 7 => windows(&a[2], &a[3], num(&a[4]), num(&a[5]), &a[6]),
        Some("run") if a.len() == 8 => run(&a[2], &a[3], num(&a[4]), num(&a[5]), num(&a[6]), &a[7]),
        _ => Err("usage: see the module doc of examples/forward_bench.rs".into()),
    };
    if let Err(e) = r {
        eprintln!("forward_bench: {e}");
        std::process::exit(2);
    }
}

fn num(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

type Res = Result<(), String>;

fn export(model: &str, out: &str) -> Res {
    let m = Model::load(Path::new(model)).map_err(|e| e.to_string())?;
    let json = serde_json::json!({
        "layers": m.header.layers,
        "weights": m.weights,
        "working_gsd_m": m.header.working_gsd_m,
        "output_stride": m.header.output_stride,
    });
    std::fs::write(out, json.to_string()).map_err(|e| format!("{out}: {e}"))
}

fn windows(model: &str, image: &str, n: usize, side: usize, out: &str) -> Res {
    let model = Model::load(Path::new(model)).map_err(|e| e.to_string())?;
    let src = GeoTiff::open(Path::new(image)).map_err(|e| e.to_string())?;
    let info = src.info().clone();
    let gsd_m = info.transform.0[1].abs();
    // Source pixels covering `side` working pixels.
    let src_side = ((side as f64) * model.header.working_gsd_m / gsd_m).round() as usize;
    if src_side > info.width.min(info.height) {
        return Err(format!("{image} is smaller than one {src_side}-pixel window"));
    }
    let mut bytes = Vec::with_capacity(n * side * side * 3 * 4);
    for i in 0..n {
        // Windows spread along the diagonal, deterministic.
        let off = |len: usize| (len - src_side) * (2 * i + 1) / (2 * n);
        let window = Window {
            col_off: off(info.width),
            row_off: off(info.height),
            width: src_side,
            height: src_side,
        };
        let block = src.read_window(window).map_err(|e| e.to_string())?;
        let mut x = resize(&to_tensor(&block.data), side, side);
        stretch(&mut x, &vec![true; side * side]);
        x.data
            .iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    }
    std::fs::write(out, bytes).map_err(|e| format!("{out}: {e}"))
}

fn read_f32(path: &str) -> Result<Vec<f32>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn run(model: &str, wins: &str, n: usize, side: usize, reps: usize, out: &str) -> Res {
    let m = Model::load(Path::new(model)).map_err(|e| e.to_string())?;
    let data = read_f32(wins)?;
    let px = side * side * 3;
    if data.len() != n * px {
        return Err(format!("{wins}: {} floats, expected {}", data.len(), n * px));
    }
    let inputs: Vec<Tensor> = data
        .chunks_exact(px)
        .map(|d| Tensor {
            h: side,
            w: side,
            c: 3,
            data: d.to_vec(),
        })
        .collect();
    let mut outputs = Vec::new();
    let mut per_window_s = Vec::new();
    for rep in 0..reps.max(1) {
        let t0 = Instant::now();
        let outs: Vec<Tensor> = inputs
            .iter()
            .map(|x| forward(x, &m.header.layers, &m.weights, true))
            .collect();
        per_window_s.push(t0.elapsed().as_secs_f64() / n as f64);
        if rep == 0 {
            outputs = outs;
        }
    }
    per_window_s.sort_by(f64::total_cmp);
    let median = per_window_s[per_window_s.len() / 2];
    let mut f = std::fs::File::create(out).map_err(|e| format!("{out}: {e}"))?;
    for o in &outputs {
        for v in &o.data {
            f.write_all(&v.to_le_bytes()).map_err(|e| format!("{out}: {e}"))?;
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "threads": rayon::current_num_threads(),
            "median_s_per_window": median,
            "working_mpx_per_s": (side * side) as f64 / median / 1e6,
        })
    );
    Ok(())
}
