//! Tests of the pure-Rust GeoTIFF reader's helpers and row reads.
use super::*;
use crate::raster::GeoTransform;

#[test]
fn read_rows_equals_one_row_windows_for_tiles_and_strips() {
    use crate::raster::write::{write_geotiff, GeoMeta, Samples};
    use crate::raster::write_tiled::write_tiled_u8;
    let dir = tempfile::tempdir().unwrap();
    let meta = GeoMeta {
        epsg: 32636,
        transform: GeoTransform::north_up(300000.0, 5330000.0, 0.5, 0.5),
        nodata: None,
        datetime: None,
    };
    let (w, h) = (70, 53);
    let tiled = dir.path().join("t.tif");
    write_tiled_u8(&tiled, w, h, 3, 32, &meta, |tx, ty, buf: &mut [u8]| {
        for (i, v) in buf.iter_mut().enumerate() {
            *v = ((tx * 31 + ty * 17 + i * 7) % 251) as u8;
        }
    })
    .unwrap();
    let strips = dir.path().join("s.tif");
    let px: Vec<u16> = (0..w * h * 2).map(|i| (i * 13 % 6007) as u16).collect();
    write_geotiff(&strips, w, h, 2, Samples::U16(&px), &meta).unwrap();
    for p in [&tiled, &strips] {
        let g = GeoTiff::open(p).unwrap();
        let rows = [0, 5, 31, 32, 33, 52];
        let got = g.read_rows(&rows).unwrap();
        for (i, &r) in rows.iter().enumerate() {
            let win = g
                .read_window(Window {
                    col_off: 0,
                    row_off: r,
                    width: w,
                    height: 1,
                })
                .unwrap();
            assert_eq!(
                got.slice(ndarray::s![.., i, ..]),
                win.data.slice(ndarray::s![.., 0, ..]),
                "{} row {r}",
                p.display()
            );
        }
        assert!(g.read_rows(&[5, 3]).is_err() && g.read_rows(&[h]).is_err());
    }
}

#[test]
fn nodata_strings() {
    assert_eq!(parse_nodata("0"), Some(0.0));
    assert_eq!(parse_nodata(" -3.4e+38 "), Some(-3.4e38));
    assert!(parse_nodata("nan").unwrap().is_nan());
    assert_eq!(parse_nodata("abc"), None);
}

#[test]
fn nodata_maps_to_nan() {
    let v = to_f32(&[0.0, 5.0, 0.0, 7.0], Some(0.0));
    assert!(v[0].is_nan() && v[2].is_nan());
    assert_eq!(v[1], 5.0);
    let v = to_f32(&[-3.4e38_f32 as f64, 1.5], Some(-3.4e38_f32 as f64));
    assert!(v[0].is_nan());
}

/// A decoder's failure keeps the decoder's error as the source (for callers that walk
/// the chain), and the message stays one line naming the file.
#[test]
fn a_broken_header_keeps_the_decoder_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.tif");
    // A little-endian TIFF signature whose first IFD lies past the end of the file.
    std::fs::write(&path, [b'I', b'I', 42, 0, 0xff, 0xff, 0, 0, 1, 2, 3, 4]).unwrap();
    let e = GeoTiff::open(&path).expect_err("a broken file is refused");
    assert!(matches!(e, Error::NotRaster { source: Some(_), .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&path.display().to_string()) && !msg.contains('\n'),
        "{msg}"
    );
    assert!(std::error::Error::source(&e).is_some());
}
