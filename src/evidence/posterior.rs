//! Counting statistics for the evidence: the posterior of a site's true vehicle number
//! given a detection count, under the detector's measured error model.
//!
//! Model: of T vehicles present, each is detected with probability `recall` (binomial),
//! and false positives arrive as a Poisson process of `fp_per_km2` over the observed
//! area, so the count is N = Binomial(T, recall) + Poisson(fp_per_km2 x area). With a
//! flat prior on T, P(T | N) is proportional to sum_k Bin(k; T, recall) Pois(N - k; mu).
//! Ratios and sums of sites are then sampled from these posteriors with a seeded
//! generator, so results are reproducible.
//!
//! The false-positive rate is a property of the scene as much as of the detector: on the
//! calibration frames it ranges from none to several times the pooled rate. With a
//! coefficient of variation `cv` > 0 it is taken as log-normal between scenes, with the
//! pooled rate as its mean, and as one value shared by both dates of a site (the same
//! ground). [`PairPosterior`] discretises it into [`RATE_COMPONENTS`] equal-probability
//! components and weights each by how well it explains both counts: with a flat prior on
//! T, P(N | rate) = P(Poisson(rate x area) <= N) / recall, since each of the binomial's
//! sums over T is 1 / recall. A site draw picks a component, then both dates' numbers
//! from it (a finite-mixture posterior; Gelman et al., *Bayesian Data Analysis*, ch. 5).

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
            let lp = ln_poisson(n - k, fp_mean, &lf);
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

/// Components of the false-positive rate mixture of [`PairPosterior`].
pub const RATE_COMPONENTS: usize = 15;

/// ln Pois(m; mu); a mean of 0 puts all the mass on m = 0.
fn ln_poisson(m: usize, mu: f64, lf: &LnFact) -> f64 {
    if mu > 0.0 {
        -mu + m as f64 * mu.ln() - lf.get(m)
    } else if m == 0 {
        0.0
    } else {
        f64::NEG_INFINITY
    }
}

/// P(Poisson(mu) <= n).
fn poisson_cdf(n: usize, mu: f64, lf: &LnFact) -> f64 {
    (0..=n).map(|m| ln_poisson(m, mu, lf).exp()).sum::<f64>().min(1.0)
}

/// The joint posterior of a site's before and after vehicle numbers.
pub struct PairPosterior {
    /// The false-positive rate's components; None when the rate is exact, and the dates
    /// are then drawn from their marginals.
    mixture: Option<Mixture>,
    /// Marginal posteriors of each date.
    pub before_marginal: Sampler,
    pub after_marginal: Sampler,
}

/// The components of [`PairPosterior`]: their weights and each date's posterior under
/// each component's rate.
struct Mixture {
    weights: Sampler,
    before: Vec<Sampler>,
    after: Vec<Sampler>,
}

impl PairPosterior {
    /// From the counts `n_before`, `n_after`, the detector's recall, the mean number of
    /// false positives over the site's area `fp_mean`, and the rate's coefficient of
    /// variation between scenes `fp_cv` (0: the rate is exactly `fp_mean`, and the draws
    /// are those of two independent posteriors).
    pub fn new(n_before: u32, n_after: u32, recall: f64, fp_mean: f64, fp_cv: f64) -> PairPosterior {
        if fp_cv <= 0.0 || fp_mean <= 0.0 {
            return PairPosterior {
                mixture: None,
                before_marginal: Sampler::new(&posterior(n_before, recall, fp_mean)),
                after_marginal: Sampler::new(&posterior(n_after, recall, fp_mean)),
            };
        }
        let s2 = (1.0 + fp_cv * fp_cv).ln();
        let lf = LnFact::new(n_before.max(n_after) as usize + 1);
        let (mut w, mut bs, mut as_) = (Vec::new(), Vec::new(), Vec::new());
        for j in 0..RATE_COMPONENTS {
            let z = crate::stats::normal_quantile((j as f64 + 0.5) / RATE_COMPONENTS as f64);
            let mu = fp_mean * (-s2 / 2.0 + s2.sqrt() * z).exp();
            w.push(poisson_cdf(n_before as usize, mu, &lf) * poisson_cdf(n_after as usize, mu, &lf));
            bs.push(posterior(n_before, recall, mu));
            as_.push(posterior(n_after, recall, mu));
        }
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= total.max(1e-300));
        let marginal = |ps: &[Vec<f64>]| {
            let len = ps.iter().map(Vec::len).max().unwrap_or(0);
            let mut m = vec![0.0; len];
            for (p, wj) in ps.iter().zip(&w) {
                for (mi, pi) in m.iter_mut().zip(p) {
                    *mi += wj * pi;
                }
            }
            Sampler::new(&m)
        };
        PairPosterior {
            before_marginal: marginal(&bs),
            after_marginal: marginal(&as_),
            mixture: Some(Mixture {
                weights: Sampler::new(&w),
                before: bs.iter().map(|p| Sampler::new(p)).collect(),
                after: as_.iter().map(|p| Sampler::new(p)).collect(),
            }),
        }
    }

    /// One joint draw (before, after): a component, then both dates from it.
    pub fn draw(&self, rng: &mut XorShift64Star) -> (f64, f64) {
        match &self.mixture {
            None => (self.before_marginal.draw(rng), self.after_marginal.draw(rng)),
            Some(m) => {
                let j = (m.weights.draw(rng) as usize).min(m.before.len() - 1);
                (m.before[j].draw(rng), m.after[j].draw(rng))
            }
        }
    }
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

    /// With no spread in the rate the pair is the two independent posteriors, drawn
    /// before then after from one generator (the outputs of every earlier release).
    #[test]
    fn no_rate_spread_is_two_independent_posteriors() {
        let pair = PairPosterior::new(30, 12, 0.8, 4.0, 0.0);
        let (b, a) = (
            Sampler::new(&posterior(30, 0.8, 4.0)),
            Sampler::new(&posterior(12, 0.8, 4.0)),
        );
        let (mut r1, mut r2) = (XorShift64Star::new(9), XorShift64Star::new(9));
        for _ in 0..200 {
            assert_eq!(pair.draw(&mut r1), (b.draw(&mut r2), a.draw(&mut r2)));
        }
        assert_eq!(pair.before_marginal.quantile(0.5), b.quantile(0.5));
    }

    /// A rate that varies between scenes widens the interval of the remaining fraction,
    /// and a small after count rules out the largest rates: the estimate moves towards
    /// the raw count ratio (fewer false positives subtracted than the mean implies).
    #[test]
    fn rate_spread_widens_the_ratio_and_is_limited_by_the_counts() {
        let ratio = |cv: f64| {
            let pair = PairPosterior::new(40, 14, 0.8, 6.7, cv);
            let mut rng = XorShift64Star::new(3);
            let r: Vec<f64> = (0..4000)
                .map(|_| pair.draw(&mut rng))
                .filter(|d| d.0 > 0.0)
                .map(|(b, a)| a / b)
                .collect();
            (
                sample_quantile(&r, 0.05),
                sample_quantile(&r, 0.5),
                sample_quantile(&r, 0.95),
            )
        };
        let (exact, spread) = (ratio(0.0), ratio(0.65));
        assert!(spread.2 - spread.0 > exact.2 - exact.0, "{exact:?} {spread:?}");
        assert!(spread.1 > exact.1, "{exact:?} {spread:?}");
        assert!(spread.1 < 14.0 / 40.0 + 0.02, "{spread:?}");
    }

    #[test]
    fn poisson_cdf_on_literals() {
        let lf = LnFact::new(10);
        assert!((poisson_cdf(0, 2.0, &lf) - (-2.0f64).exp()).abs() < 1e-12);
        assert!((poisson_cdf(2, 1.0, &lf) - 2.5 * (-1.0f64).exp()).abs() < 1e-12);
        assert_eq!(poisson_cdf(3, 0.0, &lf), 1.0);
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
