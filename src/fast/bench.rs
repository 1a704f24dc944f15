//! Generated inputs for the hot-path benchmarks (`stagewatch bench-hotpath`,
//! `benches/stages.rs`, `scripts/bench-vs-opencv`).

use rayon::prelude::*;

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
