//! Debug view of the learned detector on one window of a GeoTIFF: writes the stretched
//! working-size input (PPM) and the four-view heat map (PGM, probability x 255).
//!
//! ```text
//! heat_dump MODEL IMAGE.tif COL ROW SIZE OUT_PREFIX
//! ```
use std::path::Path;

use stagewatch::learned::image::{resize, stretch};
use stagewatch::learned::model::Model;
use stagewatch::learned::{peaks, to_tensor, views};
use stagewatch::raster::geotiff::GeoTiff;
use stagewatch::raster::{RasterSource, Window};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    assert!(
        a.len() == 7,
        "usage: heat_dump MODEL IMAGE COL ROW SIZE OUT_PREFIX"
    );
    let n = |s: &str| s.parse::<usize>().expect("number");
    let model = if a[1] == "shipped" {
        (*Model::shipped()).clone()
    } else {
        Model::load(Path::new(&a[1])).expect("model")
    };
    let src = GeoTiff::open(Path::new(&a[2])).expect("image");
    let gsd_m = src.info().transform.0[1].abs();
    let size = n(&a[5]);
    let block = src
        .read_window(Window {
            col_off: n(&a[3]),
            row_off: n(&a[4]),
            width: size,
            height: size,
        })
        .expect("window");
    let side = ((size as f64) * gsd_m / model.header.working_gsd_m).round() as usize;
    let mut x = resize(&to_tensor(&block.data), side, side);
    stretch(&mut x, &vec![true; side * side]);
    let h = &model.header;
    let out = views::forward_views(&x, &h.layers, &model.weights, h.output_stride, h.views);
    let mut ppm = format!("P6\n{side} {side}\n255\n").into_bytes();
    ppm.extend(
        x.data
            .iter()
            .map(|v| ((v * 0.5 + 0.5).clamp(0.0, 1.0) * 255.0) as u8),
    );
    std::fs::write(format!("{}_in.ppm", a[6]), ppm).unwrap();
    let mut pgm = format!("P5\n{} {}\n255\n", out.w, out.h).into_bytes();
    pgm.extend((0..out.h * out.w).map(|i| {
        let z = out.data[i * out.c];
        (255.0 / (1.0 + (-z).exp())) as u8
    }));
    std::fs::write(format!("{}_heat.pgm", a[6]), pgm).unwrap();
    let p = peaks(&out, h.threshold);
    println!(
        "{} peaks above {} ; max heat {:.3}",
        p.len(),
        h.threshold,
        out.data
            .iter()
            .step_by(out.c)
            .map(|z| 1.0 / (1.0 + (-z).exp()))
            .fold(0.0f32, f32::max)
    );
}
