//! Withdrawal from real imagery: a labelled frame is the before date; the after date is
//! the same frame with a seeded 60 % of its labelled vehicles painted out. Each removed
//! vehicle's box, grown by a quarter of its size on every side to take most of its
//! shadow, is filled by transfinite (Coons) interpolation of the box's border pixels
//! (Gordon & Hall 1973), so no hole or edge is left. Both dates are counted by the
//! detector and the counts go through the evidence model exactly as in `compare`.

use ndarray::Array3;

use super::detect_blobs;
use super::frames::{Entry, LBox};
use super::measure::Presented;
use super::model::Model;
use super::rng::SplitMix64;
use crate::blobs::VehicleClass;
use crate::error::Result;
use crate::evidence::{site_evidence, EvidenceParams, SiteInput, Verdict};

/// Picks `round(fraction * n)` of `n` boxes to remove (seeded shuffle).
pub fn choose_removed(n: usize, fraction: f64, seed: u64) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    let k = (fraction * n as f64).round() as usize;
    let mut out = vec![false; n];
    for &i in &idx[..k.min(n)] {
        out[i] = true;
    }
    out
}

/// Fills the rectangle `[x0, x1) x [y0, y1)` of every band from its border pixels.
pub fn coons_fill(img: &mut Array3<f32>, x0: usize, y0: usize, x1: usize, y1: usize) {
    let (bands, h, w) = img.dim();
    if x0 == 0 || y0 == 0 || x1 >= w || y1 >= h || x1 <= x0 || y1 <= y0 {
        // Keep one pixel of border on every side to interpolate from.
        let (a, b) = (x0.max(1), y0.max(1));
        let (c, d) = (x1.min(w.saturating_sub(1)), y1.min(h.saturating_sub(1)));
        if c > a && d > b && (a, b, c, d) != (x0, y0, x1, y1) {
            coons_fill(img, a, b, c, d);
        }
        return;
    }
    let (l, r, t, btm) = (x0 - 1, x1, y0 - 1, y1);
    for band in 0..bands {
        let v = |img: &Array3<f32>, y: usize, x: usize| img[[band, y, x]];
        let (c00, c10, c01, c11) = (v(img, t, l), v(img, t, r), v(img, btm, l), v(img, btm, r));
        for y in y0..y1 {
            let ty = (y - t) as f32 / (btm - t) as f32;
            for x in x0..x1 {
                let tx = (x - l) as f32 / (r - l) as f32;
                let lr = (1.0 - tx) * v(img, y, l) + tx * v(img, y, r);
                let tb = (1.0 - ty) * v(img, t, x) + ty * v(img, btm, x);
                let corners = (1.0 - tx) * (1.0 - ty) * c00
                    + tx * (1.0 - ty) * c10
                    + (1.0 - tx) * ty * c01
                    + tx * ty * c11;
                img[[band, y, x]] = lr + tb - corners;
            }
        }
    }
}

/// The after image: `img` with the `removed` boxes (pixel centre, sides at `gsd_m`)
/// painted out, each over its own box grown by 25 %.
///
/// Until the thirteenth session the painted patch was a square of the longer side on
/// both axes: beside a car parked side by side (pitch about 2.5 m) it reached over most
/// of the neighbour, so the remaining "truth" counted vehicles half painted away (at
/// 0.5 m, 68 of 492 remaining KIT vehicles had their centre painted over).
pub fn paint_out(img: &Array3<f32>, boxes: &[LBox], removed: &[bool], gsd_m: f64) -> Array3<f32> {
    let mut out = img.clone();
    let (_, h, w) = img.dim();
    for (b, _) in boxes.iter().zip(removed).filter(|(_, r)| **r) {
        let (long, short) = (
            0.5 * b.len_m as f64 / gsd_m * 1.25,
            0.5 * b.short_m as f64 / gsd_m * 1.25,
        );
        let (half_x, half_y) = if b.horizontal {
            (long, short)
        } else {
            (short, long)
        };
        let clampi = |v: f64, n: usize| v.round().clamp(0.0, n as f64) as usize;
        let (x0, x1) = (clampi(b.x as f64 - half_x, w), clampi(b.x as f64 + half_x, w));
        let (y0, y1) = (clampi(b.y as f64 - half_y, h), clampi(b.y as f64 + half_y, h));
        coons_fill(&mut out, x0, y0, x1, y1);
    }
    out
}

/// What a painted-out withdrawal gave.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WithdrawalResult {
    pub frame: String,
    pub gsd_m: f64,
    pub truth_before: usize,
    pub truth_after: usize,
    pub counted_before: u32,
    pub counted_after: u32,
    pub true_remaining: f64,
    pub remaining_estimate: f64,
    pub remaining_low: f64,
    pub remaining_high: f64,
    pub verdict: Verdict,
}

/// Evidence for counts `before`/`after` over `area_km2` fully observed.
pub fn evidence_of(
    frame: &str,
    before: u32,
    after: u32,
    area_km2: f64,
    p: &EvidenceParams,
) -> (Verdict, [f64; 3]) {
    let s = SiteInput {
        id: frame.to_string(),
        weight: 1.0,
        lon_lat: (0.0, 0.0),
        before,
        after,
        before_on_date: before,
        observed_before: 1.0,
        observed_after: 1.0,
        observed_area_km2: area_km2,
        coregistration_unreliable: false,
        gsd_too_coarse: false,
        changed_fraction: 0.0,
        analysed: true,
    };
    let e = site_evidence(&s, p);
    let r = e
        .remaining_fraction
        .map(|r| [r.estimate, r.low, r.high])
        .unwrap_or([f64::NAN; 3]);
    (e.verdict, r)
}

/// The painted-out withdrawal on one entry at `gsd_m` (None = native); None when the
/// frame (or its complete region) holds fewer than `min_vehicles` labelled vehicles.
pub fn on_entry(
    e: &Entry,
    gsd_m: Option<f64>,
    model: &Model,
    p: &EvidenceParams,
    min_vehicles: usize,
) -> Result<Option<WithdrawalResult>> {
    let f = Presented::load(e, gsd_m)?;
    let (img, boxes, g) = (&f.img, &f.boxes, f.gsd_m);
    let inside_idx: Vec<usize> = (0..boxes.len())
        .filter(|&i| f.inside(boxes[i].x as f64, boxes[i].y as f64))
        .collect();
    if inside_idx.len() < min_vehicles {
        return Ok(None);
    }
    let name = f.name.clone();
    let pick = choose_removed(
        inside_idx.len(),
        0.6,
        crate::evidence::posterior::seed_of(&name, 60),
    );
    let mut removed = vec![false; boxes.len()];
    for (k, &i) in inside_idx.iter().enumerate() {
        removed[i] = pick[k];
    }
    let after = paint_out(img, boxes, &removed, g);
    let valid = f.all_valid();
    let count = |im: &Array3<f32>| {
        detect_blobs(im, &valid, g, model, VehicleClass::Any)
            .iter()
            .filter(|b| f.inside(b.col, b.row))
            .count() as u32
    };
    let (cb, ca) = (count(img), count(&after));
    let (verdict, r) = evidence_of(&name, cb, ca, f.area_km2(), p);
    let n_after = inside_idx.len() - pick.iter().filter(|&&x| x).count();
    Ok(Some(WithdrawalResult {
        frame: name,
        gsd_m: g,
        truth_before: inside_idx.len(),
        truth_after: n_after,
        counted_before: cb,
        counted_after: ca,
        true_remaining: n_after as f64 / inside_idx.len() as f64,
        remaining_estimate: r[0],
        remaining_low: r[1],
        remaining_high: r[2],
        verdict,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coons_fill_reproduces_a_plane() {
        let mut img = Array3::from_shape_fn((1, 10, 12), |(_, y, x)| 2.0 * x as f32 + 3.0 * y as f32);
        let want = img.clone();
        img.slice_mut(ndarray::s![.., 3..7, 4..9]).fill(0.0);
        coons_fill(&mut img, 4, 3, 9, 7);
        for (a, b) in img.iter().zip(want.iter()) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    /// Two cars side by side (4.5 x 2 m, pitch 2.5 m, at 0.25 m): painting out one
    /// leaves every pixel of the other's box as it was, and paints over the removed one.
    #[test]
    fn painting_out_spares_a_packed_neighbour() {
        let img = Array3::from_shape_fn((1, 40, 40), |(_, y, x)| {
            let car = |cx: usize| (x as isize - cx as isize).abs() <= 4 && (y as isize - 20).abs() <= 9;
            if car(15) || car(25) {
                50.0
            } else {
                1.0
            }
        });
        let car = |x: f32| LBox {
            x,
            y: 20.0,
            len_m: 4.5,
            short_m: 2.0,
            horizontal: false,
        };
        let out = paint_out(&img, &[car(15.0), car(25.0)], &[true, false], 0.25);
        assert!(
            out[[0, 20, 15]] < 10.0,
            "removed car still there: {}",
            out[[0, 20, 15]]
        );
        for y in 11..=29 {
            for x in 21..=29 {
                assert_eq!(out[[0, y, x]], img[[0, y, x]], "neighbour touched at ({x}, {y})");
            }
        }
    }

    #[test]
    fn removes_the_requested_share() {
        let r = choose_removed(50, 0.6, 7);
        assert_eq!(r.iter().filter(|&&x| x).count(), 30);
        assert_eq!(r, choose_removed(50, 0.6, 7));
    }
}
