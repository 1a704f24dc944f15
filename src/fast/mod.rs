//! The hot path, fused and streamed: a Byte image pair to a list of changed blobs with
//! statistics, without ever materialising a full-size mask, pixel copy or label image.
//!
//! Rows are processed in strips (rayon over strips). Each strip's rows become a
//! bit-packed change mask (absolute difference > threshold, 64 pixels per word, SIMD;
//! see [`bits`]), are opened with a 3x3 erosion then dilation on whole words, and are
//! labelled by **run-based connected-component labelling** with statistics per run
//! (`label`, after Light Speed Labeling, Cabaret et al. 2016). The opening of a row
//! needs the mask rows two above and two below, so each strip labels its interior and
//! keeps its first and last four mask rows; the bands around strip borders are opened
//! and labelled afterwards from those rows, and all segments are joined by the runs of
//! adjacent rows. Memory is bounded by the strip size (one bit per pixel of a strip,
//! plus runs). Results are ordered by each blob's first pixel in raster order, so serial
//! and parallel runs give identical lists.
//!
//! [`changed_blobs`] works on pairs in memory; [`tiff::changed_blobs_files`] streams
//! the same computation from tiled or striped GeoTIFFs, decoding tiles in parallel with
//! libdeflate. The pipeline is the one OpenCV users write (absdiff, threshold, 3x3
//! opening, connectedComponentsWithStats, area filter); `scripts/bench-vs-opencv`
//! compares the two.

use rayon::prelude::*;

pub mod bench;
pub mod bits;
mod label;
mod reference;
pub mod tiff;

pub use bench::bench_pair;
pub use reference::reference_blobs;

use crate::error::Result;
use bits::{diff_bits, Band};
use label::{finish, open_and_label};

/// Tunables of the hot path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotParams {
    /// A pixel changed when |after - before| exceeds this.
    pub threshold: u8,
    /// Blobs kept: area in pixels within these bounds (inclusive).
    pub min_area_px: u32,
    pub max_area_px: u32,
    /// Rows per strip of parallel work (at least [`MIN_STRIP_ROWS`]).
    pub strip_rows: usize,
}

impl Default for HotParams {
    fn default() -> Self {
        HotParams {
            threshold: 40,
            min_area_px: 20,
            max_area_px: 2000,
            strip_rows: 128,
        }
    }
}

/// Shortest strip: its first and last four rows are kept for the border bands.
pub const MIN_STRIP_ROWS: usize = 8;

/// One blob of changed pixels (a connected component of the opened change mask): area,
/// bounding box (inclusive) and centroid. Not a vehicle: [`crate::blobs::Blob`] is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangedBlob {
    pub area: u32,
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    pub cx: f64,
    pub cy: f64,
}

/// Splits `h` rows into strips of `step` rows (a multiple of `align`, at least
/// [`MIN_STRIP_ROWS`]); a short last strip is merged into the one before.
pub fn strip_bounds(h: usize, step: usize, align: usize) -> Vec<(usize, usize)> {
    let align = align.max(1);
    let step = step.max(MIN_STRIP_ROWS).div_ceil(align) * align;
    let mut v: Vec<(usize, usize)> = (0..h.div_ceil(step))
        .map(|i| (i * step, ((i + 1) * step).min(h)))
        .collect();
    if v.len() >= 2 {
        let (r0, r1) = v[v.len() - 1];
        if r1 - r0 < MIN_STRIP_ROWS {
            v.pop();
            v.last_mut().expect("two strips").1 = r1;
        }
    }
    v
}

/// Labels an image `w` x `h` whose change mask is produced strip by strip:
/// `fill(r0, r1, band)` sets the mask bits of rows `[r0, r1)` in `band` (all zero on
/// entry). Strips run in parallel on the current rayon pool.
pub fn label_strips<F>(
    w: usize,
    h: usize,
    bounds: &[(usize, usize)],
    p: &HotParams,
    fill: F,
) -> Result<Vec<ChangedBlob>>
where
    F: Fn(usize, usize, &mut Band) -> Result<()> + Sync,
{
    let parts = bounds
        .par_iter()
        .map(|&(r0, r1)| {
            let mut band = Band::zeros(w, r0, r1 - r0);
            fill(r0, r1, &mut band)?;
            let o0 = if r0 == 0 { 0 } else { r0 + 2 };
            let o1 = if r1 == h { h } else { r1 - 2 };
            let seg = open_and_label(&band, h, o0, o1);
            let top = (r0 > 0).then(|| band.slice(r0, r0 + 4));
            let bottom = (r1 < h).then(|| band.slice(r1 - 4, r1));
            Ok((seg, top, bottom))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut segments = Vec::with_capacity(parts.len() * 2);
    let mut prev_bottom: Option<Band> = None;
    for (seg, top, bottom) in parts {
        if let (Some(pb), Some(t)) = (prev_bottom.take(), top) {
            let b = t.lo;
            segments.push(open_and_label(&pb.concat(&t), h, b - 2, b + 2));
        }
        segments.push(seg);
        prev_bottom = bottom;
    }
    Ok(finish(segments, p))
}

fn fill_from_memory<'a>(
    a: &'a [u8],
    b: &'a [u8],
    w: usize,
    t: u8,
) -> impl Fn(usize, usize, &mut Band) -> Result<()> + Sync + 'a {
    move |r0, r1, band| {
        for r in r0..r1 {
            diff_bits(&a[r * w..(r + 1) * w], &b[r * w..(r + 1) * w], t, band.row_mut(r));
        }
        Ok(())
    }
}

/// Changed blobs of a Byte pair (`w` x `h`, one band, row-major), in parallel over
/// strips on the current rayon pool.
///
/// ```
/// use stagewatch::fast::{changed_blobs, HotParams};
/// let (w, h) = (32, 16);
/// let before = vec![50u8; w * h];
/// let mut after = before.clone();
/// for y in 4..9 {
///     for x in 10..20 {
///         after[y * w + x] = 200; // a 10 x 5 vehicle appears
///     }
/// }
/// let blobs = changed_blobs(&before, &after, w, h, &HotParams::default());
/// assert_eq!(blobs.len(), 1);
/// assert_eq!((blobs[0].area, blobs[0].cx, blobs[0].cy), (50, 14.5, 6.0));
/// ```
pub fn changed_blobs(a: &[u8], b: &[u8], w: usize, h: usize, p: &HotParams) -> Vec<ChangedBlob> {
    assert_eq!(a.len(), w * h, "before has w*h bytes");
    assert_eq!(b.len(), w * h, "after has w*h bytes");
    let bounds = strip_bounds(h, p.strip_rows, 1);
    label_strips(w, h, &bounds, p, fill_from_memory(a, b, w, p.threshold))
        .expect("in-memory fill cannot fail")
}

/// The same as one strip on the calling thread (the serial reference).
pub fn changed_blobs_serial(a: &[u8], b: &[u8], w: usize, h: usize, p: &HotParams) -> Vec<ChangedBlob> {
    assert_eq!(a.len(), w * h, "before has w*h bytes");
    assert_eq!(b.len(), w * h, "after has w*h bytes");
    label_strips(w, h, &[(0, h)], p, fill_from_memory(a, b, w, p.threshold))
        .expect("in-memory fill cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rectangles_and_noise() {
        let (w, h) = (40, 30);
        let a = vec![100u8; w * h];
        let mut b = a.clone();
        for y in 5..10 {
            for x in 3..12 {
                b[y * w + x] = 200; // 9x5 = 45 px
            }
        }
        for y in 20..28 {
            for x in 30..33 {
                b[y * w + x] = 10; // 3x8 = 24 px
            }
        }
        b[15 * w + 20] = 255; // single pixel: opened away
        let p = HotParams {
            min_area_px: 10,
            strip_rows: 8,
            ..HotParams::default()
        };
        let got = changed_blobs(&a, &b, w, h, &p);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].area, got[0].x0, got[0].y0, got[0].x1, got[0].y1),
            (45, 3, 5, 11, 9)
        );
        assert_eq!((got[0].cx, got[0].cy), (7.0, 7.0));
        assert_eq!(got[1].area, 24);
        assert_eq!(got, reference_blobs(&a, &b, w, h, &p));
        assert_eq!(got, changed_blobs_serial(&a, &b, w, h, &p));
    }

    #[test]
    fn strips_cover_rows_and_merge_short_tails() {
        assert_eq!(strip_bounds(20, 8, 1), vec![(0, 8), (8, 20)]);
        assert_eq!(strip_bounds(5, 8, 1), vec![(0, 5)]);
        assert_eq!(
            strip_bounds(600, 100, 256),
            vec![(0, 256), (256, 512), (512, 600)]
        );
        assert_eq!(strip_bounds(516, 100, 256), vec![(0, 256), (256, 516)]);
        assert_eq!(strip_bounds(0, 8, 1), vec![]);
    }
}
