//! The hot path streamed from GeoTIFFs equals the in-memory hot path on the same pixels:
//! tiled DEFLATE with edge tiles and extra bands, tiled uncompressed, striped files, any
//! strip height and thread count; unsuitable files are refused naming the file.

use std::path::Path;

use stagewatch::fast::tiff::{changed_blobs_files, inflate_only, TiffPair};
use stagewatch::fast::{bench_pair, changed_blobs, HotParams};
use stagewatch::raster::write::{write_geotiff, GeoMeta, Samples};
use stagewatch::raster::write_tiled::{write_tiled_u8_with, TileCompression};
use stagewatch::raster::GeoTransform;

fn meta() -> GeoMeta {
    GeoMeta {
        epsg: 32636,
        transform: GeoTransform::north_up(500_000.0, 5_600_000.0, 0.5, 0.5),
        nodata: None,
        datetime: None,
    }
}

/// Writes band 1 = `img` (w x h) tiled, with `bands` bands (the others are noise).
fn tiled(path: &Path, img: &[u8], w: usize, h: usize, bands: usize, tile: usize, c: TileCompression) {
    write_tiled_u8_with(path, (w, h, bands, tile), c, &meta(), |tx, ty, buf| {
        for r in 0..tile {
            for col in 0..tile {
                let (x, y) = (tx * tile + col, ty * tile + r);
                for band in 0..bands {
                    buf[(r * tile + col) * bands + band] = if x >= w || y >= h {
                        0
                    } else if band == 0 {
                        img[y * w + x]
                    } else {
                        (x * 7 + y * 13 + band * 101) as u8
                    };
                }
            }
        }
    })
    .unwrap();
}

#[test]
fn streamed_equals_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 700 x 700: not a multiple of the tile size, so edge tiles are partial.
    let n = 700;
    let (a, b) = bench_pair(n, 120);
    let p = HotParams::default();
    let want = changed_blobs(&a, &b, n, n, &p);
    assert!(want.len() > 80, "the pair has vehicles: {}", want.len());
    let cases = [
        ("deflate3", 3, 128, TileCompression::Deflate),
        ("raw1", 1, 64, TileCompression::None),
    ];
    for (name, bands, tile, c) in cases {
        let (pa, pb) = (
            dir.path().join(format!("{name}_a.tif")),
            dir.path().join(format!("{name}_b.tif")),
        );
        tiled(&pa, &a, n, n, bands, tile, c);
        tiled(&pb, &b, n, n, bands, tile, c);
        let pair = TiffPair::open(&pa, &pb).unwrap();
        for strip_rows in [8, 100, 300] {
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let q = HotParams { strip_rows, ..p };
                let got = pool.install(|| changed_blobs_files(&pair, &q)).unwrap();
                assert_eq!(got, want, "{name}, strips of {strip_rows}, {threads} threads");
            }
        }
        assert!(inflate_only(&pair, 64).unwrap() > 0);
        if bands == 3 {
            // Band 2 is the same in both files: nothing changed there.
            let band2 = TiffPair::open_band(&pa, &pb, 2).unwrap();
            assert!(changed_blobs_files(&band2, &p).unwrap().is_empty());
            let e = TiffPair::open_band(&pa, &pb, 4)
                .err()
                .expect("no band 4")
                .to_string();
            assert!(e.contains("band 4") && e.contains(name), "{e}");
        }
    }
    // Striped (the default layout of the general writer).
    let (pa, pb) = (dir.path().join("s_a.tif"), dir.path().join("s_b.tif"));
    write_geotiff(&pa, n, n, 1, Samples::U8(&a), &meta()).unwrap();
    write_geotiff(&pb, n, n, 1, Samples::U8(&b), &meta()).unwrap();
    let pair = TiffPair::open(&pa, &pb).unwrap();
    assert_eq!(changed_blobs_files(&pair, &p).unwrap(), want);
}

#[test]
fn unsuitable_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = bench_pair(100, 3);
    let (pa, pb) = (dir.path().join("narrow_tiles.tif"), dir.path().join("b.tif"));
    tiled(&pa, &a, 100, 100, 1, 32, TileCompression::Deflate);
    tiled(&pb, &b, 100, 100, 1, 64, TileCompression::Deflate);
    let e = TiffPair::open(&pa, &pb)
        .err()
        .expect("32-pixel tiles refused")
        .to_string();
    assert!(e.contains("narrow_tiles.tif") && e.contains("64"), "{e}");
    let pc = dir.path().join("small.tif");
    tiled(&pc, &a[..64 * 64], 64, 64, 1, 64, TileCompression::Deflate);
    let e = TiffPair::open(&pb, &pc)
        .err()
        .expect("size mismatch refused")
        .to_string();
    assert!(e.contains("small.tif") && e.contains("differs"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn striped_deflate_with_horizontal_predictor() {
    use tiff::encoder::{colortype::Gray8, compression::DeflateLevel, Compression, Predictor, TiffEncoder};
    let dir = tempfile::tempdir().unwrap();
    let n = 300;
    let (a, b) = bench_pair(n, 30);
    let write = |path: &Path, img: &[u8]| {
        let f = std::fs::File::create(path).unwrap();
        TiffEncoder::new(f)
            .unwrap()
            .with_predictor(Predictor::Horizontal)
            .with_compression(Compression::Deflate(DeflateLevel::Balanced))
            .write_image::<Gray8>(n as u32, n as u32, img)
            .unwrap();
    };
    let (pa, pb) = (dir.path().join("p_a.tif"), dir.path().join("p_b.tif"));
    write(&pa, &a);
    write(&pb, &b);
    let pair = TiffPair::open(&pa, &pb).unwrap();
    let p = HotParams::default();
    let want = changed_blobs(&a, &b, n, n, &p);
    assert!(want.len() > 20);
    assert_eq!(changed_blobs_files(&pair, &p).unwrap(), want);
}

#[test]
fn declared_nodata_is_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let n = 400;
    let (a, mut b) = bench_pair(n, 30);
    // Vehicle-sized holes of nodata (0) in the after image.
    for k in 0..12 {
        let (x0, y0) = (20 + 30 * k, 15 + 29 * k);
        for y in y0..y0 + 12 {
            for x in x0..x0 + 18 {
                b[y * n + x] = 0;
            }
        }
    }
    // Every pixel equal to the nodata value (the holes, and any vehicle pixel that
    // saturated to 0) counts as unchanged.
    let healed: Vec<u8> = b
        .iter()
        .zip(&a)
        .map(|(&bv, &av)| if bv == 0 { av } else { bv })
        .collect();
    let p = HotParams::default();
    let holes_seen = changed_blobs(&a, &b, n, n, &p);
    let want = changed_blobs(&a, &healed, n, n, &p);
    assert!(
        holes_seen.len() >= want.len() + 5,
        "{} vs {}",
        holes_seen.len(),
        want.len()
    );
    let with_nodata = GeoMeta {
        nodata: Some(0.0),
        ..meta()
    };
    let (pa, pb) = (dir.path().join("a.tif"), dir.path().join("b.tif"));
    write_geotiff(&pa, n, n, 1, Samples::U8(&a), &meta()).unwrap();
    write_geotiff(&pb, n, n, 1, Samples::U8(&b), &with_nodata).unwrap();
    let pair = TiffPair::open(&pa, &pb).unwrap();
    assert_eq!(changed_blobs_files(&pair, &p).unwrap(), want);
}
