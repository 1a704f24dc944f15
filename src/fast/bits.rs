//! Bit-packed change masks: one `u64` word per 64 pixels, bit `i` of word `k` is pixel
//! `64 k + i` (least significant bit leftmost). The absolute difference + threshold
//! writes 64 pixels per word with SIMD compares and byte masks (AVX2 when the CPU has
//! it, else SSE2, else scalar); the 3x3 erosion and dilation then work on whole words
//! with shifts (64 pixels per operation), and runs of foreground pixels are found with
//! `trailing_zeros`, so a sparse mask costs about one test per 64 pixels.
//!
//! Border rule (as OpenCV's default for morphology): pixels outside the image are
//! ignored, i.e. count as foreground for erosion and background for dilation.
//! Padding bits past the image width are always zero in stored rows.

/// Words per bit row of an image `w` pixels wide.
pub fn words(w: usize) -> usize {
    w.div_ceil(64)
}

/// The valid-bits mask of the last word of a row `w` pixels wide.
fn last_mask(w: usize) -> u64 {
    match w % 64 {
        0 => u64::MAX,
        r => (1u64 << r) - 1,
    }
}

/// A band of consecutive bit rows `[lo, lo + n)` of an image `w` pixels wide.
#[derive(Debug, Clone)]
pub struct Band {
    pub w: usize,
    pub nw: usize,
    pub lo: usize,
    pub bits: Vec<u64>,
}

impl Band {
    /// An all-zero band of `n` rows starting at row `lo`.
    pub fn zeros(w: usize, lo: usize, n: usize) -> Band {
        let nw = words(w);
        Band {
            w,
            nw,
            lo,
            bits: vec![0; nw * n],
        }
    }
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.bits.len() / self.nw.max(1)
    }
    /// One past the last row held.
    pub fn hi(&self) -> usize {
        self.lo + self.rows()
    }
    /// Bit row `r` (absolute row index).
    pub fn row(&self, r: usize) -> &[u64] {
        let i = r - self.lo;
        &self.bits[i * self.nw..(i + 1) * self.nw]
    }
    /// Mutable bit row `r` (absolute row index).
    pub fn row_mut(&mut self, r: usize) -> &mut [u64] {
        let i = r - self.lo;
        &mut self.bits[i * self.nw..(i + 1) * self.nw]
    }
    /// Rows `[r0, r1)` copied into a new band.
    pub fn slice(&self, r0: usize, r1: usize) -> Band {
        Band {
            w: self.w,
            nw: self.nw,
            lo: r0,
            bits: self.bits[(r0 - self.lo) * self.nw..(r1 - self.lo) * self.nw].to_vec(),
        }
    }
    /// This band followed by `next`, which must start where this one ends.
    pub fn concat(&self, next: &Band) -> Band {
        assert_eq!(self.hi(), next.lo, "bands are consecutive");
        let mut bits = self.bits.clone();
        bits.extend_from_slice(&next.bits);
        Band {
            w: self.w,
            nw: self.nw,
            lo: self.lo,
            bits,
        }
    }
}

/// Sets bit `x` of `out` when `|a[x] - b[x]| > t`; `out` has `words(a.len())` words.
pub fn diff_bits(a: &[u8], b: &[u8], t: u8, out: &mut [u64]) {
    assert_eq!(a.len(), b.len());
    assert_eq!(out.len(), words(a.len()));
    let full = a.len() / 64;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { x86::diff_words_avx2(&a[..full * 64], &b[..full * 64], t, &mut out[..full]) };
        } else {
            x86::diff_words_sse2(&a[..full * 64], &b[..full * 64], t, &mut out[..full]);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (k, o) in out[..full].iter_mut().enumerate() {
        *o = diff_word_scalar(&a[k * 64..k * 64 + 64], &b[k * 64..k * 64 + 64], t);
    }
    if full < out.len() {
        out[full] = diff_word_scalar(&a[full * 64..], &b[full * 64..], t);
    }
}

/// Up to 64 pixels into one word, the portable way (also the tail of each row).
pub fn diff_word_scalar(a: &[u8], b: &[u8], t: u8) -> u64 {
    let mut m = 0u64;
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        m |= ((x.abs_diff(y) > t) as u64) << i;
    }
    m
}

/// Clears bit `x` of `out` where `a[x] == nd_a` or `b[x] == nd_b` (nodata on either
/// date is never change). `out` has `words(a.len())` words.
pub fn clear_nodata(a: &[u8], b: &[u8], nd_a: Option<u8>, nd_b: Option<u8>, out: &mut [u64]) {
    if nd_a.is_none() && nd_b.is_none() {
        return;
    }
    for (k, o) in out.iter_mut().enumerate() {
        if *o == 0 {
            continue; // nothing to clear: most words of a sparse mask
        }
        let (s, e) = (k * 64, ((k + 1) * 64).min(a.len()));
        let mut m = 0u64;
        for i in s..e {
            let hole = nd_a == Some(a[i]) || nd_b == Some(b[i]);
            m |= (hole as u64) << (i - s);
        }
        *o &= !m;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 64 pixels per word with SSE2 (part of the x86_64 baseline): |a-b| as the OR of
    /// the two saturating differences, `> t` as "saturating d - t is not zero".
    pub fn diff_words_sse2(a: &[u8], b: &[u8], t: u8, out: &mut [u64]) {
        assert!(a.len() >= out.len() * 64 && b.len() >= out.len() * 64);
        // SAFETY: SSE2 is always present on x86_64; every unaligned load reads 16 bytes
        // inside `a`/`b` (64 per word, lengths asserted above).
        unsafe {
            let tv = _mm_set1_epi8(t as i8);
            let zero = _mm_setzero_si128();
            for (k, o) in out.iter_mut().enumerate() {
                let (pa, pb) = (a.as_ptr().add(k * 64), b.as_ptr().add(k * 64));
                let mut m = 0u64;
                for j in 0..4 {
                    let va = _mm_loadu_si128(pa.add(16 * j) as *const __m128i);
                    let vb = _mm_loadu_si128(pb.add(16 * j) as *const __m128i);
                    let d = _mm_or_si128(_mm_subs_epu8(va, vb), _mm_subs_epu8(vb, va));
                    let le = _mm_cmpeq_epi8(_mm_subs_epu8(d, tv), zero);
                    let bits = !(_mm_movemask_epi8(le) as u32) & 0xFFFF;
                    m |= (bits as u64) << (16 * j);
                }
                *o = m;
            }
        }
    }

    /// The same with 32-byte AVX2 registers.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn diff_words_avx2(a: &[u8], b: &[u8], t: u8, out: &mut [u64]) {
        assert!(a.len() >= out.len() * 64 && b.len() >= out.len() * 64);
        let tv = _mm256_set1_epi8(t as i8);
        let zero = _mm256_setzero_si256();
        for (k, o) in out.iter_mut().enumerate() {
            let (pa, pb) = (a.as_ptr().add(k * 64), b.as_ptr().add(k * 64));
            let mut m = 0u64;
            for j in 0..2 {
                let va = _mm256_loadu_si256(pa.add(32 * j) as *const __m256i);
                let vb = _mm256_loadu_si256(pb.add(32 * j) as *const __m256i);
                let d = _mm256_or_si256(_mm256_subs_epu8(va, vb), _mm256_subs_epu8(vb, va));
                let le = _mm256_cmpeq_epi8(_mm256_subs_epu8(d, tv), zero);
                let bits = !(_mm256_movemask_epi8(le) as u32);
                m |= (bits as u64) << (32 * j);
            }
            *o = m;
        }
    }
}

pub use crate::blobs::Morph;

/// 3x3 erosion or dilation of row `r` from the rows `r-1..=r+1` that exist in an image
/// `h` rows high (`src` must hold them), into `out`. Pixels outside the image count as
/// set for erosion (OpenCV's default border for `erode`, so blob counts match the
/// OpenCV baseline of `scripts/bench-vs-opencv`); [`crate::change::morph`], on site
/// grids, counts them as background and says why.
pub fn morph_row(src: &Band, h: usize, r: usize, op: Morph, out: &mut [u64]) {
    let (r0, r1) = (r.saturating_sub(1), (r + 2).min(h));
    out.copy_from_slice(src.row(r0));
    for k in r0 + 1..r1 {
        let row = src.row(k);
        match op {
            Morph::Erode => out.iter_mut().zip(row).for_each(|(o, &v)| *o &= v),
            Morph::Dilate => out.iter_mut().zip(row).for_each(|(o, &v)| *o |= v),
        }
    }
    let n = out.len();
    let lm = last_mask(src.w);
    match op {
        Morph::Erode => {
            // Outside pixels count as set: padding bits and both carries are ones.
            out[n - 1] |= !lm;
            let mut left_carry = 1u64;
            for k in 0..n {
                let v = out[k];
                let right_carry = if k + 1 < n { out[k + 1] << 63 } else { 1 << 63 };
                out[k] = v & ((v << 1) | left_carry) & ((v >> 1) | right_carry);
                left_carry = v >> 63;
            }
        }
        Morph::Dilate => {
            let mut left_carry = 0u64;
            for k in 0..n {
                let v = out[k];
                let right_carry = if k + 1 < n { out[k + 1] << 63 } else { 0 };
                out[k] = v | (v << 1) | left_carry | (v >> 1) | right_carry;
                left_carry = v >> 63;
            }
        }
    }
    out[n - 1] &= lm;
}

/// Runs of set bits of a row as inclusive pixel ranges `(start, end)`, appended to `out`.
pub fn runs(row: &[u64], w: usize, out: &mut Vec<(u32, u32)>) {
    out.clear();
    let mut start = 0usize;
    let mut in_run = false;
    for (k, &v) in row.iter().enumerate() {
        if !in_run && v == 0 {
            continue;
        }
        if in_run && v == u64::MAX {
            continue;
        }
        let base = k * 64;
        let mut pos = 0u32;
        while pos < 64 {
            if in_run {
                let ones = (!(v >> pos)).trailing_zeros();
                pos += ones;
                if pos < 64 {
                    out.push((start as u32, (base + pos as usize - 1) as u32));
                    in_run = false;
                }
            } else {
                let rest = v >> pos;
                if rest == 0 {
                    break;
                }
                pos += rest.trailing_zeros();
                start = base + pos as usize;
                in_run = true;
            }
        }
    }
    if in_run {
        out.push((start as u32, (w - 1) as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bools(row: &[u64], w: usize) -> Vec<bool> {
        (0..w).map(|x| row[x / 64] >> (x % 64) & 1 == 1).collect()
    }

    #[test]
    fn diff_paths_agree() {
        let w = 64 * 5 + 17;
        let a: Vec<u8> = (0..w).map(|i| (i * 37 % 256) as u8).collect();
        let b: Vec<u8> = (0..w).map(|i| (i * 91 % 256) as u8).collect();
        let mut got = vec![0u64; words(w)];
        diff_bits(&a, &b, 40, &mut got);
        let want: Vec<bool> = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y) > 40).collect();
        assert_eq!(bools(&got, w), want);
        #[cfg(target_arch = "x86_64")]
        {
            let mut sse = vec![0u64; 5];
            x86::diff_words_sse2(&a[..320], &b[..320], 40, &mut sse);
            assert_eq!(&sse[..], &got[..5]);
        }
        assert_eq!(got[5] >> 17, 0, "padding stays zero");
    }

    #[test]
    fn runs_cross_words_and_end_of_row() {
        for w in [1usize, 63, 64, 65, 128, 200] {
            let set: Vec<bool> = (0..w)
                .map(|x| (x / 5) % 3 != 1 || x == w - 1 || x == 63)
                .collect();
            let mut row = vec![0u64; words(w)];
            for (x, &s) in set.iter().enumerate() {
                row[x / 64] |= (s as u64) << (x % 64);
            }
            let mut got = Vec::new();
            runs(&row, w, &mut got);
            let mut want = Vec::new();
            let mut x = 0;
            while x < w {
                if set[x] {
                    let s = x;
                    while x < w && set[x] {
                        x += 1;
                    }
                    want.push((s as u32, x as u32 - 1));
                } else {
                    x += 1;
                }
            }
            assert_eq!(got, want, "w = {w}");
        }
    }

    #[test]
    fn erosion_ignores_outside_pixels() {
        // A full 3-row image: erosion keeps everything (outside pixels are ignored).
        let w = 70;
        let mut band = Band::zeros(w, 0, 3);
        for r in 0..3 {
            let row = band.row_mut(r);
            row.fill(u64::MAX);
            row[1] &= last_mask(w);
        }
        let mut out = vec![0u64; 2];
        morph_row(&band, 3, 0, Morph::Erode, &mut out);
        assert_eq!(bools(&out, w), vec![true; w]);
        // Clear pixel (1, 64): its 3x3 neighbourhood erodes.
        band.row_mut(1)[1] &= !1;
        morph_row(&band, 3, 2, Morph::Erode, &mut out);
        let e = bools(&out, w);
        assert!(!e[63] && !e[64] && !e[65] && e[62] && e[66] && e[69]);
        morph_row(&band, 3, 1, Morph::Dilate, &mut out);
        assert_eq!(bools(&out, w), vec![true; w]);
        assert_eq!(out[1] >> 6, 0, "padding stays zero");
    }
}
