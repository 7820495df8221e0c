//! Optimiser settings and their validation.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which selection scheme picks survivors and parents each generation.
///
/// See [`crate::optim::selection`] for the exact semantics of each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectorKind {
    /// IBEA after Zitzler & Künzli (2004): iterative environmental selection
    /// down to `offspring_size` survivors, then tournaments among them.
    #[default]
    Ibea,
    /// IBEA as published BluePyOpt runs used it: the same fitness, but no
    /// iterative removal; the whole pool is sorted once and tournaments are
    /// drawn from all of it.
    IbeaBluepyopt,
    /// NSGA-II (Deb et al. 2002): non-dominated fronts, crowding-distance
    /// truncation, binary tournaments on (rank, crowding).
    Nsga2,
}

impl SelectorKind {
    /// The name used in configuration files (`ibea`, `ibea_bluepyopt`, `nsga2`).
    pub fn name(self) -> &'static str {
        match self {
            SelectorKind::Ibea => "ibea",
            SelectorKind::IbeaBluepyopt => "ibea_bluepyopt",
            SelectorKind::Nsga2 => "nsga2",
        }
    }
}

impl std::fmt::Display for SelectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SelectorKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ibea" => Ok(SelectorKind::Ibea),
            "ibea_bluepyopt" | "ibea-bluepyopt" => Ok(SelectorKind::IbeaBluepyopt),
            "nsga2" | "nsga-ii" | "nsgaii" => Ok(SelectorKind::Nsga2),
            other => Err(Error::Config(format!(
                "unknown selector '{other}' (expected ibea, ibea_bluepyopt or nsga2)"
            ))),
        }
    }
}

/// Settings of the evolutionary search.
///
/// The defaults are those of the Blue Brain calcium-rule fits run with
/// BluePyOpt: 128 offspring, crossover probability 0.3, mutation probability
/// 0.7, η = 20 for both operators, per-gene mutation probability 0.5,
/// tournaments of 4, κ = 0.05 and a penalty of 1000 per objective for a failed
/// evaluation. Missing fields in a JSON file take these defaults; unknown
/// fields are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimiserConfig {
    /// Number of offspring per generation; also the size of the initial
    /// population, of the surviving population and of the parent list
    /// (BluePyOpt's `offspring_size`, DEAP's μ = λ).
    pub offspring_size: usize,
    /// Probability that a consecutive pair of parents is crossed over.
    pub cxpb: f64,
    /// Probability that an offspring is mutated.
    pub mutpb: f64,
    /// Distribution index η of simulated binary crossover.
    pub eta_crossover: f64,
    /// Distribution index η of polynomial mutation.
    pub eta_mutation: f64,
    /// Per-gene probability of polynomial mutation (BluePyOpt's `indpb`).
    pub mutation_indpb: f64,
    /// Selection scheme.
    pub selector: SelectorKind,
    /// Tournament size of IBEA mating selection (BluePyOpt's
    /// `tournament_n`). NSGA-II always uses binary tournaments.
    pub tournament_size: usize,
    /// Fitness scaling factor κ of IBEA.
    pub kappa: f64,
    /// Error given to every objective of a candidate whose evaluation failed.
    pub failure_penalty: f64,
}

impl Default for OptimiserConfig {
    fn default() -> Self {
        OptimiserConfig {
            offspring_size: 128,
            cxpb: 0.3,
            mutpb: 0.7,
            eta_crossover: 20.0,
            eta_mutation: 20.0,
            mutation_indpb: 0.5,
            selector: SelectorKind::Ibea,
            tournament_size: 4,
            kappa: 0.05,
            failure_penalty: 1000.0,
        }
    }
}

impl OptimiserConfig {
    /// Checks every setting; the error names the first offending one.
    pub fn validate(&self) -> Result<()> {
        if self.offspring_size < 2 {
            return Err(Error::Config(format!(
                "offspring_size must be at least 2, got {}",
                self.offspring_size
            )));
        }
        for (name, p) in [
            ("cxpb", self.cxpb),
            ("mutpb", self.mutpb),
            ("mutation_indpb", self.mutation_indpb),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Config(format!(
                    "{name} must be a probability in [0, 1], got {p}"
                )));
            }
        }
        for (name, eta) in [
            ("eta_crossover", self.eta_crossover),
            ("eta_mutation", self.eta_mutation),
        ] {
            if !(eta.is_finite() && eta > 0.0) {
                return Err(Error::Config(format!("{name} must be finite and > 0, got {eta}")));
            }
        }
        if self.tournament_size < 1 {
            return Err(Error::Config("tournament_size must be at least 1, got 0".to_string()));
        }
        if !(self.kappa.is_finite() && self.kappa > 0.0) {
            return Err(Error::Config(format!(
                "kappa must be finite and > 0, got {}",
                self.kappa
            )));
        }
        if !self.failure_penalty.is_finite() {
            return Err(Error::Config(format!(
                "failure_penalty must be finite, got {}",
                self.failure_penalty
            )));
        }
        Ok(())
    }
}

/// Checks a search box: at least one parameter, every bound finite and
/// `lower < upper`.
pub fn validate_bounds(bounds: &[(f64, f64)]) -> Result<()> {
    if bounds.is_empty() {
        return Err(Error::Config("the evaluator has no free parameter".to_string()));
    }
    for (i, &(lo, hi)) in bounds.iter().enumerate() {
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(Error::Config(format!(
                "bounds of parameter {i} must be finite, got ({lo}, {hi})"
            )));
        }
        if lo >= hi {
            return Err(Error::Config(format!(
                "bounds of parameter {i}: lower {lo} must be < upper {hi}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text(c: &OptimiserConfig) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid_and_match_bluepyopt_runs() {
        let c = OptimiserConfig::default();
        c.validate().unwrap();
        assert_eq!(c.offspring_size, 128);
        assert_eq!((c.cxpb, c.mutpb), (0.3, 0.7));
        assert_eq!((c.eta_crossover, c.eta_mutation), (20.0, 20.0));
        assert_eq!(c.tournament_size, 4);
        assert_eq!(c.failure_penalty, 1000.0);
    }

    #[test]
    fn invalid_settings_are_rejected_with_their_name() {
        let base = OptimiserConfig::default();
        let cases: Vec<(OptimiserConfig, &str)> = vec![
            (
                OptimiserConfig {
                    offspring_size: 1,
                    ..base.clone()
                },
                "offspring_size",
            ),
            (
                OptimiserConfig {
                    cxpb: 1.5,
                    ..base.clone()
                },
                "cxpb",
            ),
            (
                OptimiserConfig {
                    mutpb: -0.1,
                    ..base.clone()
                },
                "mutpb",
            ),
            (
                OptimiserConfig {
                    mutation_indpb: f64::NAN,
                    ..base.clone()
                },
                "mutation_indpb",
            ),
            (
                OptimiserConfig {
                    eta_crossover: 0.0,
                    ..base.clone()
                },
                "eta_crossover",
            ),
            (
                OptimiserConfig {
                    eta_mutation: -1.0,
                    ..base.clone()
                },
                "eta_mutation",
            ),
            (
                OptimiserConfig {
                    tournament_size: 0,
                    ..base.clone()
                },
                "tournament_size",
            ),
            (
                OptimiserConfig {
                    kappa: 0.0,
                    ..base.clone()
                },
                "kappa",
            ),
            (
                OptimiserConfig {
                    failure_penalty: f64::INFINITY,
                    ..base.clone()
                },
                "failure_penalty",
            ),
        ];
        for (cfg, name) in cases {
            let text = err_text(&cfg);
            assert!(text.contains(name), "{text} should name {name}");
            assert!(matches!(cfg.validate(), Err(Error::Config(_))));
        }
    }

    #[test]
    fn bounds_validation() {
        validate_bounds(&[(0.0, 1.0), (-5.0, 5.0)]).unwrap();
        assert!(validate_bounds(&[]).is_err());
        assert!(validate_bounds(&[(1.0, 1.0)]).is_err());
        assert!(validate_bounds(&[(0.0, 1.0), (2.0, 1.0)])
            .unwrap_err()
            .to_string()
            .contains("parameter 1"));
        assert!(validate_bounds(&[(f64::NEG_INFINITY, 1.0)]).is_err());
    }

    #[test]
    fn json_defaults_and_unknown_fields() {
        let c: OptimiserConfig = serde_json::from_str(r#"{"offspring_size": 10, "selector": "nsga2"}"#).unwrap();
        assert_eq!(c.offspring_size, 10);
        assert_eq!(c.selector, SelectorKind::Nsga2);
        assert_eq!(c.cxpb, 0.3);
        assert!(serde_json::from_str::<OptimiserConfig>(r#"{"offspring": 10}"#).is_err());
        assert_eq!(
            "ibea_bluepyopt".parse::<SelectorKind>().unwrap(),
            SelectorKind::IbeaBluepyopt
        );
        assert!("cmaes".parse::<SelectorKind>().is_err());
    }
}
