//! Unit tests of [`super`] on literal arrays.
use super::*;

#[test]
fn labels_eight_vs_four() {
    #[rustfmt::skip]
    let m = [
        true,  false, false,
        false, true,  false,
        false, false, true,
    ];
    assert_eq!(label(&m, 3, 3, Connectivity::Eight).1, 1);
    assert_eq!(label(&m, 3, 3, Connectivity::Four).1, 3);
    // A U shape merges two provisional labels.
    #[rustfmt::skip]
    let u = [
        true, false, true,
        true, false, true,
        true, true,  true,
    ];
    let (l, n) = label(&u, 3, 3, Connectivity::Four);
    assert_eq!(n, 1);
    assert!(l.iter().zip(&u).all(|(&l, &m)| (l == 1) == m));
}

#[test]
fn rectangle_moments_give_exact_length_and_width() {
    let (w, h) = (20, 10);
    let mut m = vec![false; w * h];
    for y in 2..6 {
        for x in 3..15 {
            m[y * w + x] = true;
        }
    }
    let (l, n) = label(&m, w, h, Connectivity::Eight);
    let s = measure(&l, n, w);
    assert_eq!(s[0].area_px, 48);
    assert!((s[0].len_px - 12.0).abs() < 1e-9 && (s[0].wid_px - 4.0).abs() < 1e-9);
    assert_eq!((s[0].cx, s[0].cy, s[0].angle), (9.0, 4.0, 0.0));
}

#[test]
fn finds_dark_vehicle_rejects_big_dark_area_and_round_blob() {
    // 0.5 m pixels, bright gravel 200 with texture.
    let (w, h) = (120, 80);
    let mut b = vec![0.0f32; w * h];
    for (i, v) in b.iter_mut().enumerate() {
        *v = 200.0 + ((i * 2654435761usize) % 7) as f32;
    }
    // A vehicle 7 m x 3 m (14 x 6 px) of value 60.
    for y in 10..16 {
        for x in 10..24 {
            b[y * w + x] = 60.0;
        }
    }
    // A dark field 20 m wide: not a vehicle.
    for y in 40..80 {
        for x in 0..40 {
            b[y * w + x] = 70.0;
        }
    }
    // A round crown 5 m across.
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f64 - 90.0, y as f64 - 20.0);
            if dx * dx + dy * dy < 25.0 {
                b[y * w + x] = 50.0;
            }
        }
    }
    let img = Array3::from_shape_vec((1, h, w), b).unwrap();
    let blobs = detect(&img, &vec![true; w * h], 0.5, &DetectParams::tophat());
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!((blobs[0].length_m - 7.0).abs() < 0.01 && (blobs[0].area_m2 - 21.0).abs() < 0.01);
    assert_eq!(blobs[0].polarity, Polarity::Dark);
}
