//! Descriptive statistics and Welch's unequal-variances t-test.
//!
//! The held-out protocols are judged as the paper judges them: a two-sided
//! Welch t-test between the in-silico EPSP ratios of the sampled connections
//! and the in-vitro result. The in-vitro side is usually known only as
//! mean ± SEM over n connections, so it enters as a [`Summary`] whose standard
//! deviation is recovered as `SEM·√n`.
//!
//! Degenerate inputs are never turned into NaN: they are reported as a
//! [`StatsError`] that says what is missing, so a report can print "n/a" with
//! a reason.
//!
//! | input | result |
//! |---|---|
//! | a side with n < 2 | [`StatsError::TooFewValues`] (its variance is undefined) |
//! | a NaN or infinite value | [`StatsError::NonFinite`] |
//! | a summary with SEM < 0 or non-finite mean/SEM | [`StatsError::InvalidSummary`] |
//! | zero variance on both sides | [`StatsError::ZeroVariance`] (t is ±∞ or 0/0 and the Welch–Satterthwaite df is 0/0) |
//! | zero variance on one side only | an ordinary result: df = n − 1 of the other side |
//! | t so large that p underflows | p = 0 (never NaN) |

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A sample needs at least `needed` values for this statistic.
    #[error("{what} has {got} value(s); at least {needed} are needed")]
    TooFewValues {
        what: &'static str,
        got: usize,
        needed: usize,
    },
    /// A value is NaN or infinite.
    #[error("{what} contains a non-finite value at index {index}")]
    NonFinite { what: &'static str, index: usize },
    /// A published summary is not usable (negative SEM, non-finite mean or SEM).
    #[error("{what} is not a usable summary: {problem}")]
    InvalidSummary { what: &'static str, problem: String },
    /// Both sides have zero variance: the t statistic and the degrees of
    /// freedom are undefined.
    #[error("both samples have zero variance (means {mean_a} and {mean_b}); the t-test is undefined")]
    ZeroVariance { mean_a: f64, mean_b: f64 },
}

/// Arithmetic mean; `None` for an empty slice.
///
/// Non-finite values propagate (use [`Summary::from_samples`] for a checked
/// version).
pub fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        None
    } else {
        Some(x.iter().sum::<f64>() / x.len() as f64)
    }
}

/// Sample standard deviation (denominator n − 1); `None` when n < 2.
pub fn sample_sd(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (x.len() - 1) as f64).sqrt())
}

/// Standard error of the mean, `sd/√n`; `None` when n < 2.
pub fn sem(x: &[f64]) -> Option<f64> {
    sample_sd(x).map(|sd| sd / (x.len() as f64).sqrt())
}

/// Mean, sample standard deviation and size of one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub mean: f64,
    /// Sample standard deviation (denominator n − 1).
    pub sd: f64,
    pub n: usize,
}

impl Summary {
    /// Summarises a sample. Requires n ≥ 2 and finite values.
    pub fn from_samples(x: &[f64], what: &'static str) -> Result<Summary, StatsError> {
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite { what, index });
        }
        match (mean(x), sample_sd(x)) {
            (Some(mean), Some(sd)) => Ok(Summary { mean, sd, n: x.len() }),
            _ => Err(StatsError::TooFewValues {
                what,
                got: x.len(),
                needed: 2,
            }),
        }
    }

    /// A published result given as mean ± SEM over `n` values:
    /// `sd = sem·√n`. Requires n ≥ 2, a finite mean and a finite SEM ≥ 0.
    pub fn from_mean_sem(mean: f64, sem: f64, n: usize, what: &'static str) -> Result<Summary, StatsError> {
        if n < 2 {
            return Err(StatsError::TooFewValues {
                what,
                got: n,
                needed: 2,
            });
        }
        if !mean.is_finite() {
            return Err(StatsError::InvalidSummary {
                what,
                problem: format!("mean is {mean}"),
            });
        }
        if !sem.is_finite() || sem < 0.0 {
            return Err(StatsError::InvalidSummary {
                what,
                problem: format!("SEM is {sem}"),
            });
        }
        Ok(Summary {
            mean,
            sd: sem * (n as f64).sqrt(),
            n,
        })
    }

    /// Standard error of the mean, `sd/√n`.
    pub fn sem(&self) -> f64 {
        self.sd / (self.n as f64).sqrt()
    }
}

/// Result of a two-sided Welch t-test of `a` against `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchResult {
    /// `(mean_a − mean_b) / √(s_a²/n_a + s_b²/n_b)`; positive when a is larger.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value, `P(|T_df| ≥ |t|)`.
    pub p_value: f64,
}

/// Two-sided p-value of a t statistic with `df` degrees of freedom:
/// `2·P(T_df > |t|)`.
///
/// `df` must be finite and > 0 (it always is for results of this module);
/// an infinite `t` gives 0.
pub fn two_sided_p(t: f64, df: f64) -> f64 {
    debug_assert!(df.is_finite() && df > 0.0, "df = {df}");
    debug_assert!(!t.is_nan());
    let dist = StudentsT::new(0.0, 1.0, df).expect("df > 0 gives a valid Student t distribution");
    (2.0 * dist.sf(t.abs())).min(1.0)
}

/// Welch's test from two summaries (the core of the other two entry points).
pub fn welch_summaries(a: &Summary, b: &Summary) -> Result<WelchResult, StatsError> {
    for (s, what) in [(a, "sample a"), (b, "sample b")] {
        if s.n < 2 {
            return Err(StatsError::TooFewValues {
                what,
                got: s.n,
                needed: 2,
            });
        }
        if !s.mean.is_finite() || !s.sd.is_finite() || s.sd < 0.0 {
            return Err(StatsError::InvalidSummary {
                what,
                problem: format!("mean {} and SD {}", s.mean, s.sd),
            });
        }
    }
    // Squared standard errors of the two means.
    let va = a.sd * a.sd / a.n as f64;
    let vb = b.sd * b.sd / b.n as f64;
    let v = va + vb;
    if v == 0.0 {
        return Err(StatsError::ZeroVariance {
            mean_a: a.mean,
            mean_b: b.mean,
        });
    }
    let t = (a.mean - b.mean) / v.sqrt();
    let df = v * v / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    Ok(WelchResult {
        t,
        df,
        p_value: two_sided_p(t, df),
    })
}

/// Welch's two-sided t-test between two samples (each n ≥ 2, finite values).
pub fn welch_samples(a: &[f64], b: &[f64]) -> Result<WelchResult, StatsError> {
    let sa = Summary::from_samples(a, "sample a")?;
    let sb = Summary::from_samples(b, "sample b")?;
    welch_summaries(&sa, &sb)
}

/// Welch's two-sided t-test of a sample (e.g. in-silico EPSP ratios, one per
/// connection) against a published mean ± SEM over `n_b` values (e.g. the
/// in-vitro result). The published SD is taken as `sem_b·√n_b`.
pub fn welch_sample_vs_summary(a: &[f64], mean_b: f64, sem_b: f64, n_b: usize) -> Result<WelchResult, StatsError> {
    let sa = Summary::from_samples(a, "sample a")?;
    let sb = Summary::from_mean_sem(mean_b, sem_b, n_b, "summary b")?;
    welch_summaries(&sa, &sb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() <= tol,
            "actual {actual:.17e}, expected {expected:.17e}, |diff| {:.3e} > {tol:e}",
            (actual - expected).abs()
        );
    }

    #[test]
    fn helpers_on_small_sample() {
        // [1, 2, 3, 4, 5]: mean 3, squared deviations 4+1+0+1+4 = 10,
        // variance 10/4 = 2.5, SEM = √2.5/√5 = √0.5.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        close(mean(&x).unwrap(), 3.0, 0.0);
        close(sample_sd(&x).unwrap(), 2.5f64.sqrt(), 1e-15);
        close(sem(&x).unwrap(), 0.5f64.sqrt(), 1e-15);
        assert_eq!(mean(&[]), None);
        assert_eq!(sample_sd(&[1.0]), None);
        assert_eq!(sem(&[1.0]), None);
    }

    #[test]
    fn welch_hand_computed() {
        // a = [1, 2, 3, 4, 5]: mean 3, s² = 2.5, s²/n = 0.5
        // b = [2, 4, 6]:       mean 4, s² = (4+0+4)/2 = 4, s²/n = 4/3
        // v = 0.5 + 4/3 = 11/6
        // t = (3 − 4)/√(11/6) = −0.738548945875996...
        // df = (11/6)² / (0.5²/4 + (4/3)²/2) = (121/36) / (1/16 + 8/9)
        //    = (121/36)·(144/137) = 484/137 = 3.532846715328467...
        let r = welch_samples(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 6.0]).unwrap();
        close(r.t, -1.0 / (11.0f64 / 6.0).sqrt(), 1e-14);
        close(r.df, 484.0 / 137.0, 1e-13);
        // p from SciPy 1.17.1: ttest_ind(a, b, equal_var=False).pvalue
        close(r.p_value, 0.5062141716528481, 1e-10);
        // Swapping the samples flips t only.
        let s = welch_samples(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        close(s.t, -r.t, 1e-15);
        close(s.df, r.df, 1e-13);
        close(s.p_value, r.p_value, 1e-15);
    }

    #[test]
    fn welch_matches_scipy_documented_samples() {
        // The two samples of SciPy's ttest_ind_from_stats example, tested with
        // ttest_ind(a, b, equal_var=False) (SciPy 1.17.1).
        let a = [1.0, 3.0, 4.0, 6.0, 11.0, 13.0, 15.0, 19.0, 22.0, 24.0, 25.0, 26.0, 26.0];
        let b = [2.0, 4.0, 6.0, 9.0, 11.0, 13.0, 14.0, 15.0, 18.0, 19.0, 21.0];
        let r = welch_samples(&a, &b).unwrap();
        close(r.t, 0.9358461935556048, 1e-10);
        close(r.df, 20.984611233429924, 1e-10);
        close(r.p_value, 0.35999818693244245, 1e-10);
    }

    #[test]
    fn welch_matches_scipy_heavy_tail() {
        // The heavy-tailed pair of SciPy's ttest_ind example, Welch variant.
        let a = [56.0, 128.6, 12.0, 123.8, 64.34, 78.0, 763.3];
        let b = [1.1, 2.9, 4.2];
        let r = welch_samples(&a, &b).unwrap();
        close(r.t, 1.7380929645474241, 1e-10);
        close(r.df, 6.000985071709358, 1e-10);
        close(r.p_value, 0.1328520962097066, 1e-10);
    }

    #[test]
    fn welch_from_summaries_matches_scipy_binary_example() {
        // SciPy's ttest_ind_from_stats binary example with equal_var=False.
        let a = Summary {
            mean: 0.2,
            sd: 0.161073f64.sqrt(),
            n: 150,
        };
        let b = Summary {
            mean: 0.225,
            sd: 0.175251f64.sqrt(),
            n: 200,
        };
        let r = welch_summaries(&a, &b).unwrap();
        close(r.t, -0.5661276301071694, 1e-10);
        close(r.df, 327.90436123021186, 1e-9);
        close(r.p_value, 0.5716942537704799, 1e-10);
    }

    #[test]
    fn welch_sample_against_published_mean_sem() {
        // In-silico ratios against an in-vitro 1.26 ± 0.08 (SEM), n = 12;
        // SciPy: ttest_ind_from_stats(mean(x), std(x, ddof=1), 10,
        //                             1.26, 0.08·√12, 12, equal_var=False).
        let x = [1.12, 0.98, 1.35, 1.21, 0.87, 1.44, 1.05, 1.30, 0.93, 1.18];
        close(mean(&x).unwrap(), 1.143, 1e-12);
        close(sample_sd(&x).unwrap(), 0.18773799710116107, 1e-12);
        close(sem(&x).unwrap(), 0.059367967419775756, 1e-12);
        let r = welch_sample_vs_summary(&x, 1.26, 0.08, 12).unwrap();
        close(r.t, -1.1744386311042305, 1e-10);
        close(r.df, 19.29829101577513, 1e-10);
        close(r.p_value, 0.25450869530602155, 1e-10);
    }

    #[test]
    fn p_value_matches_scipy_documented_t_and_df() {
        // (t, df, p) triples printed in SciPy's ttest_ind documentation for
        // equal_var=False.
        let cases = [
            (-0.4390847099199348, 997.4602304121448, 0.6606952553131064),
            (-1.637098448290542, 765.1098655246868, 0.10202110497954867),
            (-1.3146566100751664, 110.41349083985212, 0.1913495266513811),
            (-1.8686598649188084, 109.32167496550137, 0.06434714193919686),
        ];
        for (t, df, p) in cases {
            close(two_sided_p(t, df), p, 1e-10);
        }
    }

    #[test]
    fn zero_variance_on_one_side_is_ordinary() {
        // a constant: s_a = 0, so df = n_b − 1 = 2 exactly.
        // SciPy: t = −0.22501758018520474, p = 0.8428651597363228.
        let r = welch_samples(&[1.0, 1.0, 1.0, 1.0], &[0.5, 1.5, 1.2]).unwrap();
        close(r.df, 2.0, 1e-12);
        close(r.t, -0.22501758018520474, 1e-10);
        close(r.p_value, 0.8428651597363228, 1e-10);
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert_eq!(
            welch_samples(&[1.0], &[1.0, 2.0]),
            Err(StatsError::TooFewValues {
                what: "sample a",
                got: 1,
                needed: 2
            })
        );
        assert!(matches!(
            welch_samples(&[1.0, 2.0], &[]),
            Err(StatsError::TooFewValues {
                what: "sample b",
                got: 0,
                ..
            })
        ));
        assert_eq!(
            welch_samples(&[1.0, 1.0, 1.0], &[2.0, 2.0]),
            Err(StatsError::ZeroVariance {
                mean_a: 1.0,
                mean_b: 2.0
            })
        );
        assert!(matches!(
            welch_samples(&[3.0, 3.0], &[3.0, 3.0]),
            Err(StatsError::ZeroVariance { .. })
        ));
        assert!(matches!(
            welch_samples(&[1.0, f64::NAN, 2.0], &[1.0, 2.0]),
            Err(StatsError::NonFinite {
                what: "sample a",
                index: 1
            })
        ));
        assert!(matches!(
            welch_sample_vs_summary(&[1.0, 1.0], 2.0, 0.0, 10),
            Err(StatsError::ZeroVariance { .. })
        ));
        assert!(matches!(
            welch_sample_vs_summary(&[1.0, 2.0], 2.0, 0.1, 1),
            Err(StatsError::TooFewValues {
                what: "summary b",
                got: 1,
                ..
            })
        ));
        assert!(matches!(
            welch_sample_vs_summary(&[1.0, 2.0], 2.0, -0.1, 5),
            Err(StatsError::InvalidSummary { .. })
        ));
        assert!(matches!(
            welch_sample_vs_summary(&[1.0, 2.0], f64::NAN, 0.1, 5),
            Err(StatsError::InvalidSummary { .. })
        ));
        // Error messages name the offending side.
        let msg = welch_samples(&[1.0], &[1.0, 2.0]).unwrap_err().to_string();
        assert!(msg.contains("sample a"), "{msg}");
    }

    #[test]
    fn huge_t_gives_zero_or_tiny_p_never_nan() {
        let r = welch_samples(&[0.0, 1e-12, 2e-12], &[1e6, 1e6 + 1e-12, 1e6 + 2e-12]).unwrap();
        assert!(r.t.is_finite() && r.t < 0.0);
        assert!(r.p_value >= 0.0 && r.p_value < 1e-12, "{}", r.p_value);
        assert_eq!(two_sided_p(f64::INFINITY, 3.0), 0.0);
        assert_eq!(two_sided_p(0.0, 3.0), 1.0);
    }
}
