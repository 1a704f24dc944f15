//! Property tests: fast implementations against simple references (imageproc's
//! practice), on random inputs.

use proptest::prelude::*;
use stagewatch::blobs::{label, Connectivity, Morph};
use stagewatch::change::{morph, opening};

/// Reference labelling: breadth-first flood fill from each unlabelled pixel in raster
/// order (so labels are numbered in order of first pixel, as `label` promises).
fn flood(mask: &[bool], w: usize, h: usize, conn: Connectivity) -> Vec<u32> {
    let mut out = vec![0u32; w * h];
    let mut next = 0;
    for start in 0..w * h {
        if !mask[start] || out[start] != 0 {
            continue;
        }
        next += 1;
        out[start] = next;
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            for (dx, dy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                if conn == Connectivity::Four && dx != 0 && dy != 0 {
                    continue;
                }
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if mask[j] && out[j] == 0 {
                    out[j] = next;
                    queue.push_back(j);
                }
            }
        }
    }
    out
}

/// Reference erosion/dilation with a (2r+1)^2 square, pixel by pixel.
fn naive_morph(mask: &[bool], w: usize, h: usize, r: usize, erode: bool) -> Vec<bool> {
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            let mut all = true;
            let mut any = false;
            for dy in -(r as isize)..=r as isize {
                for dx in -(r as isize)..=r as isize {
                    let (nx, ny) = (x + dx, y + dy);
                    let v = nx >= 0
                        && ny >= 0
                        && nx < w as isize
                        && ny < h as isize
                        && mask[ny as usize * w + nx as usize];
                    all &= v;
                    any |= v;
                }
            }
            if erode {
                all
            } else {
                any
            }
        })
        .collect()
}

fn masks() -> impl Strategy<Value = (usize, usize, Vec<bool>)> {
    (1usize..24, 1usize..24)
        .prop_flat_map(|(w, h)| (Just(w), Just(h), proptest::collection::vec(any::<bool>(), w * h)))
}

proptest! {
    #[test]
    fn union_find_labels_equal_flood_fill((w, h, mask) in masks()) {
        for conn in [Connectivity::Four, Connectivity::Eight] {
            let (l, n) = label(&mask, w, h, conn);
            let reference = flood(&mask, w, h, conn);
            prop_assert_eq!(&l, &reference);
            prop_assert_eq!(n, reference.iter().copied().max().unwrap_or(0));
        }
    }

    #[test]
    fn separable_morphology_equals_naive((w, h, mask) in masks(), r in 0usize..3) {
        for (op, erode) in [(Morph::Erode, true), (Morph::Dilate, false)] {
            prop_assert_eq!(morph(&mask, w, h, r, op), naive_morph(&mask, w, h, r, erode));
        }
        let want = naive_morph(&naive_morph(&mask, w, h, r, true), w, h, r, false);
        prop_assert_eq!(opening(&mask, w, h, r), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The fused, strip-parallel hot path equals the full-size reference (mask,
    /// opening, flood fill) whatever the strip height, and serial equals parallel.
    #[test]
    fn hot_path_matches_reference(
        w in 1usize..200,
        h in 1usize..48,
        strip_rows in 1usize..20,
        seed in any::<u64>(),
        density in 0.05f64..0.6,
    ) {
        use stagewatch::fast::{changed_blobs, changed_blobs_serial, reference_blobs, HotParams};
        let mut s = seed | 1;
        let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let a: Vec<u8> = (0..w * h).map(|_| (next() % 256) as u8).collect();
        // Changed pixels in blocks so that openings keep some of them.
        let b: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w / 3, i / w / 3);
                let hsh = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ seed;
                if (hsh >> 11) as f64 / (1u64 << 53) as f64 % 1.0 < density { a[i].wrapping_add(128) } else { a[i] }
            })
            .collect();
        let p = HotParams { threshold: 40, min_area_px: 1, max_area_px: 10_000, strip_rows };
        let want = reference_blobs(&a, &b, w, h, &p);
        prop_assert_eq!(&changed_blobs(&a, &b, w, h, &p), &want);
        prop_assert_eq!(&changed_blobs_serial(&a, &b, w, h, &p), &want);
    }
}

proptest! {
    /// van Herk / Gil-Werman grayscale morphology equals the direct definition, NaN
    /// (nodata) included, for any radius and shape.
    #[test]
    fn fast_gray_morphology_matches_reference(
        w in 1usize..40,
        h in 1usize..40,
        r in 0usize..7,
        max in any::<bool>(),
        seed in any::<u64>(),
        nan_share in 0.0f64..0.7,
    ) {
        use stagewatch::blobs::{gray_morph, gray_morph_reference};
        let mut s = seed | 1;
        let mut next = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let img: Vec<f32> = (0..w * h)
            .map(|_| {
                let v = next();
                if (v % 1000) as f64 / 1000.0 < nan_share { f32::NAN } else { (v >> 20) as f32 % 997.0 - 300.0 }
            })
            .collect();
        let op = if max { Morph::Dilate } else { Morph::Erode };
        let img = ndarray::Array2::from_shape_vec((h, w), img).unwrap();
        let got = gray_morph(img.view(), r, op);
        let want = gray_morph_reference(img.view(), r, op);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            prop_assert!(a == b || (a.is_nan() && b.is_nan()), "pixel {}: {} vs {}", i, a, b);
        }
    }
}
