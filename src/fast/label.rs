//! Run-based connected-component labelling with statistics per run, in the spirit of
//! Light Speed Labeling (Cabaret, Lacassagne & Lamoureux 2016): each row of the opened
//! mask becomes runs of foreground pixels; a run overlapping a run of the previous row
//! (8-connectivity: the ranges overlap when widened by one pixel) is joined to it in a
//! union-find over runs; area, bounding box and coordinate sums are kept per run and
//! summed per set at the end. No label image is ever built. Segments (consecutive row
//! ranges labelled independently, in parallel) are joined by the runs of their
//! adjacent rows.

use super::bits::{morph_row, runs, Band, Morph};
use super::{ChangedBlob, HotParams};

/// Statistics of a run or of a set of runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    area: u64,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    sx: u64,
    sy: u64,
    /// First pixel in raster order (row, col), for a stable order.
    first: (u32, u32),
}

impl Stats {
    fn run(y: u32, s: u32, e: u32) -> Stats {
        let n = (e - s + 1) as u64;
        Stats {
            area: n,
            x0: s,
            y0: y,
            x1: e,
            y1: y,
            sx: n * (s as u64 + e as u64) / 2,
            sy: n * y as u64,
            first: (y, s),
        }
    }
    fn add(&mut self, o: &Stats) {
        self.area += o.area;
        self.x0 = self.x0.min(o.x0);
        self.y0 = self.y0.min(o.y0);
        self.x1 = self.x1.max(o.x1);
        self.y1 = self.y1.max(o.y1);
        self.sx += o.sx;
        self.sy += o.sy;
        self.first = self.first.min(o.first);
    }
}

fn find(p: &mut [u32], mut i: u32) -> u32 {
    while p[i as usize] != i {
        let g = p[p[i as usize] as usize];
        p[i as usize] = g;
        i = g;
    }
    i
}

fn union(p: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(p, a), find(p, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        p[hi as usize] = lo;
    }
}

/// Joins each run of `cur` to the runs of `prev` it touches (8-connectivity). Both
/// lists are sorted by start; ids index `parent`.
fn join_rows(
    cur: &[(u32, u32, u32)],
    prev: &[(u32, u32, u32)],
    parent: &mut [u32],
    off_cur: u32,
    off_prev: u32,
) {
    let mut j = 0;
    for &(s, e, id) in cur {
        while j < prev.len() && prev[j].1 + 1 < s {
            j += 1;
        }
        let mut k = j;
        while k < prev.len() && prev[k].0 <= e + 1 {
            union(parent, id + off_cur, prev[k].2 + off_prev);
            k += 1;
        }
    }
}

/// A labelled range of rows: runs, their union-find, and the runs (start, end, id) of
/// its first and last rows.
#[derive(Debug, Default)]
pub(crate) struct Segment {
    stats: Vec<Stats>,
    parent: Vec<u32>,
    top: Vec<(u32, u32, u32)>,
    bottom: Vec<(u32, u32, u32)>,
}

/// Opens (3x3 erosion then dilation) rows `[o0, o1)` of an image `h` rows high from the
/// mask rows in `mask` (which must hold rows `o0-2 .. o1+2` where they exist) and
/// labels them.
pub(crate) fn open_and_label(mask: &Band, h: usize, o0: usize, o1: usize) -> Segment {
    let (e0, e1) = (o0.saturating_sub(1), (o1 + 1).min(h));
    assert!(
        mask.lo <= e0.saturating_sub(1) && mask.hi() >= (e1 + 1).min(h),
        "mask band covers the halo"
    );
    let mut eroded = Band::zeros(mask.w, e0, e1 - e0);
    let nw = mask.nw;
    for r in e0..e1 {
        let i = r - e0;
        morph_row(mask, h, r, Morph::Erode, &mut eroded.bits[i * nw..(i + 1) * nw]);
    }
    let mut seg = Segment::default();
    let mut opened = vec![0u64; nw];
    let mut row_runs = Vec::new();
    let mut prev: Vec<(u32, u32, u32)> = Vec::new();
    let mut cur = Vec::new();
    for r in o0..o1 {
        morph_row(&eroded, h, r, Morph::Dilate, &mut opened);
        runs(&opened, mask.w, &mut row_runs);
        cur.clear();
        for &(s, e) in &row_runs {
            let id = seg.stats.len() as u32;
            seg.stats.push(Stats::run(r as u32, s, e));
            seg.parent.push(id);
            cur.push((s, e, id));
        }
        join_rows(&cur, &prev, &mut seg.parent, 0, 0);
        if r == o0 {
            seg.top = cur.clone();
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    seg.bottom = prev;
    seg
}

/// Joins consecutive segments (each starting on the row after the previous one ends),
/// sums statistics per component, keeps areas within the bounds, and orders blobs by
/// their first pixel in raster order.
pub(crate) fn finish(segments: Vec<Segment>, p: &HotParams) -> Vec<ChangedBlob> {
    let mut offs = Vec::with_capacity(segments.len());
    let mut n = 0u32;
    for s in &segments {
        offs.push(n);
        n += s.stats.len() as u32;
    }
    let mut parent: Vec<u32> = Vec::with_capacity(n as usize);
    let mut stats: Vec<Stats> = Vec::with_capacity(n as usize);
    for (s, &o) in segments.iter().zip(&offs) {
        parent.extend(s.parent.iter().map(|&q| q + o));
        stats.extend_from_slice(&s.stats);
    }
    for k in 1..segments.len() {
        let (up, down) = (&segments[k - 1].bottom, &segments[k].top);
        join_rows(down, up, &mut parent, offs[k], offs[k - 1]);
    }
    let mut acc: Vec<Option<Stats>> = vec![None; n as usize];
    for i in 0..n {
        let r = find(&mut parent, i) as usize;
        match &mut acc[r] {
            Some(a) => a.add(&stats[i as usize]),
            slot @ None => *slot = Some(stats[i as usize]),
        }
    }
    let mut out: Vec<Stats> = acc
        .into_iter()
        .flatten()
        .filter(|s| s.area >= p.min_area_px as u64 && s.area <= p.max_area_px as u64)
        .collect();
    out.sort_by_key(|s| s.first);
    out.iter()
        .map(|s| ChangedBlob {
            area: s.area as u32,
            x0: s.x0,
            y0: s.y0,
            x1: s.x1,
            y1: s.y1,
            cx: s.sx as f64 / s.area as f64,
            cy: s.sy as f64 / s.area as f64,
        })
        .collect()
}
