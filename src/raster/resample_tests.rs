//! Unit tests of [`super`] on literal arrays.
use super::*;

#[test]
fn bilinear_on_literal_ramp() {
    // 3x2 band, value = 10*col + row.
    let band = ndarray::arr2(&[[0.0, 10.0, 20.0], [1.0, 11.0, 21.0]]);
    assert_eq!(bilinear(band.view(), 0.5, 0.5), 0.0);
    assert_eq!(bilinear(band.view(), 1.0, 1.0), 5.5);
    assert_eq!(bilinear(band.view(), 2.5, 1.5), 21.0);
    let nan = ndarray::arr2(&[[0.0, f32::NAN, 20.0], [1.0, 11.0, 21.0]]);
    assert!(bilinear(nan.view(), 1.0, 1.0).is_nan());
}

#[test]
fn area_average_on_literal_block() {
    let band = ndarray::arr2(&[[1.0, 3.0], [5.0, 7.0]]);
    assert_eq!(area_average(band.view(), 1.0, 1.0, 2.0), 4.0);
    let with_nan = ndarray::arr2(&[[1.0, f32::NAN], [f32::NAN, f32::NAN]]);
    assert!(area_average(with_nan.view(), 1.0, 1.0, 2.0).is_nan());
}

#[test]
fn interpolated_coordinates_match_the_exact_transform() {
    use crate::raster::GeoTransform;
    // Grids in UTM 37N read from UTM 36N (0.5 m pixels) and from WGS 84 degrees.
    let cases = [
        (32636u32, GeoTransform::north_up(700_000.0, 5_600_000.0, 0.5, 0.5)),
        (4326, GeoTransform::north_up(35.5, 50.5, 5e-6, 5e-6)),
    ];
    for (src_epsg, src_t) in cases {
        let (src_crs, grid_crs) = (Crs::from_epsg(src_epsg).unwrap(), Crs::from_epsg(32637).unwrap());
        let inv = src_t.invert().unwrap();
        // Put the grid where the source is: its corner, carried into the grid CRS.
        let (x0, y0) = Transformer::new(&src_crs, &grid_crs)
            .apply(src_t.0[0], src_t.0[3])
            .unwrap();
        let grid = Grid {
            epsg: 32637,
            transform: GeoTransform::north_up(x0 + 50.0, y0 - 50.0, 0.6, 0.6),
            width: 301,
            height: 77,
            gsd_m: 0.6,
        };
        let got = source_coords(&src_crs, &inv, &grid, &grid_crs);
        let tr = Transformer::new(&grid_crs, &src_crs);
        let mut worst = 0.0f64;
        for r in 0..grid.height {
            for c in 0..grid.width {
                let (x, y) = grid.pixel_center(c, r);
                let (sx, sy) = tr.apply(x, y).unwrap();
                let want = inv.apply(sx, sy);
                let g = got[r * grid.width + c];
                worst = worst.max((g.0 - want.0).hypot(g.1 - want.1));
            }
        }
        assert!(worst < 1e-3, "EPSG:{src_epsg}: worst error {worst} px");
    }
}

/// Grids on the source's own lattice (inside, across every edge, outside) give
/// bit for bit what the transform path gives, NaN neighbours, -0.0 and overflowing
/// differences included. The
/// grid sides (33 x 17) put the transform's knots 16 pixels apart, so its
/// interpolated positions are exact there too.
#[test]
fn a_grid_on_the_source_lattice_reads_what_the_transform_path_reads() {
    use crate::raster::in_memory::InMemory;
    use crate::raster::{DataType, GeoTransform};
    let (w, h) = (40usize, 30usize);
    let data = ndarray::Array3::from_shape_fn((2, h, w), |(b, r, c)| match (r * 7 + c * 3 + b) % 23 {
        0 => f32::NAN,
        1 => -0.0,
        2 => f32::INFINITY,
        // Neighbours whose difference overflows to infinity (and so to NaN at weight 0).
        3 => 3.0e38,
        4 => -3.0e38,
        v => v as f32 * 0.37 - 3.0,
    });
    let (x0, y0, px) = (700_000.0, 5_300_000.0, 0.5);
    let src = InMemory::new(
        "mem",
        data,
        32636,
        GeoTransform::north_up(x0, y0, px, px),
        DataType::Float32,
    );
    let crs = Crs::from_epsg(32636).unwrap();
    for (kc, kr) in [
        (3i64, 4i64),
        (0, 0),
        (-5, -3),
        (20, 20),
        (7, -10),
        (45, 2),
        (-40, -40),
    ] {
        let grid = Grid {
            epsg: 32636,
            transform: GeoTransform::north_up(x0 + kc as f64 * px, y0 - kr as f64 * px, px, px),
            width: 33,
            height: 17,
            gsd_m: px,
        };
        let t = &src.info().transform;
        assert_eq!(lattice_offset(t, &crs, &grid, &crs), Some((kc, kr)));
        let fast = resample(&src, &crs, &grid, &crs).unwrap();
        let slow = resample_transformed(&src, &crs, &grid, &crs).unwrap();
        assert_eq!(fast.window, slow.window, "offset ({kc}, {kr})");
        assert_eq!(fast.method, slow.method);
        let bits = |a: &ndarray::Array3<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(&fast.data), bits(&slow.data), "offset ({kc}, {kr})");
    }
    // Off the lattice (a fraction of a pixel, another pixel size, another CRS): none.
    let t = &src.info().transform;
    let grid = |ox: f64, p: f64| Grid {
        epsg: 32636,
        transform: GeoTransform::north_up(x0 + ox, y0, p, p),
        width: 33,
        height: 17,
        gsd_m: p,
    };
    assert_eq!(lattice_offset(t, &crs, &grid(0.25, px), &crs), None);
    assert_eq!(lattice_offset(t, &crs, &grid(0.0, 0.6), &crs), None);
    let utm37 = Crs::from_epsg(32637).unwrap();
    assert_eq!(lattice_offset(t, &crs, &grid(0.0, px), &utm37), None);
}
