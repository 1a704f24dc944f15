//! Quicklook chips of a site: before and after on the site grid, reduced to at most
//! [`MAX_CHIP_PX`] a side, stretched alike ([`super::stretch`]), the polygon outlined
//! and every counted vehicle ringed; a vehicle without a counterpart on the other date
//! (greedy one-to-one matching by distance, within half the longer vehicle's length,
//! at least [`MIN_MATCH_M`]) is ringed thicker in its own colour. Two overlays, the
//! change mask and the pixels not observed on both dates, are transparent PNGs of the
//! same size for the report's toggles.

use ndarray::Array3;

use super::draw::{outline, overlay, ring, Canvas, ARRIVED, CHANGE, GONE, MATCHED, OUTLINE, UNOBSERVED};
use super::stretch::{pooled_limits, reduce, reduction_factor, to_rgba};
use crate::blobs::Blob;

/// Longest side of a chip, pixels.
pub const MAX_CHIP_PX: usize = 512;
/// Smallest distance within which two vehicles of the two dates are the same, metres.
pub const MIN_MATCH_M: f64 = 1.5;

/// What the chips are drawn from, all on the site grid (`width` x `height`, row-major).
pub struct ChipInput<'a> {
    pub before: &'a Array3<f32>,
    /// The after date, normalised onto the before date's radiometry.
    pub after: &'a Array3<f32>,
    pub clear_before: &'a [bool],
    pub clear_after: &'a [bool],
    /// Pixel centre inside the site polygon.
    pub inside: &'a [bool],
    pub change_mask: Option<&'a [bool]>,
    pub blobs_before: &'a [Blob],
    pub blobs_after: &'a [Blob],
    pub gsd_m: f64,
}

/// The rendered chips of a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Chips {
    pub before: Canvas,
    pub after: Canvas,
    /// Change mask overlay (None when no change was computed).
    pub change: Option<Canvas>,
    /// Pixels not observed on both dates.
    pub unobserved: Canvas,
    /// Grid pixels per chip pixel.
    pub factor: usize,
}

/// Which vehicles of `a` and `b` have a counterpart on the other date: pairs closer
/// than their radius, taken nearest first (ties in input order), each vehicle in at
/// most one pair. `radius(i, j)` is the match distance of `a[i]` and `b[j]`.
pub fn counterparts(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    radius: impl Fn(usize, usize) -> f64,
) -> (Vec<bool>, Vec<bool>) {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, p) in a.iter().enumerate() {
        for (j, q) in b.iter().enumerate() {
            let d = (p.0 - q.0).hypot(p.1 - q.1);
            if d <= radius(i, j) {
                pairs.push((d, i, j));
            }
        }
    }
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut ma, mut mb) = (vec![false; a.len()], vec![false; b.len()]);
    for (_, i, j) in pairs {
        if !ma[i] && !mb[j] {
            ma[i] = true;
            mb[j] = true;
        }
    }
    (ma, mb)
}

/// Any of each `k` x `k` block.
fn reduce_mask(mask: &[bool], w: usize, h: usize, k: usize) -> Vec<bool> {
    let (rw, rh) = (w.div_ceil(k), h.div_ceil(k));
    let mut out = vec![false; rw * rh];
    for r in 0..h {
        for c in 0..w {
            if mask[r * w + c] {
                out[(r / k) * rw + c / k] = true;
            }
        }
    }
    out
}

/// Renders the chips of a site.
pub fn render_chips(x: &ChipInput) -> Chips {
    let (_, h, w) = x.before.dim();
    let k = reduction_factor(w, h, MAX_CHIP_PX);
    let all = vec![true; w * h];
    let (rb, ra) = (reduce(x.before, &all, k).0, reduce(x.after, &all, k).0);
    // Limits from clear pixels only: a bright cloud must not darken the ground.
    let (_, lim_b) = reduce(x.before, x.clear_before, k);
    let (_, lim_a) = reduce(x.after, x.clear_after, k);
    let (rw, rh) = (w.div_ceil(k), h.div_ceil(k));
    let limits = pooled_limits(&[(&rb, &lim_b), (&ra, &lim_a)], 3);
    let inside = reduce_mask(x.inside, w, h, k);
    let canvas = |img: &Array3<f32>| {
        let mut c = Canvas {
            width: rw,
            height: rh,
            rgba: to_rgba(img, &limits),
        };
        outline(&mut c, &inside, OUTLINE);
        c
    };
    let (mut before, mut after) = (canvas(&rb), canvas(&ra));
    let centre = |b: &Blob| (b.col, b.row);
    let pb: Vec<(f64, f64)> = x.blobs_before.iter().map(centre).collect();
    let pa: Vec<(f64, f64)> = x.blobs_after.iter().map(centre).collect();
    let (mb, ma) = counterparts(&pb, &pa, |i, j| {
        (0.5 * x.blobs_before[i].length_m.max(x.blobs_after[j].length_m)).max(MIN_MATCH_M) / x.gsd_m
    });
    let kf = k as f64;
    for (c, blobs, matched, lone) in [
        (&mut before, x.blobs_before, &mb, GONE),
        (&mut after, x.blobs_after, &ma, ARRIVED),
    ] {
        for (b, m) in blobs.iter().zip(matched.iter()) {
            let radius = (0.6 * b.length_m / x.gsd_m / kf).max(3.0);
            let (colour, thick) = if *m { (MATCHED, 1.0) } else { (lone, 2.0) };
            ring(c, b.col / kf, b.row / kf, radius, thick, colour);
        }
    }
    let not_seen: Vec<bool> = x
        .clear_before
        .iter()
        .zip(x.clear_after)
        .map(|(b, a)| !(*b && *a))
        .collect();
    Chips {
        before,
        after,
        change: x
            .change_mask
            .map(|m| overlay(rw, rh, &reduce_mask(m, w, h, k), CHANGE)),
        unobserved: overlay(rw, rh, &reduce_mask(&not_seen, w, h, k), UNOBSERVED),
        factor: k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::Polarity;

    fn blob(col: f64, row: f64) -> Blob {
        Blob {
            col,
            row,
            area_px: 10,
            area_m2: 10.0,
            length_m: 6.0,
            width_m: 2.5,
            polarity: Polarity::Dark,
        }
    }

    #[test]
    fn counterparts_pair_each_vehicle_at_most_once_nearest_first() {
        let a = [(0.0, 0.0), (10.0, 0.0), (50.0, 50.0)];
        let b = [(1.0, 0.0), (10.5, 0.0), (0.5, 0.0)];
        let (ma, mb) = counterparts(&a, &b, |_, _| 2.0);
        // a0 takes b2 (0.5 away), a1 takes b1; b0 is left: a0 is already paired.
        assert_eq!(ma, vec![true, true, false]);
        assert_eq!(mb, vec![false, true, true]);
        let (ma, mb) = counterparts(&a, &[], |_, _| 2.0);
        assert_eq!((ma, mb), (vec![false; 3], vec![]));
    }

    #[test]
    fn a_vehicle_gone_is_ringed_in_the_gone_colour() {
        let (w, h) = (40, 20);
        let before = Array3::from_elem((3, h, w), 100.0f32);
        let after = before.clone();
        let all = vec![true; w * h];
        let bb = [blob(10.5, 10.5), blob(30.5, 10.5)];
        let ba = [blob(10.5, 10.5)];
        let chips = render_chips(&ChipInput {
            before: &before,
            after: &after,
            clear_before: &all,
            clear_after: &all,
            inside: &all,
            change_mask: None,
            blobs_before: &bb,
            blobs_after: &ba,
            gsd_m: 0.5,
        });
        assert_eq!(chips.factor, 1);
        assert_eq!((chips.before.width, chips.before.height), (w, h));
        let has = |c: &Canvas, x0: usize, x1: usize, col: [u8; 4]| {
            (0..h).any(|y| (x0..x1).any(|x| c.get(x, y) == col))
        };
        assert!(has(&chips.before, 0, 20, MATCHED) && !has(&chips.before, 0, 20, GONE));
        assert!(
            has(&chips.before, 20, 40, GONE),
            "the vehicle that left stands out"
        );
        assert!(has(&chips.after, 0, 20, MATCHED) && !has(&chips.after, 0, 40, ARRIVED));
        assert!(chips.change.is_none());
        assert!(chips.unobserved.rgba.iter().all(|&v| v == 0), "all observed");
    }

    #[test]
    fn large_sites_are_reduced_and_the_same_ground_looks_the_same_on_both_dates() {
        let (w, h) = (1030, 300);
        let before = Array3::from_shape_fn((3, h, w), |(b, r, c)| (b * 10 + (r + c) % 50) as f32);
        let after = before.clone();
        let all = vec![true; w * h];
        let mut cloud = all.clone();
        cloud[..w * 10].iter_mut().for_each(|v| *v = false);
        let change: Vec<bool> = (0..w * h).map(|i| i % w < 5).collect();
        let chips = render_chips(&ChipInput {
            before: &before,
            after: &after,
            clear_before: &all,
            clear_after: &cloud,
            inside: &all,
            change_mask: Some(&change),
            blobs_before: &[],
            blobs_after: &[],
            gsd_m: 0.5,
        });
        assert_eq!(chips.factor, 3);
        assert_eq!((chips.before.width, chips.before.height), (344, 100));
        assert_eq!(chips.before, chips.after);
        let ch = chips.change.unwrap();
        assert_eq!((ch.get(0, 50), ch.get(2, 50)), (CHANGE, [0; 4]));
        assert_eq!(
            (chips.unobserved.get(5, 0), chips.unobserved.get(5, 50)),
            (UNOBSERVED, [0; 4])
        );
    }
}
