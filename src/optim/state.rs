//! The generational loop, as a serialisable state advanced one generation
//! at a time by [`step`].

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::archive::HallOfFame;
use super::config::{validate_bounds, OptimiserConfig};
use super::evaluator::Evaluator;
use super::individual::Individual;
use super::selection::selector_for;
use super::variation::{var_and, Child};

/// Everything needed to continue a run: settings, the problem's signature,
/// the generation counter, the surviving population, the parents of the
/// next offspring, the hall of fame and the random generator (with its exact
/// stream position).
///
/// Serialising it (e.g. with `serde_json`) after any [`step`] and
/// deserialising it later continues the run bit for bit: the saved
/// population is not evaluated again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimiserState {
    config: OptimiserConfig,
    bounds: Vec<(f64, f64)>,
    objective_names: Vec<String>,
    generation: u64,
    evaluations: u64,
    population: Vec<Individual>,
    parents: Vec<Individual>,
    hall_of_fame: HallOfFame,
    rng: ChaCha8Rng,
}

impl OptimiserState {
    /// A fresh run: validates the settings and the evaluator's bounds and
    /// objectives, and seeds the generator. Nothing is evaluated until the
    /// first [`step`], which draws and evaluates the initial population.
    pub fn new<E: Evaluator + ?Sized>(config: OptimiserConfig, evaluator: &E, seed: u64) -> Result<Self> {
        config.validate()?;
        validate_bounds(evaluator.bounds())?;
        if evaluator.objective_names().is_empty() {
            return Err(Error::Config("the evaluator has no objective".to_string()));
        }
        Ok(OptimiserState {
            config,
            bounds: evaluator.bounds().to_vec(),
            objective_names: evaluator.objective_names().to_vec(),
            generation: 0,
            evaluations: 0,
            population: Vec::new(),
            parents: Vec::new(),
            hall_of_fame: HallOfFame::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// The settings of the run.
    pub fn config(&self) -> &OptimiserConfig {
        &self.config
    }

    /// The search box the run was started with.
    pub fn bounds(&self) -> &[(f64, f64)] {
        &self.bounds
    }

    /// The objectives the run was started with.
    pub fn objective_names(&self) -> &[String] {
        &self.objective_names
    }

    /// Number of completed generations; generation 0 is the initial
    /// population, so after `n` steps this is `n` and the next step is
    /// generation `n`.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of evaluations made so far (also the next candidate's `id`).
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// The surviving population, which the next offspring join to form the
    /// next pool.
    pub fn population(&self) -> &[Individual] {
        &self.population
    }

    /// The parents of the next offspring, in mating order.
    pub fn parents(&self) -> &[Individual] {
        &self.parents
    }

    /// The non-dominated set of everything evaluated so far.
    pub fn hall_of_fame(&self) -> &HallOfFame {
        &self.hall_of_fame
    }

    /// Refuses to continue with an evaluator other than the one the run was
    /// started with, or a state whose settings were edited into invalid ones.
    fn check(&self, evaluator: &(impl Evaluator + ?Sized)) -> Result<()> {
        self.config.validate()?;
        if evaluator.bounds() != self.bounds.as_slice() {
            return Err(Error::Config(format!(
                "the evaluator's parameter bounds {:?} differ from the run's {:?}",
                evaluator.bounds(),
                self.bounds
            )));
        }
        if evaluator.objective_names() != self.objective_names.as_slice() {
            return Err(Error::Config(format!(
                "the evaluator's objectives {:?} differ from the run's {:?}",
                evaluator.objective_names(),
                self.objective_names
            )));
        }
        if self.generation > 0 && self.parents.is_empty() {
            return Err(Error::Config(format!(
                "the state is at generation {} but holds no parents",
                self.generation
            )));
        }
        let (n, m) = (self.bounds.len(), self.objective_names.len());
        for ind in self.population.iter().chain(&self.parents) {
            if ind.values.len() != n || ind.errors.len() != m {
                return Err(Error::Config(format!(
                    "candidate {} has {} values and {} errors, expected {n} and {m}",
                    ind.id,
                    ind.values.len(),
                    ind.errors.len()
                )));
            }
        }
        Ok(())
    }
}

/// Figures of one generation, for logs and progress displays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationSummary {
    /// Index of the generation (0 = initial population).
    pub generation: u64,
    /// Candidates evaluated in this generation.
    pub evaluated: usize,
    /// Of these, how many failed.
    pub failed: usize,
    /// Of these, how many are valid (every error ≤ 1).
    pub valid: usize,
    /// Evaluations since the start of the run.
    pub total_evaluations: u64,
    /// Size of the pool the selection saw (population + offspring).
    pub pool_size: usize,
    /// Size of the hall of fame after this generation.
    pub hall_of_fame_size: usize,
    /// Smallest error of each objective over the pool.
    pub min_errors: Vec<f64>,
    /// Smallest largest-error (unweighted minimax) over the pool.
    pub best_max_error: f64,
}

/// What one [`step`] produced: the candidates it evaluated, in evaluation
/// order (`id` increasing; failures carry the penalty errors and their
/// message), and the summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationReport {
    pub summary: GenerationSummary,
    pub evaluated: Vec<Individual>,
}

/// Receives every generation once the state has been advanced past it; the
/// state passed is complete, so an observer can checkpoint it. An error
/// stops [`run`] (the state stays consistent).
pub trait Observer {
    fn observe(&mut self, report: &GenerationReport, state: &OptimiserState) -> Result<()>;
}

impl Observer for () {
    fn observe(&mut self, _: &GenerationReport, _: &OptimiserState) -> Result<()> {
        Ok(())
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, report: &GenerationReport, state: &OptimiserState) -> Result<()> {
        (**self).observe(report, state)
    }
}

impl<O: Observer + ?Sized> Observer for Box<O> {
    fn observe(&mut self, report: &GenerationReport, state: &OptimiserState) -> Result<()> {
        (**self).observe(report, state)
    }
}

/// Both observers, first `A` then `B`.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, report: &GenerationReport, state: &OptimiserState) -> Result<()> {
        self.0.observe(report, state)?;
        self.1.observe(report, state)
    }
}

/// Every observer in turn.
impl Observer for Vec<Box<dyn Observer>> {
    fn observe(&mut self, report: &GenerationReport, state: &OptimiserState) -> Result<()> {
        for o in self.iter_mut() {
            o.observe(report, state)?;
        }
        Ok(())
    }
}

/// Keeps every report in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorder {
    pub reports: Vec<GenerationReport>,
}

impl Recorder {
    /// Every candidate evaluated so far, in evaluation order.
    pub fn evaluated(&self) -> impl Iterator<Item = &Individual> {
        self.reports.iter().flat_map(|r| r.evaluated.iter())
    }
}

impl Observer for Recorder {
    fn observe(&mut self, report: &GenerationReport, _: &OptimiserState) -> Result<()> {
        self.reports.push(report.clone());
        Ok(())
    }
}

/// Runs one generation.
///
/// Generation 0 draws `offspring_size` candidates uniformly in the bounds and
/// evaluates them. Every later generation, as BluePyOpt's
/// `eaAlphaMuPlusLambdaCheckpoint` does: vary the parents with
/// [`var_and`](super::variation::var_and); evaluate the offspring that were
/// changed (unchanged clones keep their parent's record); form the pool
/// `population + offspring`; update the hall of fame; let the selector choose
/// the surviving population and the next parents.
///
/// All random numbers are drawn serially before evaluation; evaluations run
/// in parallel on the current rayon pool and are collected in order, so the
/// outcome does not depend on the number of threads. The observer is called
/// last, with the advanced state.
pub fn step<E, O>(state: &mut OptimiserState, evaluator: &E, observer: &mut O) -> Result<GenerationReport>
where
    E: Evaluator + ?Sized,
    O: Observer + ?Sized,
{
    state.check(evaluator)?;
    let mu = state.config.offspring_size;
    let generation = state.generation;
    let initial = generation == 0;

    let children: Vec<Child> = if initial {
        let bounds = &state.bounds;
        let rng = &mut state.rng;
        (0..mu)
            .map(|_| Child {
                values: bounds
                    .iter()
                    .map(|&(lo, hi)| lo + (hi - lo) * rng.gen::<f64>())
                    .collect(),
                changed: true,
            })
            .collect()
    } else {
        let parents: Vec<&[f64]> = state.parents.iter().map(|p| p.values.as_slice()).collect();
        var_and(&parents, &state.bounds, &state.config, &mut state.rng)
    };

    let to_evaluate: Vec<Vec<f64>> = children
        .iter()
        .filter(|c| c.changed)
        .map(|c| c.values.clone())
        .collect();
    let evaluated = evaluate_all(
        evaluator,
        to_evaluate,
        state.evaluations,
        state.objective_names.len(),
        state.config.failure_penalty,
    );

    let mut fresh = evaluated.iter();
    let offspring: Vec<Individual> = children
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.changed {
                fresh.next().expect("one evaluation per changed child").clone()
            } else {
                state.parents[i].clone()
            }
        })
        .collect();
    let pool: Vec<Individual> = if initial {
        offspring
    } else {
        let mut pool = std::mem::take(&mut state.population);
        pool.extend(offspring);
        pool
    };

    for ind in &evaluated {
        state.hall_of_fame.update(ind);
    }

    let selector = selector_for(&state.config);
    let errors: Vec<&[f64]> = pool.iter().map(|i| i.errors.as_slice()).collect();
    let selection = if initial {
        selector.select_initial(&errors, mu, &mut state.rng)
    } else {
        selector.select(&errors, mu, &mut state.rng)
    };
    state.population = selection.survivors.iter().map(|&i| pool[i].clone()).collect();
    state.parents = selection.parents.iter().map(|&i| pool[i].clone()).collect();
    state.evaluations += evaluated.len() as u64;
    state.generation += 1;

    let report = GenerationReport {
        summary: summarise(state, generation, &evaluated, &pool),
        evaluated,
    };
    observer.observe(&report, state)?;
    Ok(report)
}

/// Steps until `state.generation() == generations` (nothing if already
/// there). `generations` counts the initial population, as BluePyOpt's
/// `max_ngen` does: `run(.., 250)` evaluates 250 generations in all.
pub fn run<E, O>(state: &mut OptimiserState, evaluator: &E, observer: &mut O, generations: u64) -> Result<()>
where
    E: Evaluator + ?Sized,
    O: Observer + ?Sized,
{
    while state.generation < generations {
        step(state, evaluator, observer)?;
    }
    Ok(())
}

/// Summary of `generation`, with `state` already advanced past it.
fn summarise(
    state: &OptimiserState,
    generation: u64,
    evaluated: &[Individual],
    pool: &[Individual],
) -> GenerationSummary {
    let m = state.objective_names.len();
    let mut min_errors = vec![f64::INFINITY; m];
    let mut best_max_error = f64::INFINITY;
    for ind in pool {
        for (lo, &e) in min_errors.iter_mut().zip(&ind.errors) {
            *lo = lo.min(e);
        }
        let worst = ind.errors.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        best_max_error = best_max_error.min(worst);
    }
    GenerationSummary {
        generation,
        evaluated: evaluated.len(),
        failed: evaluated.iter().filter(|i| i.failed()).count(),
        valid: evaluated.iter().filter(|i| i.is_valid()).count(),
        total_evaluations: state.evaluations,
        pool_size: pool.len(),
        hall_of_fame_size: state.hall_of_fame.len(),
        min_errors,
        best_max_error,
    }
}

/// Evaluates in parallel, preserving order; ids are `first_id`, `first_id+1`…
fn evaluate_all<E: Evaluator + ?Sized>(
    evaluator: &E,
    candidates: Vec<Vec<f64>>,
    first_id: u64,
    objectives: usize,
    penalty: f64,
) -> Vec<Individual> {
    candidates
        .into_par_iter()
        .enumerate()
        .map(|(k, values)| {
            let outcome = catch_unwind(AssertUnwindSafe(|| evaluator.evaluate(&values)))
                .unwrap_or_else(|payload| Err(format!("evaluation panicked: {}", panic_message(&*payload))))
                .and_then(|errors| check_errors(errors, objectives));
            let id = first_id + k as u64;
            match outcome {
                Ok(errors) => Individual {
                    id,
                    values,
                    errors,
                    failure: None,
                },
                Err(message) => Individual {
                    id,
                    values,
                    errors: vec![penalty; objectives],
                    failure: Some(message),
                },
            }
        })
        .collect()
}

fn check_errors(errors: Vec<f64>, objectives: usize) -> std::result::Result<Vec<f64>, String> {
    if errors.len() != objectives {
        return Err(format!(
            "the evaluator returned {} errors for {objectives} objectives",
            errors.len()
        ));
    }
    if let Some((k, e)) = errors.iter().enumerate().find(|(_, e)| !e.is_finite()) {
        return Err(format!("error of objective {k} is not finite ({e})"));
    }
    Ok(errors)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::benchmarks::{Zdt, ZdtProblem};
    use crate::optim::config::SelectorKind;

    fn small(selector: SelectorKind) -> OptimiserConfig {
        OptimiserConfig {
            offspring_size: 12,
            selector,
            ..OptimiserConfig::default()
        }
    }

    #[test]
    fn generation_zero_evaluates_the_initial_population_in_bounds() {
        let zdt = Zdt::new(ZdtProblem::Zdt1, 5);
        let mut state = OptimiserState::new(small(SelectorKind::Ibea), &zdt, 3).unwrap();
        let report = step(&mut state, &zdt, &mut ()).unwrap();
        assert_eq!(report.summary.generation, 0);
        assert_eq!(report.evaluated.len(), 12);
        let ids: Vec<u64> = report.evaluated.iter().map(|i| i.id).collect();
        assert_eq!(ids, (0..12).collect::<Vec<u64>>());
        for ind in &report.evaluated {
            assert!(ind.values.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert_eq!(ind.errors, zdt.evaluate(&ind.values).unwrap());
        }
        assert_eq!(state.generation(), 1);
        assert_eq!(state.evaluations(), 12);
        assert_eq!(state.parents().len(), 12);
    }

    #[test]
    fn unchanged_clones_are_not_reevaluated() {
        let zdt = Zdt::new(ZdtProblem::Zdt1, 5);
        for selector in [SelectorKind::Ibea, SelectorKind::IbeaBluepyopt, SelectorKind::Nsga2] {
            let cfg = OptimiserConfig {
                cxpb: 0.0,
                mutpb: 0.0,
                ..small(selector)
            };
            let mut state = OptimiserState::new(cfg, &zdt, 4).unwrap();
            step(&mut state, &zdt, &mut ()).unwrap();
            let report = step(&mut state, &zdt, &mut ()).unwrap();
            assert!(report.evaluated.is_empty());
            assert_eq!(state.evaluations(), 12);
            assert!(state.population().iter().all(|i| i.id < 12));
        }
    }

    #[test]
    fn every_changed_child_is_evaluated_and_stays_in_bounds() {
        let zdt = Zdt::new(ZdtProblem::Zdt2, 4);
        let cfg = OptimiserConfig {
            cxpb: 1.0,
            mutpb: 1.0,
            ..small(SelectorKind::Nsga2)
        };
        let mut state = OptimiserState::new(cfg, &zdt, 5).unwrap();
        let mut rec = Recorder::default();
        run(&mut state, &zdt, &mut rec, 5).unwrap();
        assert_eq!(rec.reports.len(), 5);
        assert!(rec.reports.iter().all(|r| r.evaluated.len() == 12));
        assert_eq!(state.evaluations(), 60);
        for ind in rec.evaluated() {
            assert!(ind.values.iter().all(|&v| (0.0..=1.0).contains(&v)));
        }
    }

    #[test]
    fn a_different_evaluator_is_refused() {
        let zdt = Zdt::new(ZdtProblem::Zdt1, 5);
        let other = Zdt::new(ZdtProblem::Zdt1, 6);
        let mut state = OptimiserState::new(small(SelectorKind::Ibea), &zdt, 3).unwrap();
        step(&mut state, &zdt, &mut ()).unwrap();
        let before = state.clone();
        assert!(matches!(step(&mut state, &other, &mut ()), Err(Error::Config(_))));
        assert_eq!(state, before);
    }

    #[test]
    fn invalid_settings_are_refused_at_start() {
        let zdt = Zdt::new(ZdtProblem::Zdt1, 5);
        let cfg = OptimiserConfig {
            mutpb: 2.0,
            ..OptimiserConfig::default()
        };
        assert!(matches!(OptimiserState::new(cfg, &zdt, 0), Err(Error::Config(_))));
    }

    #[test]
    fn panic_payloads_become_messages() {
        let p = catch_unwind(|| panic!("cell {} diverged", 3)).unwrap_err();
        assert_eq!(panic_message(&*p), "cell 3 diverged");
        assert!(check_errors(vec![1.0], 2).is_err());
        assert!(check_errors(vec![1.0, f64::NAN], 2).is_err());
        assert_eq!(check_errors(vec![1.0, 2.0], 2).unwrap(), vec![1.0, 2.0]);
    }
}
