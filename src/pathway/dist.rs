//! Quantile functions of the recipe's marginal distributions.
//!
//! Every sampled value is the inverse CDF of its marginal evaluated at a
//! probability; the probability is carried with both of its tails
//! ([`Tail`]) so that values far in the upper tail keep their precision. The
//! continuous quantiles are found by a bracketed Newton iteration on the
//! regularized incomplete gamma / beta functions, in a transformed variable
//! (log for gamma, logit for beta) so that very skewed shapes (e.g. the
//! facilitation time constant, gamma shape ≈ 0.31) are solved as accurately
//! as symmetric ones.

use statrs::function::beta::{beta_reg, ln_beta};
use statrs::function::erf::{erfc, erfc_inv};
use statrs::function::gamma::{gamma_ur, ln_gamma};

/// A probability given by both tails: `p = P(T ≤ t)`, `q = P(T > t)`, and the
/// standard-normal quantile `z` with Φ(z) = p.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    pub p: f64,
    pub q: f64,
    pub z: f64,
}

impl Tail {
    /// From a standard-normal value: p = Φ(z), q = Φ(−z).
    pub(crate) fn from_z(z: f64) -> Tail {
        Tail {
            p: std_normal_cdf(z),
            q: std_normal_cdf(-z),
            z,
        }
    }

    /// From a uniform in (0, 1).
    pub(crate) fn from_uniform(u: f64) -> Tail {
        Tail {
            p: u,
            q: 1.0 - u,
            z: std_normal_quantile(u),
        }
    }
}

/// Φ(z), accurate in the lower tail.
pub(crate) fn std_normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p) for p in (0, 1); accurate for small p.
pub(crate) fn std_normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p <= 0.5 {
        -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
    } else {
        std::f64::consts::SQRT_2 * erfc_inv(2.0 * (1.0 - p))
    }
}

/// Lower regularized incomplete gamma P(a, x), accurate for tiny x too.
pub(crate) fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_ur(a, x)
    }
}

/// Upper regularized incomplete gamma Q(a, x) = 1 − P(a, x).
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_ur(a, x)
    }
}

/// Series P(a, x) = x^a e^−x / Γ(a+1) · Σ x^n / ((a+1)…(a+n)), for x < a + 1.
fn gamma_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut n = 1.0;
    while n < 1000.0 {
        term *= x / (a + n);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
        n += 1.0;
    }
    (a * x.ln() - x - ln_gamma(a + 1.0)).exp() * sum
}

/// Solve `cdf(t) = p` for an increasing `cdf` given with its survival
/// function and density (all in the same variable t). Bracketed Newton: the
/// Newton step is taken when it stays inside the current bracket, otherwise
/// the bracket is bisected.
fn invert(
    tail: Tail,
    t0: f64,
    lower: impl Fn(f64) -> f64,
    upper: impl Fn(f64) -> f64,
    density: impl Fn(f64) -> f64,
) -> f64 {
    // g increases with t and vanishes at the solution; work on the smaller
    // tail so that neither side loses precision.
    let use_lower = tail.p <= tail.q;
    let g = |t: f64| {
        if use_lower {
            lower(t) - tail.p
        } else {
            tail.q - upper(t)
        }
    };
    let mut lo = f64::NEG_INFINITY;
    let mut hi = f64::INFINITY;
    let mut t = if t0.is_finite() { t0 } else { 0.0 };
    let g0 = g(t);
    if g0 == 0.0 {
        return t;
    }
    // Bracket the root by doubling steps away from t0.
    let mut step = 1.0;
    let mut last = t;
    for _ in 0..64 {
        let next = if g0 < 0.0 { last + step } else { last - step };
        let gn = g(next);
        if g0 < 0.0 {
            lo = last;
            if gn >= 0.0 {
                hi = next;
                break;
            }
        } else {
            hi = last;
            if gn <= 0.0 {
                lo = next;
                break;
            }
        }
        last = next;
        step *= 2.0;
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return last;
    }
    t = 0.5 * (lo + hi);
    for _ in 0..200 {
        let gt = g(t);
        if gt == 0.0 {
            return t;
        }
        if gt < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let d = density(t);
        let mut next = t - gt / d;
        if !(next.is_finite() && next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        let tol = 1e-13 * (1.0 + next.abs());
        if (next - t).abs() <= tol || hi - lo <= tol {
            return next;
        }
        t = next;
    }
    t
}

/// Gamma distribution with the given mean and standard deviation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GammaMs {
    shape: f64,
    scale: f64,
    ln_gamma_shape: f64,
}

impl GammaMs {
    /// mean > 0, sd > 0.
    pub(crate) fn new(mean: f64, sd: f64) -> GammaMs {
        let shape = (mean / sd).powi(2);
        GammaMs {
            shape,
            scale: sd * sd / mean,
            ln_gamma_shape: ln_gamma(shape),
        }
    }

    /// Inverse CDF; always > 0.
    pub(crate) fn quantile(&self, tail: Tail) -> f64 {
        let a = self.shape;
        // Starting point: Wilson–Hilferty, or the small-p power law when the
        // cube goes non-positive.
        let c = 1.0 - 1.0 / (9.0 * a) + tail.z / (3.0 * a.sqrt());
        let t0 = if c > 0.1 {
            (a * c * c * c).ln()
        } else {
            (tail.p.max(1e-300).ln() + ln_gamma(a + 1.0)) / a
        };
        let lg = self.ln_gamma_shape;
        let t = invert(
            tail,
            t0,
            |t| gamma_p(a, t.exp()),
            |t| gamma_q(a, t.exp()),
            |t| (a * t - t.exp() - lg).exp(),
        );
        (t.exp() * self.scale).max(f64::MIN_POSITIVE)
    }
}

/// Beta distribution with the given mean and standard deviation
/// (requires sd² < mean·(1 − mean)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BetaMs {
    a: f64,
    b: f64,
    mean: f64,
    sd: f64,
    ln_beta_ab: f64,
}

impl BetaMs {
    pub(crate) fn new(mean: f64, sd: f64) -> BetaMs {
        let k = mean * (1.0 - mean) / (sd * sd) - 1.0;
        let a = mean * k;
        let b = (1.0 - mean) * k;
        BetaMs {
            a,
            b,
            mean,
            sd,
            ln_beta_ab: ln_beta(a, b),
        }
    }

    /// Inverse CDF; in (0, 1].
    pub(crate) fn quantile(&self, tail: Tail) -> f64 {
        let (a, b, lb) = (self.a, self.b, self.ln_beta_ab);
        let guess = (self.mean + tail.z * self.sd).clamp(1e-6, 1.0 - 1e-6);
        let t0 = (guess / (1.0 - guess)).ln();
        let t = invert(
            tail,
            t0,
            |t| beta_reg(a, b, logistic(t)),
            |t| beta_reg(b, a, logistic(-t)),
            |t| (-a * softplus(-t) - b * softplus(t) - lb).exp(),
        );
        logistic(t).max(f64::MIN_POSITIVE)
    }
}

/// 1 / (1 + e^−t).
fn logistic(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

/// ln(1 + e^s), without overflow.
fn softplus(s: f64) -> f64 {
    s.max(0.0) + (-s.abs()).exp().ln_1p()
}

/// Inverse CDF of Poisson(λ): the smallest k with P(N ≤ k) ≥ p. λ = 0 gives 0.
pub(crate) fn poisson_quantile(lambda: f64, tail: Tail) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if tail.p <= tail.q {
        // Sum the pmf upwards: p_k = p_{k-1} λ / k, in logs to survive large λ.
        let ln_lambda = lambda.ln();
        let mut ln_pk = -lambda;
        let mut cdf = ln_pk.exp();
        let mut k: u32 = 0;
        while cdf < tail.p {
            k += 1;
            ln_pk += ln_lambda - f64::from(k).ln();
            let pk = ln_pk.exp();
            cdf += pk;
            if pk == 0.0 && f64::from(k) > lambda {
                break;
            }
        }
        k
    } else {
        // Upper tail: P(N > k) = P(k + 1, λ) (lower regularized gamma).
        let mut k = lambda.floor().max(0.0) as u32;
        // Walk down while the next lower k still satisfies P(N > k−1) ≤ q.
        while k > 0 && gamma_p(f64::from(k), lambda) <= tail.q {
            k -= 1;
        }
        while gamma_p(f64::from(k) + 1.0, lambda) > tail.q {
            k += 1;
        }
        k
    }
}

/// Inverse CDF of N(μ, σ²) truncated to [lo, hi] at the uniform `u` in (0, 1).
/// σ = 0 gives μ clamped into the interval. The side of the interval nearer
/// the distribution's lower tail is used, so an interval far out in either
/// tail keeps its precision; an interval beyond ~37 σ returns its end nearer
/// to μ.
pub(crate) fn truncated_normal_quantile(mu: f64, sigma: f64, lo: f64, hi: f64, u: f64) -> f64 {
    if sigma <= 0.0 {
        return mu.clamp(lo, hi);
    }
    let a = (lo - mu) / sigma;
    let b = (hi - mu) / sigma;
    let t = if a + b > 0.0 {
        -standard_truncated(-b, -a, 1.0 - u)
    } else {
        standard_truncated(a, b, u)
    };
    (mu + sigma * t).clamp(lo, hi)
}

/// Quantile of N(0, 1) truncated to [a, b] with a + b ≤ 0.
fn standard_truncated(a: f64, b: f64, u: f64) -> f64 {
    let pa = std_normal_cdf(a);
    let pb = std_normal_cdf(b);
    let mass = pb - pa;
    if mass.is_nan() || mass <= 0.0 {
        return b.min(0.0).max(a);
    }
    std_normal_quantile(pa + u * mass).clamp(a, b)
}

/// Lower-triangular Cholesky factor L with L·Lᵀ = m, or None if m is not
/// positive definite.
pub(crate) fn cholesky4(m: &[[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let s = m[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 1e-12 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_quantile_inverts_the_cdf() {
        for &(mean, sd) in &[(25.7, 45.87), (1.94, 1.0), (365.6, 100.15), (0.1628, 0.0839)] {
            let g = GammaMs::new(mean, sd);
            for &p in &[1e-12, 1e-6, 0.01, 0.3, 0.5, 0.7, 0.99, 1.0 - 1e-9] {
                let x = g.quantile(Tail::from_uniform(p));
                let back = gamma_p(g.shape, x / g.scale);
                assert!((back - p).abs() <= 1e-9 * p.max(1e-3), "{mean} {sd} {p}: {back}");
            }
            // Far upper tail through q.
            let x = g.quantile(Tail::from_z(7.0));
            let q = gamma_q(g.shape, x / g.scale);
            assert!((q / std_normal_cdf(-7.0) - 1.0).abs() < 1e-8);
        }
    }

    #[test]
    fn beta_quantile_inverts_the_cdf() {
        for &(mean, sd) in &[(0.38, 0.10), (0.5, 0.02), (0.46, 0.26), (0.86, 0.09)] {
            let d = BetaMs::new(mean, sd);
            for &z in &[-8.0, -3.0, -0.5, 0.0, 0.4, 2.0, 6.0] {
                let tail = Tail::from_z(z);
                let x = d.quantile(tail);
                assert!(x > 0.0 && x <= 1.0);
                let (got, want) = if z <= 0.0 {
                    (beta_reg(d.a, d.b, x), tail.p)
                } else {
                    (beta_reg(d.b, d.a, 1.0 - x), tail.q)
                };
                assert!((got / want - 1.0).abs() < 1e-6, "{mean} {sd} {z}: {got} {want}");
            }
        }
    }

    #[test]
    fn poisson_quantile_matches_the_cdf() {
        for &lambda in &[0.5, 1.8, 12.0] {
            for &z in &[-3.0, -1.0, 0.0, 0.7, 2.5, 5.0] {
                let tail = Tail::from_z(z);
                let k = poisson_quantile(lambda, tail);
                // P(N ≤ k) ≥ p > P(N ≤ k − 1), with P(N ≤ k) = Q(k + 1, λ).
                assert!(gamma_q(f64::from(k) + 1.0, lambda) >= tail.p - 1e-12);
                if k > 0 {
                    assert!(gamma_q(f64::from(k), lambda) < tail.p + 1e-12);
                }
            }
        }
        assert_eq!(poisson_quantile(0.0, Tail::from_z(3.0)), 0);
    }

    #[test]
    fn truncated_normal_stays_inside() {
        for &u in &[1e-9, 0.2, 0.5, 0.999999] {
            let x = truncated_normal_quantile(150.0, 80.0, 20.0, 1000.0, u);
            assert!((20.0..=1000.0).contains(&x));
            let far = truncated_normal_quantile(0.0, 1.0, 50.0, 60.0, u);
            assert!((50.0..=60.0).contains(&far));
        }
        // Median of a symmetric interval is the mean.
        let m = truncated_normal_quantile(100.0, 50.0, 0.0, 200.0, 0.5);
        assert!((m - 100.0).abs() < 1e-9);
    }

    #[test]
    fn cholesky_reconstructs() {
        let m = [
            [1.0, 0.81, 0.90, 0.79],
            [0.81, 1.0, 0.90, 0.92],
            [0.90, 0.90, 1.0, 0.88],
            [0.79, 0.92, 0.88, 1.0],
        ];
        let l = cholesky4(&m).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                let s: f64 = (0..4).map(|k| l[i][k] * l[j][k]).sum();
                assert!((s - m[i][j]).abs() < 1e-12);
            }
        }
        let mut bad = m;
        bad[0][1] = -0.9;
        bad[1][0] = -0.9;
        assert!(cholesky4(&bad).is_none());
    }
}
