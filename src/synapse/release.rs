//! Stochastic Tsodyks–Markram release with multivesicular release sites
//! (SPEC §2.1).
//!
//! Every spike draws exactly two uniforms (recovery, then release) and
//! turns each into a binomial count by inverting the binomial CDF. A
//! sampler whose number of draws depends on n and p (rand_distr's) would
//! let two runs that differ only slightly in Use (plasticity on and off,
//! full simulation and replay) lose step with each other's random stream
//! at their first difference. With a fixed number of draws and inversion,
//! which is monotone in p, they share every draw and differ only where a
//! draw falls between their two CDFs (common random numbers).

use rand::Rng;

/// What the interval before a spike does: the facilitation left,
/// exp(−Δt/τ_fac) (0 without facilitation), and each empty site's
/// probability of having recovered, 1 − exp(−Δt/τ_dep).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinceLast {
    pub facilitation: f64,
    pub p_recover: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Release {
    nrrp: u32,
    dep_ms: f64,
    fac_ms: f64,
    /// Running utilisation u.
    u: f64,
    /// Time of the last presynaptic spike (ms).
    tsyn: f64,
    recovered: u32,
    unrecovered: u32,
}

impl Release {
    pub fn new(nrrp: u32, dep_ms: f64, fac_ms: f64) -> Release {
        let nrrp = nrrp.max(1);
        Release {
            nrrp,
            dep_ms,
            fac_ms,
            u: 0.0,
            tsyn: 0.0,
            recovered: nrrp,
            unrecovered: 0,
        }
    }

    /// The state after a long rest: every site recovered, no facilitation left.
    pub fn rested(&self) -> Release {
        Release::new(self.nrrp, self.dep_ms, self.fac_ms)
    }

    pub fn nrrp(&self) -> u32 {
        self.nrrp
    }

    pub fn recovered(&self) -> u32 {
        self.recovered
    }

    /// A presynaptic spike at time t with utilisation parameter `use_`:
    /// facilitation, recovery of empty sites, then release. Every spike
    /// updates u, tsyn and recovery whether or not it releases, and draws
    /// two uniforms, recovery's first.
    pub fn spike<R: Rng + ?Sized>(&mut self, t: f64, use_: f64, rng: &mut R) -> u32 {
        let (u_recover, u_release) = (rng.gen::<f64>(), rng.gen::<f64>());
        self.spike_with(t, use_, u_recover, u_release)
    }

    /// `spike` with its two uniforms given (replay draws them once and
    /// applies them to several release states).
    pub fn spike_with(&mut self, t: f64, use_: f64, u_recover: f64, u_release: f64) -> u32 {
        let since = self.since_last(t);
        self.spike_after(t, use_, since, u_recover, u_release)
    }

    /// What the interval since the last spike does to a spike at time t.
    pub fn since_last(&self, t: f64) -> SinceLast {
        let dt = t - self.tsyn;
        SinceLast {
            facilitation: if self.fac_ms > 0.0 {
                (-dt / self.fac_ms).exp()
            } else {
                0.0
            },
            p_recover: 1.0 - (-dt / self.dep_ms).exp(),
        }
    }

    /// `spike_with` given `since_last(t)` (replay computes it once for
    /// redraws of the same spike).
    pub fn spike_after(&mut self, t: f64, use_: f64, since: SinceLast, u_recover: f64, u_release: f64) -> u32 {
        self.u = self.facilitated(use_, since);
        self.recovered += binomial_inverse(self.unrecovered, since.p_recover, u_recover);
        let released = binomial_inverse(self.recovered, self.u, u_release);
        self.recovered -= released;
        self.unrecovered = self.nrrp - self.recovered;
        self.tsyn = t;
        released
    }

    /// The utilisation u a spike after `since` releases with, under `use_`.
    pub fn facilitated(&self, use_: f64, since: SinceLast) -> f64 {
        (use_ + self.u * (1.0 - use_) * since.facilitation).clamp(0.0, 1.0)
    }

    /// This state with utilisation u (a spike that drew as another state
    /// did, under another Use).
    pub fn with_utilisation(self, u: f64) -> Release {
        Release { u, ..self }
    }
}

/// Bisection steps of `utilisation_range`: its ends within 2⁻²⁴ of the
/// true ones.
const RANGE_STEPS: usize = 24;

/// A range of p, within [0, 1], over which `binomial_inverse(n, p, u)`
/// gives `k`, given one p it does (`inside`). Inversion is monotone in p,
/// so both ends are found by bisection; they are points where k was
/// computed, so every p between them gives k.
pub fn utilisation_range(n: u32, k: u32, u: f64, inside: f64) -> (f64, f64) {
    debug_assert_eq!(binomial_inverse(n, inside, u), k);
    let bisect = |mut keep: f64, mut leave: f64| {
        for _ in 0..RANGE_STEPS {
            let mid = 0.5 * (keep + leave);
            if binomial_inverse(n, mid, u) == k {
                keep = mid;
            } else {
                leave = mid;
            }
        }
        keep
    };
    let low = if binomial_inverse(n, 0.0, u) == k {
        0.0
    } else {
        bisect(inside, 0.0)
    };
    let high = if binomial_inverse(n, 1.0, u) == k {
        1.0
    } else {
        bisect(inside, 1.0)
    };
    (low, high)
}

/// The smallest k with P(X ≤ k) ≥ u for X ~ Binomial(n, p), u in [0, 1).
/// n is a site count (a few to a few tens), so the CDF is summed directly.
pub fn binomial_inverse(n: u32, p: f64, u: f64) -> u32 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let odds = p / (1.0 - p);
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut cdf = pmf;
    let mut k = 0;
    while u >= cdf && k < n {
        pmf *= f64::from(n - k) / f64::from(k + 1) * odds;
        k += 1;
        cdf += pmf;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Deterministic Tsodyks–Markram expectation of vesicles released per
    /// spike: the stochastic model is linear in expectation, so this is exact.
    fn expected_release(nrrp: f64, use_: f64, dep: f64, fac: f64, isi: f64, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        let (mut u, mut rec) = (0.0, nrrp);
        for k in 0..n {
            let dt = if k == 0 { f64::INFINITY } else { isi };
            u = use_ + u * (1.0 - use_) * (-dt / fac).exp();
            rec += (nrrp - rec) * (1.0 - (-dt / dep).exp());
            let released = u * rec;
            rec -= released;
            out.push(released);
        }
        out
    }

    #[test]
    fn mean_release_matches_deterministic_tsodyks_markram_at_10_hz() {
        let (nrrp, use_, dep, fac) = (4u32, 0.5, 671.0, 17.0);
        let spikes = 8;
        let trials = 100_000;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut totals = vec![0u64; spikes];
        for _ in 0..trials {
            let mut r = Release::new(nrrp, dep, fac);
            for (k, total) in totals.iter_mut().enumerate() {
                *total += u64::from(r.spike(100.0 + 100.0 * k as f64, use_, &mut rng));
            }
        }
        let expected = expected_release(f64::from(nrrp), use_, dep, fac, 100.0, spikes);
        for (k, (&total, &e)) in totals.iter().zip(&expected).enumerate() {
            let mean = total as f64 / trials as f64;
            assert!((mean - e).abs() / e < 0.01, "spike {k}: mean {mean} vs expected {e}");
        }
        // The train depresses: a test that would pass on a constant would be useless.
        assert!(expected[spikes - 1] < 0.5 * expected[0]);
    }

    #[test]
    fn inverted_binomial_has_the_binomial_distribution() {
        let (n, p, draws) = (5u32, 0.3, 200_000);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut counts = [0usize; 6];
        for _ in 0..draws {
            counts[binomial_inverse(n, p, rng.gen::<f64>()) as usize] += 1;
        }
        // C(5, k)·0.3^k·0.7^(5−k)
        let pmf = [0.16807, 0.36015, 0.3087, 0.1323, 0.02835, 0.00243];
        for (k, (&c, &e)) in counts.iter().zip(&pmf).enumerate() {
            let f = c as f64 / f64::from(draws);
            assert!((f - e).abs() < 0.004, "P(X = {k}) = {f}, expected {e}");
        }
        assert_eq!((binomial_inverse(4, 0.0, 0.9), binomial_inverse(4, 1.0, 0.0)), (0, 4));
        assert_eq!(binomial_inverse(4, 0.5, 0.999_999), 4);
    }

    #[test]
    fn utilisation_range_holds_the_draw_and_ends_where_it_changes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..2000 {
            let n = rng.gen_range(0..12);
            let (p, u) = (rng.gen::<f64>(), rng.gen::<f64>());
            let k = binomial_inverse(n, p, u);
            let (low, high) = utilisation_range(n, k, u, p);
            assert!(low <= p && p <= high, "n {n}, p {p}: [{low}, {high}]");
            for x in 0..=20 {
                let q = low + (high - low) * f64::from(x) / 20.0;
                assert_eq!(binomial_inverse(n, q, u), k, "n {n}, u {u}: {q} in [{low}, {high}]");
            }
            // Just beyond an end inside [0, 1] the draw is another.
            let step = 1e-6;
            if low > 0.0 {
                assert_ne!(binomial_inverse(n, low - step, u), k, "n {n}, u {u}, low {low}");
            }
            if high < 1.0 {
                assert_ne!(binomial_inverse(n, high + step, u), k, "n {n}, u {u}, high {high}");
            }
        }
    }

    /// Two trains that differ only in Use consume the same draws, and at the
    /// first spike the higher Use never releases less.
    #[test]
    fn trains_with_different_use_share_their_random_stream() {
        let train = |use_: f64, seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut r = Release::new(4, 300.0, 20.0);
            let released: Vec<u32> = (0..20).map(|k| r.spike(50.0 * k as f64, use_, &mut rng)).collect();
            (released, rng.gen::<u64>())
        };
        for seed in 0..50 {
            let (low, next_low) = train(0.3, seed);
            let (high, next_high) = train(0.36, seed);
            assert_eq!(next_low, next_high, "seed {seed}: streams out of step");
            assert!(high[0] >= low[0]);
        }
        let differing = (0..50).filter(|&s| train(0.3, s).0 != train(0.36, s).0).count();
        assert!(differing > 0 && differing < 50, "{differing} of 50 trains differ");
    }

    #[test]
    fn release_never_exceeds_sites_and_is_seeded() {
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut r = Release::new(3, 300.0, 20.0);
            (0..50)
                .map(|k| {
                    let n = r.spike(10.0 * k as f64, 0.9, &mut rng);
                    assert!(n <= 3 && r.recovered() <= 3);
                    n
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
