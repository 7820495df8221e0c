//! The 11 free parameters of the plasticity rule (SPEC §2.7).

use crate::pathway::Tree;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Parameter names in their canonical order (CSV columns, optimiser genes).
pub const PARAM_NAMES: [&str; 11] = [
    "tau_star_ms",
    "gamma_d",
    "gamma_p",
    "a00",
    "a01",
    "a10",
    "a11",
    "a20",
    "a21",
    "a30",
    "a31",
];

/// Search box of SPEC §2.7, in `PARAM_NAMES` order.
pub const PARAM_BOUNDS: [(f64, f64); 11] = [
    (150.0, 350.0),
    (50.0, 200.0),
    (150.0, 300.0),
    (1.0, 5.0),
    (1.0, 5.0),
    (1.0, 5.0),
    (1.0, 5.0),
    (1.0, 10.0),
    (1.0, 5.0),
    (1.0, 10.0),
    (1.0, 5.0),
];

/// Form of the depression term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleVariant {
    /// γd·ρ·[c* > θd] (the paper).
    Paper,
    /// γd·ρ·[θd < c* ≤ θp] (a later published mechanism).
    Exclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    /// Time constant of the calcium integrator c* (ms).
    pub tau_star_ms: f64,
    pub gamma_d: f64,
    pub gamma_p: f64,
    /// Basal θd = a00·Cpre + a01·Cpost, θp = a10·Cpre + a11·Cpost.
    pub a00: f64,
    pub a01: f64,
    pub a10: f64,
    pub a11: f64,
    /// Apical θd = a20·Cpre + a21·Cpost, θp = a30·Cpre + a31·Cpost.
    pub a20: f64,
    pub a21: f64,
    pub a30: f64,
    pub a31: f64,
}

impl RuleParams {
    /// The best solution published by Chindemi et al. (2022).
    pub fn chindemi2022() -> RuleParams {
        RuleParams::from_values(&[
            278.318, 101.5, 216.2, 1.002, 1.954, 1.159, 2.483, 1.127, 2.456, 5.236, 1.782,
        ])
        .expect("eleven published values")
    }

    /// Parameters from values in `PARAM_NAMES` order.
    pub fn from_values(v: &[f64]) -> Result<RuleParams> {
        if v.len() != PARAM_NAMES.len() {
            return Err(Error::Config(format!(
                "expected {} rule parameters, got {}",
                PARAM_NAMES.len(),
                v.len()
            )));
        }
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::Config(format!(
                "rule parameter {} is not finite",
                PARAM_NAMES[i]
            )));
        }
        let p = RuleParams {
            tau_star_ms: v[0],
            gamma_d: v[1],
            gamma_p: v[2],
            a00: v[3],
            a01: v[4],
            a10: v[5],
            a11: v[6],
            a20: v[7],
            a21: v[8],
            a30: v[9],
            a31: v[10],
        };
        p.validate()?;
        Ok(p)
    }

    pub fn values(&self) -> [f64; 11] {
        [
            self.tau_star_ms,
            self.gamma_d,
            self.gamma_p,
            self.a00,
            self.a01,
            self.a10,
            self.a11,
            self.a20,
            self.a21,
            self.a30,
            self.a31,
        ]
    }

    /// Physical validity (not the search box): τ* > 0, rates ≥ 0.
    pub fn validate(&self) -> Result<()> {
        if self.tau_star_ms <= 0.0 {
            return Err(Error::Config(format!(
                "tau_star_ms must be > 0, got {}",
                self.tau_star_ms
            )));
        }
        if self.gamma_d < 0.0 || self.gamma_p < 0.0 {
            return Err(Error::Config("gamma_d and gamma_p must be ≥ 0".into()));
        }
        Ok(())
    }

    /// (θd, θp) of a synapse on `tree` with calibration peaks Cpre, Cpost.
    pub fn thresholds(&self, tree: Tree, c_pre: f64, c_post: f64) -> (f64, f64) {
        match tree {
            Tree::Basal => (
                self.a00 * c_pre + self.a01 * c_post,
                self.a10 * c_pre + self.a11 * c_post,
            ),
            Tree::Apical => (
                self.a20 * c_pre + self.a21 * c_post,
                self.a30 * c_pre + self.a31 * c_post,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_best_lies_in_the_box_and_round_trips() {
        let p = RuleParams::chindemi2022();
        for ((v, (lo, hi)), name) in p.values().iter().zip(PARAM_BOUNDS).zip(PARAM_NAMES) {
            assert!(*v >= lo && *v <= hi, "{name} = {v} outside [{lo}, {hi}]");
        }
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<RuleParams>(&json).unwrap(), p);
        assert!(json.contains("\"a31\":1.782"));
    }

    #[test]
    fn thresholds_use_the_tree_coefficients() {
        let p = RuleParams::chindemi2022();
        let (d, pp) = p.thresholds(Tree::Basal, 2.0, 3.0);
        assert!((d - (1.002 * 2.0 + 1.954 * 3.0)).abs() < 1e-12);
        assert!((pp - (1.159 * 2.0 + 2.483 * 3.0)).abs() < 1e-12);
        let (d, pp) = p.thresholds(Tree::Apical, 2.0, 3.0);
        assert!((d - (1.127 * 2.0 + 2.456 * 3.0)).abs() < 1e-12);
        assert!((pp - (5.236 * 2.0 + 1.782 * 3.0)).abs() < 1e-12);
    }

    #[test]
    fn wrong_count_or_nan_is_rejected() {
        assert!(RuleParams::from_values(&[1.0; 10]).is_err());
        let mut v = RuleParams::chindemi2022().values();
        v[4] = f64::NAN;
        let e = RuleParams::from_values(&v).unwrap_err().to_string();
        assert!(e.contains("a01"), "{e}");
    }
}
