//! Debug view of the learned detector on one window of a GeoTIFF: writes the stretched
//! working-size input (PPM, prepared as `detect` prepares a site) and the heat map over
//! the model's views (PGM, probability x 255), and prints the peaks above the threshold.
//!
//! ```text
//! heat_dump MODEL IMAGE.tif COL ROW SIZE OUT_PREFIX
//! ```
use std::path::Path;

use stagewatch::learned::model::Model;
use stagewatch::learned::{peaks, prepare, views};
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
    let valid = vec![true; size * size];
    let x = prepare(&block.data, &valid, gsd_m, &model).expect("a window with pixels");
    let h = &model.header;
    let out = views::forward_views(&x, &h.layers, &model.weights, h.output_stride, h.views);
    let mut ppm = format!("P6\n{} {}\n255\n", x.w, x.h).into_bytes();
    ppm.extend(
        x.data
            .iter()
            .map(|v| ((v * 0.5 + 0.5).clamp(0.0, 1.0) * 255.0) as u8),
    );
    std::fs::write(format!("{}_in.ppm", a[6]), ppm).unwrap();
    let heat: Vec<f32> = out
        .data
        .iter()
        .step_by(out.c)
        .map(|z| 1.0 / (1.0 + (-z).exp()))
        .collect();
    let mut pgm = format!("P5\n{} {}\n255\n", out.w, out.h).into_bytes();
    pgm.extend(heat.iter().map(|p| (255.0 * p) as u8));
    std::fs::write(format!("{}_heat.pgm", a[6]), pgm).unwrap();
    let p = peaks(&out, h.threshold);
    println!(
        "{} peaks above {} ; max heat {:.3}",
        p.len(),
        h.threshold,
        heat.iter().copied().fold(0.0f32, f32::max)
    );
}
