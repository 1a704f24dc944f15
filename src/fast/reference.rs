//! The obvious implementation of the hot path, for tests: a full-size boolean mask, a
//! 3x3 opening pixel by pixel, and flood-fill labelling with a stack.

use super::{ChangedBlob, HotParams};

/// The obvious implementation, for tests: full-size mask, opening, flood-fill labels.
pub fn reference_blobs(a: &[u8], b: &[u8], w: usize, h: usize, p: &HotParams) -> Vec<ChangedBlob> {
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
            out.push(ChangedBlob {
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
