//! With `--features gdal`: on every GeoTIFF of `../shared/data/geotiff/` that the
//! pure-Rust reader accepts, GDAL gives the same size, bands, EPSG code, geotransform,
//! nodata and pixels, whole and as sampled rows.
#![cfg(feature = "gdal")]

mod common;

use stagewatch::raster::gdal_reader::GdalRaster;
use stagewatch::raster::geotiff::GeoTiff;
use stagewatch::raster::{read_all, RasterSource};

#[test]
fn pure_reader_and_gdal_agree_on_shared_geotiffs() {
    let Some(dir) = common::shared_data("geotiff") else {
        return;
    };
    let mut compared = Vec::new();
    for f in common::tiffs_below(&dir) {
        let Ok(ours) = GeoTiff::open(&f) else {
            continue;
        };
        let gdal = GdalRaster::open(&f).unwrap_or_else(|e| panic!("GDAL cannot open {}: {e}", f.display()));
        let (a, b) = (ours.info(), gdal.info());
        assert_eq!(
            (a.width, a.height, a.bands),
            (b.width, b.height, b.bands),
            "{}",
            f.display()
        );
        assert_eq!(a.epsg, b.epsg, "{}", f.display());
        assert_eq!(a.data_type, b.data_type, "{}", f.display());
        for (x, y) in a.transform.0.iter().zip(b.transform.0.iter()) {
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                "{}: {:?} vs {:?}",
                f.display(),
                a.transform,
                b.transform
            );
        }
        match (a.nodata, b.nodata) {
            (Some(x), Some(y)) => assert!(x == y || (x.is_nan() && y.is_nan()), "{}", f.display()),
            (x, y) => assert_eq!(x.is_some(), y.is_some(), "{}", f.display()),
        }
        let pa = read_all(&ours).unwrap();
        let pb = read_all(&gdal).unwrap();
        let same = pa
            .data
            .iter()
            .zip(pb.data.iter())
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
        assert!(same, "{}: pixels differ", f.display());
        // Sampled rows (the report's quicklook): both readers override `read_rows`.
        let rows: Vec<usize> = (0..a.height).step_by(7).collect();
        let (ra, rb) = (ours.read_rows(&rows).unwrap(), gdal.read_rows(&rows).unwrap());
        let same_rows = ra
            .iter()
            .zip(rb.iter())
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
        assert!(
            same_rows && ra.dim() == rb.dim(),
            "{}: sampled rows differ",
            f.display()
        );
        compared.push(f.file_name().unwrap().to_string_lossy().into_owned());
    }
    eprintln!("identical under both readers: {}", compared.join(", "));
    assert!(compared.len() >= 10, "only {} files compared", compared.len());
}

#[test]
fn gdal_reads_the_real_sentinel2_jpeg2000() {
    let Some(dir) = common::shared_data("sentinel2-pair") else {
        return;
    };
    let g = GdalRaster::open(&dir.join("ref_S2A_20160608T153121_T33UUU_sub.jp2")).unwrap();
    assert_eq!(g.info().epsg, 32633);
    let e = GeoTiff::open(&dir.join("ref_S2A_20160608T153121_T33UUU_sub.jp2")).unwrap_err();
    assert!(
        e.to_string().contains("JPEG2000") && e.to_string().contains("--features gdal"),
        "{e}"
    );
}
