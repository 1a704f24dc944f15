//! The hot path, fused and streamed: a Byte image pair to a list of changed blobs with
//! statistics, without ever materialising a full-size mask or label image.
//!
//! Rows are processed in strips (rayon over strips). Within a strip each row goes
//! through absolute difference + threshold, a 3x3 erosion and a 3x3 dilation (the
//! opening; pixels outside the image are ignored, as OpenCV's default border does),
//! each needing only the rows at most two above and below, and then **run-based
//! connected-component labelling** (in the spirit of Light Speed Labeling, Cabaret et
//! al. 2016): each row is turned into runs of foreground pixels, runs overlapping a run
//! of the previous row (8-connectivity) are joined in a union-find over runs, and the
//! statistics (area, bounding box, coordinate sums) are accumulated per run and summed
//! per set. Strips are joined afterwards by the runs of their first and last rows.
//! Results are ordered by each blob's first pixel in raster order, so serial and
//! parallel runs give identical lists.

use rayon::prelude::*;

/// Tunables of the hot path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotParams {
    /// A pixel changed when |after - before| exceeds this.
    pub threshold: u8,
    /// Blobs kept: area in pixels within these bounds (inclusive).
    pub min_area_px: u32,
    pub max_area_px: u32,
    /// Rows per strip of parallel work.
    pub strip_rows: usize,
}

impl Default for HotParams {
    fn default() -> Self {
        HotParams {
            threshold: 40,
            min_area_px: 20,
            max_area_px: 2000,
            strip_rows: 256,
        }
    }
}

/// One blob: area, bounding box (inclusive) and centroid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blob {
    pub area: u32,
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    pub cx: f64,
    pub cy: f64,
}

#[derive(Debug, Clone, Copy)]
struct Stats {
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

/// A labelled strip: runs, their sets, and the runs of its first and last rows.
struct Strip {
    stats: Vec<Stats>,
    parent: Vec<u32>,
    /// (start, end, run id) of the first and last rows.
    top: Vec<(u32, u32, u32)>,
    bottom: Vec<(u32, u32, u32)>,
}

fn diff_row(a: &[u8], b: &[u8], t: u8, out: &mut [u8]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = (x.abs_diff(y) > t) as u8;
    }
}

/// 3x3 minimum (erode) or maximum (dilate) of up to three rows, ignoring outside pixels.
fn morph_row(rows: &[&[u8]], out: &mut [u8], erode: bool) {
    let w = out.len();
    let v: &mut [u8] = out;
    // Vertical first.
    match rows {
        [r] => v.copy_from_slice(r),
        [r0, r1] => {
            for i in 0..w {
                v[i] = if erode { r0[i] & r1[i] } else { r0[i] | r1[i] };
            }
        }
        [r0, r1, r2] => {
            for i in 0..w {
                v[i] = if erode {
                    r0[i] & r1[i] & r2[i]
                } else {
                    r0[i] | r1[i] | r2[i]
                };
            }
        }
        _ => unreachable!("one to three rows"),
    }
    if w == 1 {
        return;
    }
    // Horizontal, in place with a one-pixel carry.
    let mut prev = v[0];
    for i in 0..w {
        let cur = v[i];
        let next = if i + 1 < w { v[i + 1] } else { cur };
        v[i] = if erode {
            prev & cur & next
        } else {
            prev | cur | next
        };
        prev = cur;
    }
}

fn runs(row: &[u8], out: &mut Vec<(u32, u32)>) {
    out.clear();
    let w = row.len();
    let mut i = 0;
    while i < w {
        if row[i] != 0 {
            let s = i;
            while i < w && row[i] != 0 {
                i += 1;
            }
            out.push((s as u32, i as u32 - 1));
        } else {
            i += 1;
        }
    }
}

/// Labels rows [r0, r1) of the opened change mask of the pair.
fn strip(a: &[u8], b: &[u8], w: usize, h: usize, r0: usize, r1: usize, t: u8) -> Strip {
    // Ring buffers: mask rows r-2..r+2 and eroded rows r-1..r+1 around output row r.
    let lo = r0.saturating_sub(2);
    let hi = (r1 + 2).min(h);
    let mut mask: Vec<Vec<u8>> = Vec::with_capacity(hi - lo);
    for r in lo..hi {
        let mut m = vec![0u8; w];
        diff_row(&a[r * w..(r + 1) * w], &b[r * w..(r + 1) * w], t, &mut m);
        mask.push(m);
    }
    let elo = r0.saturating_sub(1);
    let ehi = (r1 + 1).min(h);
    let mut eroded: Vec<Vec<u8>> = Vec::with_capacity(ehi - elo);
    for r in elo..ehi {
        let rs: Vec<&[u8]> = (r.saturating_sub(1)..(r + 2).min(h))
            .map(|k| mask[k - lo].as_slice())
            .collect();
        let mut e = vec![0u8; w];
        morph_row(&rs, &mut e, true);
        eroded.push(e);
    }
    drop(mask);
    let mut st = Strip {
        stats: Vec::new(),
        parent: Vec::new(),
        top: Vec::new(),
        bottom: Vec::new(),
    };
    let mut opened = vec![0u8; w];
    let mut prev: Vec<(u32, u32, u32)> = Vec::new();
    let mut cur_runs = Vec::new();
    for r in r0..r1 {
        let rs: Vec<&[u8]> = (r.saturating_sub(1)..(r + 2).min(h))
            .map(|k| eroded[k - elo].as_slice())
            .collect();
        morph_row(&rs, &mut opened, false);
        runs(&opened, &mut cur_runs);
        let mut cur = Vec::with_capacity(cur_runs.len());
        let mut j = 0;
        for &(s, e) in &cur_runs {
            let id = st.stats.len() as u32;
            st.stats.push(Stats::run(r as u32, s, e));
            st.parent.push(id);
            // Previous-row runs overlapping [s-1, e+1].
            while j < prev.len() && prev[j].1 + 1 < s {
                j += 1;
            }
            let mut k = j;
            while k < prev.len() && prev[k].0 <= e + 1 {
                union(&mut st.parent, id, prev[k].2);
                k += 1;
            }
            cur.push((s, e, id));
        }
        if r == r0 {
            st.top = cur.clone();
        }
        prev = cur;
    }
    st.bottom = prev;
    st
}

/// Changed blobs of a Byte pair (`w` x `h`, one band), in parallel over strips.
pub fn changed_blobs(a: &[u8], b: &[u8], w: usize, h: usize, p: &HotParams) -> Vec<Blob> {
    assert_eq!(a.len(), w * h, "before has w*h bytes");
    assert_eq!(b.len(), w * h, "after has w*h bytes");
    let sr = p.strip_rows.max(1);
    let bounds: Vec<(usize, usize)> = (0..h.div_ceil(sr))
        .map(|i| (i * sr, ((i + 1) * sr).min(h)))
        .collect();
    let strips: Vec<Strip> = bounds
        .par_iter()
        .map(|&(r0, r1)| strip(a, b, w, h, r0, r1, p.threshold))
        .collect();
    join(strips, p)
}

/// The same, on one thread (the reference for the parallel version).
pub fn changed_blobs_serial(a: &[u8], b: &[u8], w: usize, h: usize, p: &HotParams) -> Vec<Blob> {
    vec![strip(a, b, w, h, 0, h, p.threshold)]
        .into_iter()
        .map(|s| join(vec![s], p))
        .next()
        .unwrap_or_default()
}

fn join(strips: Vec<Strip>, p: &HotParams) -> Vec<Blob> {
    // Global ids: offset each strip's runs.
    let mut offs = Vec::with_capacity(strips.len());
    let mut n = 0u32;
    for s in &strips {
        offs.push(n);
        n += s.stats.len() as u32;
    }
    let mut parent: Vec<u32> = Vec::with_capacity(n as usize);
    let mut stats: Vec<Stats> = Vec::with_capacity(n as usize);
    for (s, &o) in strips.iter().zip(&offs) {
        parent.extend(s.parent.iter().map(|&q| q + o));
        stats.extend_from_slice(&s.stats);
    }
    for k in 1..strips.len() {
        let (up, down) = (&strips[k - 1].bottom, &strips[k].top);
        let (ou, od) = (offs[k - 1], offs[k]);
        let mut j = 0;
        for &(s, e, id) in down {
            while j < up.len() && up[j].1 + 1 < s {
                j += 1;
            }
            let mut i = j;
            while i < up.len() && up[i].0 <= e + 1 {
                union(&mut parent, id + od, up[i].2 + ou);
                i += 1;
            }
        }
    }
    // Sum per root.
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
        .map(|s| Blob {
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

/// The obvious implementation, for tests: full-size mask, opening, flood-fill labels.
pub fn reference_blobs(a: &[u8], b: &[u8], w: usize, h: usize, p: &HotParams) -> Vec<Blob> {
    let m: Vec<bool> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y) > p.threshold)
        .collect();
    let morph = |src: &[bool], erode: bool| -> Vec<bool> {
        let mut o = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut v = erode;
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        if erode {
                            v &= src[yy * w + xx];
                        } else {
                            v |= src[yy * w + xx];
                        }
                    }
                }
                o[y * w + x] = v;
            }
        }
        o
    };
    let o = morph(&morph(&m, true), false);
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    for start in 0..w * h {
        if !o[start] || seen[start] {
            continue;
        }
        let mut stack = vec![start];
        seen[start] = true;
        let (mut area, mut sx, mut sy) = (0u64, 0u64, 0u64);
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            area += 1;
            sx += x as u64;
            sy += y as u64;
            x0 = x0.min(x as u32);
            y0 = y0.min(y as u32);
            x1 = x1.max(x as u32);
            y1 = y1.max(y as u32);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    let k = yy * w + xx;
                    if o[k] && !seen[k] {
                        seen[k] = true;
                        stack.push(k);
                    }
                }
            }
        }
        if area >= p.min_area_px as u64 && area <= p.max_area_px as u64 {
            out.push(Blob {
                area: area as u32,
                x0,
                y0,
                x1,
                y1,
                cx: sx as f64 / area as f64,
                cy: sy as f64 / area as f64,
            });
        }
    }
    out
}

/// A generated test pair for the hot-path benchmark: a textured `size` x `size` Byte
/// image, and the same with `vehicles` 13x23-pixel rectangles brightened or darkened
/// (about 1.7 % of the pixels at 8192 px and 4000 vehicles) and independent noise.
pub fn bench_pair(size: usize, vehicles: usize) -> (Vec<u8>, Vec<u8>) {
    let hash = |i: u64, salt: u64| {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^ (x >> 29)
    };
    let base: Vec<u8> = (0..size * size)
        .into_par_iter()
        .map(|i| {
            let (x, y) = ((i % size) as u64 / 4, (i / size) as u64 / 4);
            (60 + hash(x * 1_000_003 + y, 1) % 100) as u8
        })
        .collect();
    let noisy = |salt: u64| -> Vec<u8> {
        base.par_iter()
            .enumerate()
            .map(|(i, &v)| v.saturating_add((hash(i as u64, salt) % 12) as u8))
            .collect()
    };
    let a = noisy(2);
    let mut b = noisy(3);
    for k in 0..vehicles as u64 {
        let x0 = (hash(k, 4) % (size as u64 - 24)) as usize;
        let y0 = (hash(k, 5) % (size as u64 - 24)) as usize;
        let (bw, bh) = if hash(k, 6) % 2 == 0 { (13, 23) } else { (23, 13) };
        let bright = hash(k, 7) % 2 == 0;
        for y in y0..y0 + bh {
            for v in &mut b[y * size + x0..y * size + x0 + bw] {
                *v = if bright {
                    v.saturating_add(90)
                } else {
                    v.saturating_sub(55)
                };
            }
        }
    }
    (a, b)
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
            strip_rows: 7,
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
}
