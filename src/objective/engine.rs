//! From rule parameters to objective errors: the [`ProtocolEngine`] seam and
//! the [`ObjectiveEvaluator`] the optimiser sees.

use super::{error_sem, Objective};
use crate::optim::Evaluator;
use crate::protocol::{run_protocols, InVitroProtocol, ProtocolJob, ProtocolResult, RunnerSettings};
use crate::synapse::RuleParams;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// Computes, for a candidate's rule parameters, each objective protocol's
/// in-silico result, in objective order.
///
/// Implementations must be deterministic functions of `params` (a fit's
/// reproducibility and exact resumption rest on it) and may be called from
/// several threads at once.
pub trait ProtocolEngine: Sync {
    fn run(&self, params: &RuleParams) -> Result<Vec<ProtocolResult>>;
}

impl<E: ProtocolEngine + ?Sized> ProtocolEngine for Box<E> {
    fn run(&self, params: &RuleParams) -> Result<Vec<ProtocolResult>> {
        (**self).run(params)
    }
}

impl<E: ProtocolEngine + ?Sized> ProtocolEngine for &E {
    fn run(&self, params: &RuleParams) -> Result<Vec<ProtocolResult>> {
        (**self).run(params)
    }
}

/// Full simulation of every sampled connection through every protocol
/// ([`run_protocols`]); the jobs must be in objective order.
pub struct FullEngine {
    jobs: Vec<ProtocolJob>,
    settings: RunnerSettings,
}

impl FullEngine {
    pub fn new(jobs: Vec<ProtocolJob>, settings: RunnerSettings) -> Self {
        FullEngine { jobs, settings }
    }

    pub fn jobs(&self) -> &[ProtocolJob] {
        &self.jobs
    }
}

impl ProtocolEngine for FullEngine {
    fn run(&self, params: &RuleParams) -> Result<Vec<ProtocolResult>> {
        run_protocols(&self.jobs, params, &self.settings, &|| {})
    }
}

/// Trace replay (SPEC §8) of the cache's connections, with the rule variant
/// the cache was built for; the cache's protocols must be in objective order.
impl ProtocolEngine for crate::replay::Replay {
    fn run(&self, params: &RuleParams) -> Result<Vec<ProtocolResult>> {
        Ok(self.evaluate(params, self.cache().identity.variant))
    }
}

/// One evaluated candidate: its errors (in SEM, objective order) and the
/// in-silico mean EPSP ratio of each protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub errors: Vec<f64>,
    pub insilico_means: Vec<f64>,
}

/// An objective as an optimisation problem over its free parameters: each
/// error is `|in-silico mean − in-vitro mean| / in-vitro SEM` of one
/// training protocol, in objective order.
///
/// The optimiser keeps only the errors of a candidate; the in-silico means
/// of every successful evaluation are also kept here, keyed by the exact bits
/// of the candidate's free values, until read with
/// [`ObjectiveEvaluator::insilico_means`] and dropped with
/// [`ObjectiveEvaluator::forget_means`].
pub struct ObjectiveEvaluator<E> {
    objective: Objective,
    protocols: Vec<InVitroProtocol>,
    bounds: Vec<(f64, f64)>,
    names: Vec<String>,
    engine: E,
    means: Mutex<HashMap<Vec<u64>, Vec<f64>>>,
}

impl<E: ProtocolEngine> ObjectiveEvaluator<E> {
    /// The training protocols are looked up by id in `table` (the in-vitro
    /// dataset); `engine` must return their results in objective order.
    pub fn new(objective: &Objective, table: &[InVitroProtocol], engine: E) -> Result<Self> {
        objective.validate().map_err(Error::Config)?;
        let protocols = training_protocols(objective, table)?;
        Ok(ObjectiveEvaluator {
            objective: objective.clone(),
            protocols,
            bounds: objective.free_bounds(),
            names: objective.protocol_ids(),
            engine,
            means: Mutex::new(HashMap::new()),
        })
    }

    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// The in-vitro rows of the training protocols, in objective order.
    pub fn protocols(&self) -> &[InVitroProtocol] {
        &self.protocols
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Runs the engine on the full rule parameters of `free` values and
    /// scores the results.
    pub fn score(&self, free: &[f64]) -> Result<Scored> {
        let params = self.objective.params(free)?;
        let results = self.engine.run(&params)?;
        if results.len() != self.protocols.len() {
            return Err(Error::Config(format!(
                "the engine returned {} protocol results for {} objectives",
                results.len(),
                self.protocols.len()
            )));
        }
        let mut errors = Vec::with_capacity(results.len());
        let mut insilico_means = Vec::with_capacity(results.len());
        for (result, protocol) in results.iter().zip(&self.protocols) {
            if result.protocol.protocol_id != protocol.protocol_id {
                return Err(Error::Config(format!(
                    "the engine returned protocol '{}' where '{}' was expected",
                    result.protocol.protocol_id, protocol.protocol_id
                )));
            }
            let ratios = result.ratios();
            if ratios.is_empty() {
                return Err(Error::Config(format!(
                    "protocol '{}': no connection could be measured",
                    protocol.protocol_id
                )));
            }
            let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
            insilico_means.push(mean);
            errors.push(error_sem(mean, protocol));
        }
        Ok(Scored { errors, insilico_means })
    }

    /// The in-silico means recorded for a candidate evaluated with these
    /// exact free values (`None` if it was not evaluated, failed, or was
    /// forgotten).
    pub fn insilico_means(&self, free: &[f64]) -> Option<Vec<f64>> {
        self.lock().get(&key(free)).cloned()
    }

    /// Drops every recorded mean (call once they have been read, e.g. after
    /// each generation).
    pub fn forget_means(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u64>, Vec<f64>>> {
        // The map holds plain data: a panic while it was locked cannot leave
        // it inconsistent.
        self.means.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<E: ProtocolEngine> Evaluator for ObjectiveEvaluator<E> {
    fn bounds(&self) -> &[(f64, f64)] {
        &self.bounds
    }

    fn objective_names(&self) -> &[String] {
        &self.names
    }

    fn evaluate(&self, values: &[f64]) -> std::result::Result<Vec<f64>, String> {
        let scored = self.score(values).map_err(|e| e.to_string())?;
        self.lock().insert(key(values), scored.insilico_means);
        Ok(scored.errors)
    }
}

/// The in-vitro rows of an objective's training protocols, in objective order.
pub fn training_protocols(objective: &Objective, table: &[InVitroProtocol]) -> Result<Vec<InVitroProtocol>> {
    objective.check_protocols(table)?;
    Ok(objective
        .protocols
        .iter()
        .map(|p| {
            table
                .iter()
                .find(|row| row.protocol_id == p.id)
                .expect("checked above")
                .clone()
        })
        .collect())
}

fn key(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::{EngineKind, ObjectiveProtocol};
    use crate::protocol::{embedded_protocols, ConnectionOutcome, Exclusion};
    use crate::synapse::RuleVariant;

    /// Returns fixed ratios per protocol, whatever the parameters.
    struct Fixed(Vec<(InVitroProtocol, Vec<Option<f64>>)>);

    impl ProtocolEngine for Fixed {
        fn run(&self, _: &RuleParams) -> Result<Vec<ProtocolResult>> {
            Ok(self
                .0
                .iter()
                .map(|(p, ratios)| ProtocolResult {
                    protocol: p.clone(),
                    pathway: p.pathway_id(),
                    outcomes: ratios
                        .iter()
                        .enumerate()
                        .map(|(i, r)| match r {
                            Some(r) => Ok(ConnectionOutcome {
                                connection_id: i,
                                synapses: 1,
                                apical_fraction: 0.0,
                                baseline_epsp_mv: 1.0,
                                after_epsp_mv: *r,
                                baseline_slope_mv_per_ms: 1.0,
                                after_slope_mv_per_ms: *r,
                                epsp_ratio: *r,
                                flipped_up: 0,
                                flipped_down: 0,
                            }),
                            None => Err(Exclusion {
                                connection_id: i,
                                reason: "no spike".into(),
                            }),
                        })
                        .collect(),
                })
                .collect())
        }
    }

    fn objective(ids: &[&str]) -> Objective {
        Objective {
            name: "t".into(),
            description: String::new(),
            protocols: ids
                .iter()
                .map(|id| ObjectiveProtocol {
                    id: id.to_string(),
                    weight: 1.0,
                })
                .collect(),
            connections_per_protocol: 3,
            sample_seed: 1,
            parameters: Objective::paper_box(),
            variant: RuleVariant::Paper,
            engine: EngineKind::Full,
            heldout: vec![],
        }
    }

    fn row(table: &[InVitroProtocol], id: &str) -> InVitroProtocol {
        table.iter().find(|p| p.protocol_id == id).unwrap().clone()
    }

    #[test]
    fn errors_are_distances_of_the_means_in_sem_and_means_are_kept() {
        let table = embedded_protocols().unwrap();
        let (a, b) = (row(&table, "mrk97_01"), row(&table, "sjh06_02"));
        let ratios_a = vec![
            Some(a.epsp_ratio_mean + a.epsp_ratio_sem),
            None,
            Some(a.epsp_ratio_mean),
        ];
        let ratios_b = vec![Some(b.epsp_ratio_mean - 3.0 * b.epsp_ratio_sem)];
        let engine = Fixed(vec![(a.clone(), ratios_a), (b.clone(), ratios_b)]);
        let ev = ObjectiveEvaluator::new(&objective(&["mrk97_01", "sjh06_02"]), &table, engine).unwrap();
        assert_eq!(ev.objective_names(), ["mrk97_01", "sjh06_02"]);
        assert_eq!(ev.bounds().len(), 11);
        let x: Vec<f64> = ev.bounds().iter().map(|(lo, hi)| 0.5 * (lo + hi)).collect();
        let errors = ev.evaluate(&x).unwrap();
        assert!((errors[0] - 0.5).abs() < 1e-9, "{errors:?}");
        assert!((errors[1] - 3.0).abs() < 1e-9, "{errors:?}");
        let means = ev.insilico_means(&x).unwrap();
        assert!((means[0] - (a.epsp_ratio_mean + 0.5 * a.epsp_ratio_sem)).abs() < 1e-12);
        let mut y = x.clone();
        y[0] = f64::from_bits(y[0].to_bits() + 1);
        assert_eq!(ev.insilico_means(&y), None);
        ev.forget_means();
        assert_eq!(ev.insilico_means(&x), None);
    }

    #[test]
    fn engine_mismatches_and_unmeasurable_protocols_fail_the_candidate() {
        let table = embedded_protocols().unwrap();
        let a = row(&table, "mrk97_01");
        let x: Vec<f64> = objective(&["mrk97_01"]).free_bounds().iter().map(|b| b.0).collect();
        // Every connection excluded.
        let ev =
            ObjectiveEvaluator::new(&objective(&["mrk97_01"]), &table, Fixed(vec![(a.clone(), vec![None])])).unwrap();
        assert!(ev.evaluate(&x).unwrap_err().contains("mrk97_01"));
        assert_eq!(ev.insilico_means(&x), None);
        // Wrong protocol count and wrong protocol.
        let ev = ObjectiveEvaluator::new(
            &objective(&["mrk97_01", "mrk97_02"]),
            &table,
            Fixed(vec![(a.clone(), vec![Some(1.0)])]),
        )
        .unwrap();
        assert!(ev.evaluate(&x).unwrap_err().contains("1 protocol results for 2"));
        let ev = ObjectiveEvaluator::new(&objective(&["mrk97_02"]), &table, Fixed(vec![(a, vec![Some(1.0)])])).unwrap();
        assert!(ev.evaluate(&x).unwrap_err().contains("'mrk97_01' where 'mrk97_02'"));
        // Unknown protocol ids are refused up front.
        assert!(ObjectiveEvaluator::new(&objective(&["nope"]), &table, Fixed(vec![])).is_err());
    }
}
