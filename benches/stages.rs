//! Criterion benchmarks of each stage on generated inputs (`cargo bench --bench stages`).
//! Throughput is reported per pixel (Criterion's "elem/s") so stages compare directly.
//! Ratios against OpenCV and the decode ceiling come from `scripts/bench-vs-opencv`.

use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array3;

use stagewatch::align::coreg::{estimate_shift, CoregParams};
use stagewatch::align::radiometry::{fit_band, RadiometryParams};
use stagewatch::blobs::{detect, label, measure, top_hat, Connectivity, DetectParams, Polarity};
use stagewatch::change::{change_magnitude, detect_change, opening, ChangeParams};
use stagewatch::fast::{bench_pair, changed_blobs, changed_blobs_serial, HotParams};
use stagewatch::raster::decode::{decompress, Codec};

/// A smooth textured field with `n` bright rectangles, `[band, row, col]`.
fn scene(w: usize, h: usize, bands: usize, shift: f64, gain: f32) -> Array3<f32> {
    Array3::from_shape_fn((bands, h, w), |(b, r, c)| {
        let (x, y) = (c as f64 + shift, r as f64 + shift * 0.5);
        let v = 80.0
            + 30.0 * ((x * 0.21).sin() * (y * 0.17).cos())
            + 10.0 * ((x * 0.05 + y * 0.07).sin())
            + b as f64 * 5.0;
        let vehicle = (c / 24) % 7 == 3 && (r / 14) % 9 == 4 && c % 24 < 12 && r % 14 < 6;
        (if vehicle { v + 90.0 } else { v }) as f32 * gain
    })
}

fn tile_decode(c: &mut Criterion) {
    let (a, _) = bench_pair(256, 4);
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&a).unwrap();
    let z = e.finish().unwrap();
    let mut g = c.benchmark_group("tile_decode");
    g.throughput(Throughput::Elements(a.len() as u64));
    g.bench_function("deflate_256x256_byte", |b| {
        b.iter(|| decompress(Codec::Deflate, &z, a.len()).unwrap())
    });
    g.finish();
}

fn coregistration_and_normalisation(c: &mut Criterion) {
    let (w, h) = (256, 256);
    let a = scene(w, h, 1, 0.0, 1.0);
    let b = scene(w, h, 1, 1.6, 1.1);
    let valid = vec![true; w * h];
    let (ra, rb) = (a.as_slice().unwrap(), b.as_slice().unwrap());
    let mut g = c.benchmark_group("align");
    g.throughput(Throughput::Elements((w * h) as u64));
    g.bench_function("coregistration_256", |bch| {
        let (va, vb) = (
            a.index_axis(ndarray::Axis(0), 0),
            b.index_axis(ndarray::Axis(0), 0),
        );
        bch.iter(|| estimate_shift(va, vb, &valid, &CoregParams::default()))
    });
    g.bench_function("radiometric_fit_256", |bch| {
        bch.iter(|| fit_band(ra, rb, &valid, &RadiometryParams::default()))
    });
    g.finish();
}

fn change(c: &mut Criterion) {
    let (w, h) = (512, 512);
    let a = scene(w, h, 3, 0.0, 1.0);
    let b = scene(w, h, 3, 0.0, 1.05);
    let valid = vec![true; w * h];
    let mut g = c.benchmark_group("change");
    g.throughput(Throughput::Elements((w * h) as u64));
    g.bench_function("magnitude_3band_512", |bch| {
        bch.iter(|| change_magnitude(&a, &b, &valid))
    });
    g.bench_function("magnitude_threshold_opening_512", |bch| {
        bch.iter(|| detect_change(&a, &b, &valid, &ChangeParams::default()))
    });
    let mask: Vec<bool> = change_magnitude(&a, &b, &valid)
        .iter()
        .map(|v| *v > 1.0)
        .collect();
    g.bench_function("opening_3x3_bool_512", |bch| bch.iter(|| opening(&mask, w, h, 1)));
    g.finish();
}

/// Both detectors on the same 3-band 512x512 scene at 0.5 m, in one group, so their
/// Mpx/s (and the ratio) come from the same run. Criterion runs single-threaded here
/// only when RAYON_NUM_THREADS=1 is set.
fn detectors(c: &mut Criterion) {
    let (w, h) = (512, 512);
    let img = scene(w, h, 3, 0.0, 1.0);
    let valid = vec![true; w * h];
    let mut g = c.benchmark_group("detector");
    g.throughput(Throughput::Elements((w * h) as u64));
    g.bench_function("tophat_512_at_0.5m", |bch| {
        bch.iter(|| detect(&img, &valid, 0.5, &DetectParams::tophat()))
    });
    g.bench_function("learned_512_at_0.5m", |bch| {
        bch.iter(|| stagewatch::detector::detect(&img, &valid, 0.5, &DetectParams::default()))
    });
    g.finish();
}

/// One training sample's network work (forward with activations kept, backward with
/// the weight gradient) on a 96x96 patch of the shipped architecture: the part of a
/// training step that `conv`'s and `direct`'s kernels decide.
fn training_sample(c: &mut Criterion) {
    use stagewatch::learned::net::{backward_all, forward_all, Tensor};
    let layers = stagewatch::learned::train::architecture(32);
    let n_w: usize = layers.iter().map(|l| l.n_params()).sum();
    let weights: Vec<f32> = (0..n_w)
        .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.1)
        .collect();
    let img = scene(96, 96, 3, 0.0, 1.0);
    let x = stagewatch::learned::to_tensor(&img);
    let mut g = c.benchmark_group("train");
    g.throughput(Throughput::Elements(96 * 96));
    g.bench_function("forward_backward_96", |bch| {
        bch.iter(|| {
            let outs = forward_all(&x, &layers, &weights, false);
            let last = outs.last().expect("layers");
            let dlast = Tensor {
                data: last.data.iter().map(|v| v * 0.01).collect(),
                ..last.clone()
            };
            backward_all(&x, &outs, dlast, &layers, &weights)
        })
    });
    g.finish();
}

fn morphology_and_components(c: &mut Criterion) {
    let (w, h) = (512, 512);
    let img = scene(w, h, 1, 0.0, 1.0);
    let band = img.index_axis(ndarray::Axis(0), 0);
    let mut g = c.benchmark_group("blobs");
    g.throughput(Throughput::Elements((w * h) as u64));
    for r in [5, 9] {
        g.bench_with_input(BenchmarkId::new("top_hat_512", r), &r, |bch, &r| {
            bch.iter(|| top_hat(band, r, Polarity::Bright))
        });
    }
    let mask: Vec<bool> = top_hat(band, 5, Polarity::Bright)
        .iter()
        .map(|v| *v > 40.0)
        .collect();
    g.bench_function("label_and_measure_512", |bch| {
        bch.iter(|| {
            let (labels, n) = label(&mask, w, h, Connectivity::Eight);
            measure(&labels, n, w)
        })
    });
    let valid = vec![true; w * h];
    g.bench_function("detect_candidates_and_filter_512", |bch| {
        bch.iter(|| detect(&img, &valid, 0.5, &DetectParams::tophat()))
    });
    g.finish();
}

fn hot_path(c: &mut Criterion) {
    let n = 2048;
    let (a, b) = bench_pair(n, 250);
    let p = HotParams::default();
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements((n * n) as u64));
    g.bench_with_input(BenchmarkId::new("fused_serial", n), &n, |bch, _| {
        bch.iter(|| changed_blobs_serial(&a, &b, n, n, &p))
    });
    g.bench_with_input(BenchmarkId::new("fused_parallel", n), &n, |bch, _| {
        bch.iter(|| changed_blobs(&a, &b, n, n, &p))
    });
    g.finish();
}

fn compare_end_to_end(c: &mut Criterion) {
    use stagewatch::blobs::VehicleClass;
    use stagewatch::pipeline::{run_compare, CompareArgs};
    use stagewatch::raster::Backend;
    use stagewatch::settings::Settings;
    let dir = tempfile::tempdir().unwrap();
    let size = 8192;
    let archive = stagewatch::synth::archive::render_archive(&dir.path().join("a"), size, 20).unwrap();
    let args = CompareArgs {
        before: archive.images[0].clone(),
        after: archive.images[1].clone(),
        sites: archive.sites.clone(),
        out: dir.path().join("out"),
        before_date: None,
        after_date: None,
        before_mask: None,
        after_mask: None,
        settings: Settings::for_class(VehicleClass::Military),
        backend: Backend::PureRust,
        progress: false,
        html: stagewatch::pipeline::Html::Write,
    };
    // Resampling: a 512 x 512 grid at 0.6 m in the neighbouring UTM zone (reprojection
    // and bilinear interpolation, tile reads included) from the archive's first image.
    {
        use stagewatch::raster::crs::Crs;
        use stagewatch::raster::grid::Grid;
        use stagewatch::raster::resample::resample;
        use stagewatch::raster::GeoTransform;
        let src = stagewatch::raster::open(&archive.images[0], Backend::PureRust).unwrap();
        let src_crs = Crs::from_epsg(src.info().epsg).unwrap();
        let t = src.info().transform.0;
        let (cx, cy) = (t[0] + 1000.0, t[3] - 1000.0);
        let grid_crs = Crs::from_epsg(32635).unwrap();
        let (gx, gy) = stagewatch::raster::crs::Transformer::new(&src_crs, &grid_crs)
            .apply(cx, cy)
            .unwrap();
        let grid = Grid {
            epsg: 32635,
            transform: GeoTransform::north_up(gx - 150.0, gy + 150.0, 0.6, 0.6),
            width: 512,
            height: 512,
            gsd_m: 0.6,
        };
        let mut g = c.benchmark_group("resample");
        g.throughput(Throughput::Elements(512 * 512));
        g.bench_function("reproject_bilinear_512", |bch| {
            bch.iter(|| resample(src.as_ref(), &src_crs, &grid, &grid_crs).unwrap())
        });
        g.finish();
    }
    let mut g = c.benchmark_group("compare");
    g.sample_size(10);
    g.bench_function("archive_8192_20_sites", |bch| {
        bch.iter(|| run_compare(&args).unwrap())
    });
    g.finish();
}

criterion_group!(
    stages,
    detectors,
    training_sample,
    tile_decode,
    coregistration_and_normalisation,
    change,
    morphology_and_components,
    hot_path,
    compare_end_to_end
);
criterion_main!(stages);
