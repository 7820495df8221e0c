//! Objectives (SPEC §6): which protocols a fit scores, their weights, the
//! connection sample, the parameter box (free or fixed parameters), the
//! rule variant and evaluation engine, and the held-out protocols.
//! Errors are in units of the in-vitro SEM.
//!
//! Candidates are scored through a [`ProtocolEngine`] (full simulation,
//! the synthetic stand-in, or trace replay) by an [`ObjectiveEvaluator`],
//! the problem the optimiser sees.

mod engine;
mod synthetic;

pub use engine::{training_protocols, FullEngine, ObjectiveEvaluator, ProtocolEngine, Scored};
pub use synthetic::SyntheticEngine;

use crate::protocol::InVitroProtocol;
use crate::synapse::{RuleParams, RuleVariant, PARAM_BOUNDS, PARAM_NAMES};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One scored protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveProtocol {
    pub id: String,
    pub weight: f64,
}

/// A parameter searched within bounds, or held fixed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum ParameterSpec {
    Free { lower: f64, upper: f64 },
    Fixed { fixed: f64 },
}

/// How candidates are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Trace replay (SPEC §8), the default.
    Replay,
    /// Full simulation of every connection.
    Full,
    /// A smooth, cheap, deterministic function of the parameters standing
    /// in for simulation ([`SyntheticEngine`]), to test and benchmark the
    /// fitting machinery.
    Synthetic,
}

impl EngineKind {
    /// The name used in objective files.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Replay => "replay",
            EngineKind::Full => "full",
            EngineKind::Synthetic => "synthetic",
        }
    }
}

fn default_engine() -> EngineKind {
    EngineKind::Replay
}

fn default_variant() -> RuleVariant {
    RuleVariant::Paper
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Training protocols, one objective each, with weights.
    pub protocols: Vec<ObjectiveProtocol>,
    pub connections_per_protocol: usize,
    /// Seed of the connection sample (and release draws).
    pub sample_seed: u64,
    /// Every one of the 11 rule parameters, free or fixed.
    pub parameters: BTreeMap<String, ParameterSpec>,
    #[serde(default = "default_variant")]
    pub variant: RuleVariant,
    #[serde(default = "default_engine")]
    pub engine: EngineKind,
    /// Held-out protocol ids for validation.
    #[serde(default)]
    pub heldout: Vec<String>,
}

impl Objective {
    pub fn load(path: &Path) -> Result<Objective> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    pub fn from_json_str(text: &str, label: &str) -> Result<Objective> {
        let file_error = |problem: String| Error::File {
            file: label.into(),
            problem,
        };
        let o: Objective = serde_json::from_str(text).map_err(|e| {
            let field = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| locate_bad_field(&v));
            match field {
                Some(field) => file_error(format!("not a valid objective: {field} ({e})")),
                None => file_error(format!("not a valid objective: {e}")),
            }
        })?;
        o.validate().map_err(file_error)?;
        Ok(o)
    }

    /// Checks that name the offending field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.protocols.is_empty() {
            return Err("field 'protocols': at least one protocol is needed".into());
        }
        for (i, p) in self.protocols.iter().enumerate() {
            if !(p.weight > 0.0 && p.weight.is_finite()) {
                return Err(format!(
                    "field 'protocols[{i}].weight' ({}): must be a positive number",
                    p.id
                ));
            }
            if self.protocols[..i].iter().any(|q| q.id == p.id) {
                return Err(format!("field 'protocols[{i}].id': '{}' is listed twice", p.id));
            }
        }
        if self.connections_per_protocol == 0 {
            return Err("field 'connections_per_protocol': must be at least 1".into());
        }
        for name in self.parameters.keys() {
            if !PARAM_NAMES.contains(&name.as_str()) {
                return Err(format!(
                    "field 'parameters.{name}': unknown parameter (known: {})",
                    PARAM_NAMES.join(", ")
                ));
            }
        }
        for name in PARAM_NAMES {
            match self.parameters.get(name) {
                None => {
                    return Err(format!(
                        "field 'parameters.{name}': missing (give bounds or a fixed value)"
                    ))
                }
                Some(ParameterSpec::Free { lower, upper })
                    if !(lower < upper && lower.is_finite() && upper.is_finite()) =>
                {
                    return Err(format!(
                        "field 'parameters.{name}': lower ({lower}) must be below upper ({upper})"
                    ))
                }
                Some(ParameterSpec::Fixed { fixed }) if !fixed.is_finite() => {
                    return Err(format!("field 'parameters.{name}.fixed': must be a number"))
                }
                _ => {}
            }
        }
        if self.free_names().is_empty() {
            return Err("field 'parameters': every parameter is fixed, nothing to fit".into());
        }
        Ok(())
    }

    /// Checks the protocol ids against the dataset.
    pub fn check_protocols(&self, table: &[InVitroProtocol]) -> Result<()> {
        for id in self.protocols.iter().map(|p| &p.id).chain(&self.heldout) {
            if !table.iter().any(|p| &p.protocol_id == id) {
                return Err(Error::Config(format!(
                    "objective '{}': protocol '{id}' is not in the dataset",
                    self.name
                )));
            }
        }
        Ok(())
    }

    pub fn protocol_ids(&self) -> Vec<String> {
        self.protocols.iter().map(|p| p.id.clone()).collect()
    }

    pub fn weights(&self) -> Vec<f64> {
        self.protocols.iter().map(|p| p.weight).collect()
    }

    /// Names of the free parameters, in canonical order.
    pub fn free_names(&self) -> Vec<&'static str> {
        PARAM_NAMES
            .into_iter()
            .filter(|n| matches!(self.parameters.get(*n), Some(ParameterSpec::Free { .. })))
            .collect()
    }

    /// Bounds of the free parameters, in canonical order.
    pub fn free_bounds(&self) -> Vec<(f64, f64)> {
        PARAM_NAMES
            .iter()
            .filter_map(|n| match self.parameters.get(*n) {
                Some(ParameterSpec::Free { lower, upper }) => Some((*lower, *upper)),
                _ => None,
            })
            .collect()
    }

    /// The τ* (ms) a fit of this objective may try: its bounds, or its
    /// fixed value twice.
    pub fn tau_star_range(&self) -> (f64, f64) {
        match self.parameters.get(PARAM_NAMES[0]) {
            Some(ParameterSpec::Free { lower, upper }) => (*lower, *upper),
            Some(ParameterSpec::Fixed { fixed }) => (*fixed, *fixed),
            None => PARAM_BOUNDS[0],
        }
    }

    /// Full rule parameters from the free values (canonical order).
    pub fn params(&self, free: &[f64]) -> Result<RuleParams> {
        let mut it = free.iter();
        let values: Vec<f64> = PARAM_NAMES
            .iter()
            .map(|n| match self.parameters[*n] {
                ParameterSpec::Fixed { fixed } => Ok(fixed),
                ParameterSpec::Free { .. } => it
                    .next()
                    .copied()
                    .ok_or_else(|| Error::Config("too few free parameter values".into())),
            })
            .collect::<Result<_>>()?;
        if it.next().is_some() {
            return Err(Error::Config("too many free parameter values".into()));
        }
        RuleParams::from_values(&values)
    }

    /// The paper's box of SPEC §2.7 with every parameter free.
    pub fn paper_box() -> BTreeMap<String, ParameterSpec> {
        PARAM_NAMES
            .iter()
            .zip(PARAM_BOUNDS)
            .map(|(n, (lower, upper))| (n.to_string(), ParameterSpec::Free { lower, upper }))
            .collect()
    }
}

/// For a JSON document that does not parse as an [`Objective`], the first
/// field whose value has the wrong type or is unknown, as
/// "field 'path': problem".
fn locate_bad_field(v: &serde_json::Value) -> Option<String> {
    use serde::de::DeserializeOwned;
    use serde_json::Value;
    fn check<T: DeserializeOwned>(path: &str, v: &Value) -> Option<String> {
        serde_json::from_value::<T>(v.clone())
            .err()
            .map(|e| format!("field '{path}': {e}"))
    }
    let Value::Object(map) = v else {
        return Some("the file must hold a JSON object".into());
    };
    for (key, value) in map {
        let found = match key.as_str() {
            "name" | "description" => check::<String>(key, value),
            "connections_per_protocol" => check::<usize>(key, value),
            "sample_seed" => check::<u64>(key, value),
            "variant" => check::<RuleVariant>(key, value),
            "engine" => check::<EngineKind>(key, value),
            "heldout" => check::<Vec<String>>(key, value),
            "protocols" => match value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .find_map(|(i, p)| check::<ObjectiveProtocol>(&format!("protocols[{i}]"), p)),
                _ => check::<Vec<ObjectiveProtocol>>(key, value),
            },
            "parameters" => match value {
                Value::Object(params) => params
                    .iter()
                    .find_map(|(name, p)| check::<ParameterSpec>(&format!("parameters.{name}"), p)),
                _ => check::<BTreeMap<String, ParameterSpec>>(key, value),
            },
            _ => Some(format!("field '{key}': unknown field")),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// |in-silico mean − in-vitro mean| / in-vitro SEM.
pub fn error_sem(insilico_mean: f64, protocol: &InVitroProtocol) -> f64 {
    (insilico_mean - protocol.epsp_ratio_mean).abs() / protocol.epsp_ratio_sem
}

/// Largest weighted error (the minimax criterion of the best solution).
pub fn max_weighted_error(errors: &[f64], weights: &[f64]) -> f64 {
    errors
        .iter()
        .zip(weights)
        .map(|(e, w)| e * w)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Valid: every training error within 1 SEM.
pub fn is_valid(errors: &[f64]) -> bool {
    errors.iter().all(|&e| e <= 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective() -> Objective {
        Objective {
            name: "t".into(),
            description: String::new(),
            protocols: vec![ObjectiveProtocol {
                id: "mrk97_01".into(),
                weight: 0.125,
            }],
            connections_per_protocol: 10,
            sample_seed: 1,
            parameters: Objective::paper_box(),
            variant: RuleVariant::Paper,
            engine: EngineKind::Replay,
            heldout: vec![],
        }
    }

    #[test]
    fn fixed_parameters_are_merged_in_canonical_order() {
        let mut o = objective();
        o.parameters
            .insert("gamma_d".into(), ParameterSpec::Fixed { fixed: 0.0 });
        assert_eq!(o.free_names().len(), 10);
        let free: Vec<f64> = (0..10).map(|i| 1.5 + i as f64).collect();
        let p = o.params(&free).unwrap();
        assert_eq!(p.gamma_d, 0.0);
        assert_eq!(p.tau_star_ms, 1.5);
        assert_eq!(p.gamma_p, 2.5);
        assert!(o.params(&free[..9]).is_err());
    }

    #[test]
    fn the_tau_star_range_is_the_bounds_or_the_fixed_value() {
        let mut o = objective();
        assert_eq!(o.tau_star_range(), (150.0, 350.0));
        let wide = ParameterSpec::Free {
            lower: 100.0,
            upper: 1000.0,
        };
        o.parameters.insert("tau_star_ms".into(), wide);
        assert_eq!(o.tau_star_range(), (100.0, 1000.0));
        o.parameters
            .insert("tau_star_ms".into(), ParameterSpec::Fixed { fixed: 500.0 });
        assert_eq!(o.tau_star_range(), (500.0, 500.0));
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut o = objective();
        o.parameters.remove("a31");
        assert!(o.validate().unwrap_err().contains("parameters.a31"));
        let mut o = objective();
        o.protocols[0].weight = -1.0;
        assert!(o.validate().unwrap_err().contains("protocols[0].weight"));
        let mut o = objective();
        o.parameters
            .insert("a00".into(), ParameterSpec::Free { lower: 5.0, upper: 1.0 });
        assert!(o.validate().unwrap_err().contains("parameters.a00"));
        let json = serde_json::to_string(&objective())
            .unwrap()
            .replace("\"name\"", "\"nmae\"");
        assert!(Objective::from_json_str(&json, "x.json")
            .unwrap_err()
            .to_string()
            .contains("x.json"));
    }

    #[test]
    fn malformed_values_name_their_field() {
        let good = serde_json::to_value(objective()).unwrap();
        let cases = [
            ("/engine", serde_json::json!("warp"), "field 'engine'"),
            (
                "/connections_per_protocol",
                serde_json::json!("many"),
                "field 'connections_per_protocol'",
            ),
            (
                "/parameters/gamma_p",
                serde_json::json!({"low": 1.0}),
                "field 'parameters.gamma_p'",
            ),
            (
                "/protocols/0/weight",
                serde_json::json!("heavy"),
                "field 'protocols[0]'",
            ),
        ];
        for (pointer, bad, expected) in cases {
            let mut v = good.clone();
            *v.pointer_mut(pointer).unwrap() = bad;
            let text = Objective::from_json_str(&v.to_string(), "o.json")
                .unwrap_err()
                .to_string();
            assert!(text.contains(expected), "{text} should contain {expected}");
        }
        let mut v = good.clone();
        v.as_object_mut()
            .unwrap()
            .insert("engin".into(), serde_json::json!("full"));
        let text = Objective::from_json_str(&v.to_string(), "o.json")
            .unwrap_err()
            .to_string();
        assert!(text.contains("field 'engin': unknown field"), "{text}");
        let mut v = good;
        v["engine"] = serde_json::json!("synthetic");
        assert_eq!(
            Objective::from_json_str(&v.to_string(), "o.json").unwrap().engine,
            EngineKind::Synthetic
        );
    }

    #[test]
    fn minimax_and_validity() {
        assert_eq!(max_weighted_error(&[2.0, 1.0], &[0.25, 1.0]), 1.0);
        assert!(is_valid(&[1.0, 0.3]) && !is_valid(&[1.01]));
    }
}
