//! Counting statistics for the evidence: the posterior of a site's true vehicle number
//! given a detection count, under the detector's measured error model.
//!
//! Model: of T vehicles present, each is detected with probability `recall` (binomial),
//! and false positives arrive as a Poisson process of `fp_per_km2` over the observed
//! area, so the count is N = Binomial(T, recall) + Poisson(fp_per_km2 x area). With a
//! flat prior on T, P(T | N) is proportional to sum_k Bin(k; T, recall) Pois(N - k; mu).
//! Ratios and sums of sites are then sampled from these posteriors with a seeded
//! generator, so results are reproducible.

/// ln(n!) for n up to the table size, by summing logs once.
pub struct LnFact(Vec<f64>);

impl LnFact {
    /// Table of ln(k!) for k <= n.
    pub fn new(n: usize) -> LnFact {
        let mut v = vec![0.0; n + 1];
        for k in 1..=n {
            v[k] = v[k - 1] + (k as f64).ln();
        }
        LnFact(v)
    }
    fn get(&self, k: usize) -> f64 {
        self.0[k]
    }
}

/// Discrete posterior of T given N: (values 0..=t_max, probabilities).
pub fn posterior(n: u32, recall: f64, fp_mean: f64) -> Vec<f64> {
    let n = n as usize;
    let recall = recall.clamp(1e-3, 1.0);
    let t_max = ((n as f64 + 10.0) / recall * 1.5).ceil() as usize + 10;
    let lf = LnFact::new(t_max.max(n) + 1);
    let ln_p = recall.ln();
    let ln_q = (1.0 - recall).max(1e-300).ln();
    let mut post = vec![0.0f64; t_max + 1];
    for (t, slot) in post.iter_mut().enumerate() {
        let mut s = 0.0;
        for k in 0..=n.min(t) {
            // Bin(k; t, recall)
            let lb = lf.get(t) - lf.get(k) - lf.get(t - k)
                + k as f64 * ln_p
                + if t > k { (t - k) as f64 * ln_q } else { 0.0 };
            // Pois(n - k; fp_mean)
            let m = n - k;
            let lp = if fp_mean > 0.0 {
                -fp_mean + m as f64 * fp_mean.ln() - lf.get(m)
            } else if m == 0 {
                0.0
            } else {
                f64::NEG_INFINITY
            };
            s += (lb + lp).exp();
        }
        *slot = s;
    }
    let total: f64 = post.iter().sum();
    if total > 0.0 {
        post.iter_mut().for_each(|p| *p /= total);
    }
    post
}

/// Deterministic xorshift64* generator (Vigna, *An experimental exploration of
/// Marsaglia's xorshift generators, scrambled*, 2016) for the posterior sampling. Kept
/// apart from training's [`crate::learned::rng::SplitMix64`]: every recorded interval
/// depends on this sequence and every shipped weight on that one, so merging the two
/// would change outputs.
pub struct XorShift64Star(u64);

impl XorShift64Star {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> XorShift64Star {
        XorShift64Star(seed.max(1))
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Cumulative distribution of a discrete posterior, for inverse-CDF sampling.
pub struct Sampler(Vec<f64>);

impl Sampler {
    /// From probabilities over 0..len.
    pub fn new(p: &[f64]) -> Sampler {
        let mut c = Vec::with_capacity(p.len());
        let mut acc = 0.0;
        for v in p {
            acc += v;
            c.push(acc);
        }
        Sampler(c)
    }
    /// One draw.
    pub fn draw(&self, rng: &mut XorShift64Star) -> f64 {
        let u = rng.next_f64() * self.0.last().copied().unwrap_or(1.0);
        self.0.partition_point(|&c| c < u) as f64
    }
    /// The q-quantile.
    pub fn quantile(&self, q: f64) -> f64 {
        let u = q * self.0.last().copied().unwrap_or(1.0);
        self.0.partition_point(|&c| c < u) as f64
    }
}

/// The q-quantile of samples (sorted copy, nearest rank).
pub fn sample_quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() - 1) as f64 * q).round() as usize]
}

/// Seed from a string (FNV-1a).
pub fn seed_of(s: &str, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_detector_posterior_is_the_count() {
        let p = posterior(7, 1.0, 0.0);
        assert!((p[7] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn misses_shift_the_posterior_up() {
        let s = Sampler::new(&posterior(18, 0.9, 0.0));
        assert!(
            s.quantile(0.5) >= 19.0 && s.quantile(0.95) <= 26.0,
            "{}",
            s.quantile(0.95)
        );
    }
}
