//! With `--features gdal`: the change rasters `compare` writes are Cloud Optimized
//! GeoTIFFs as GDAL sees them: `IMAGE_STRUCTURE` metadata `LAYOUT=COG`, tiled, with
//! internal overviews, georeferenced and with the same pixels as the pure-Rust reader.
#![cfg(feature = "gdal")]

use gdal::{Dataset, Metadata};
use stagewatch::raster::cog::write_cog_f32;
use stagewatch::raster::write::GeoMeta;
use stagewatch::raster::GeoTransform;

#[test]
fn gdal_sees_a_cog_with_overviews() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("change.tif");
    let (w, h) = (700, 520);
    let px: Vec<f32> = (0..w * h * 2)
        .map(|i| {
            if (i / 2) % 311 == 0 {
                f32::NAN
            } else {
                ((i / 2) % 255) as f32 * 0.1
            }
        })
        .collect();
    let meta = GeoMeta {
        epsg: 32636,
        transform: GeoTransform::north_up(300000.0, 5330000.0, 0.5, 0.5),
        nodata: Some(f64::NAN),
        datetime: None,
    };
    write_cog_f32(&p, (w, h, 2), &px, &meta, &["change_magnitude", "change_mask"]).unwrap();
    let ds = Dataset::open(&p).unwrap();
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG"),
        "GDAL does not recognise the COG layout"
    );
    assert_eq!(ds.raster_size(), (w, h));
    assert_eq!(ds.geo_transform().unwrap(), meta.transform.0);
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.block_size(), (256, 256), "tiled");
    // 350x260 and 175x130: two overviews.
    assert_eq!(band.overview_count().unwrap(), 2);
    let ov = band.overview(0).unwrap();
    assert_eq!(ov.size(), (350, 260));
    assert_eq!(band.description().unwrap(), "change_magnitude");
    let full = band.read_as::<f32>((0, 0), (w, h), (w, h), None).unwrap();
    let ours: Vec<f32> = px.iter().step_by(2).copied().collect();
    let same = full
        .data()
        .iter()
        .zip(&ours)
        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
    assert!(same, "pixels differ under GDAL");
}
