//! The generational loop: resuming, thread-count independence, failed
//! evaluations, settings validation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use plastifit::optim::benchmarks::{Zdt, ZdtProblem};
use plastifit::optim::{
    run, step, Evaluator, GenerationReport, Individual, Observer, OptimiserConfig, OptimiserState, Recorder,
    SelectorKind,
};
use plastifit::Error;

const SELECTORS: [SelectorKind; 3] = [SelectorKind::Ibea, SelectorKind::IbeaBluepyopt, SelectorKind::Nsga2];

fn config(selector: SelectorKind) -> OptimiserConfig {
    OptimiserConfig {
        offspring_size: 16,
        selector,
        ..OptimiserConfig::default()
    }
}

/// ZDT1 that counts its evaluations and takes a value-dependent time, so
/// that parallel evaluations finish out of order.
struct Counting {
    zdt: Zdt,
    calls: AtomicUsize,
    slow: bool,
}

impl Counting {
    fn new(slow: bool) -> Self {
        Counting {
            zdt: Zdt::new(ZdtProblem::Zdt1, 6),
            calls: AtomicUsize::new(0),
            slow,
        }
    }
}

impl Evaluator for Counting {
    fn bounds(&self) -> &[(f64, f64)] {
        self.zdt.bounds()
    }
    fn objective_names(&self) -> &[String] {
        self.zdt.objective_names()
    }
    fn evaluate(&self, values: &[f64]) -> Result<Vec<f64>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.slow {
            std::thread::sleep(Duration::from_micros((values[1] * 2000.0) as u64));
        }
        self.zdt.evaluate(values)
    }
}

fn all_evaluated(reports: &[GenerationReport]) -> Vec<Individual> {
    reports.iter().flat_map(|r| r.evaluated.clone()).collect()
}

#[test]
fn resume_from_json_equals_an_uninterrupted_run() {
    for selector in SELECTORS {
        let evaluator = Counting::new(false);
        let mut whole = OptimiserState::new(config(selector), &evaluator, 11).unwrap();
        let mut whole_log = Recorder::default();
        run(&mut whole, &evaluator, &mut whole_log, 6).unwrap();

        let first = Counting::new(false);
        let mut half = OptimiserState::new(config(selector), &first, 11).unwrap();
        let mut log = Recorder::default();
        run(&mut half, &first, &mut log, 3).unwrap();
        let json = serde_json::to_string(&half).unwrap();
        drop(half);

        let second = Counting::new(false);
        let mut resumed: OptimiserState = serde_json::from_str(&json).unwrap();
        let evaluations_before = resumed.evaluations();
        run(&mut resumed, &second, &mut log, 6).unwrap();

        // The saved population was not evaluated again: the second half
        // made exactly the evaluations it reports.
        let second_half: usize = log.reports[3..].iter().map(|r| r.evaluated.len()).sum();
        assert_eq!(second.calls.load(Ordering::SeqCst), second_half);
        assert_eq!(log.reports[3].evaluated.first().map(|i| i.id), Some(evaluations_before));

        assert_eq!(log.reports.len(), 6);
        assert_eq!(all_evaluated(&log.reports), all_evaluated(&whole_log.reports));
        assert_eq!(log.reports, whole_log.reports, "{selector}");
        assert_eq!(resumed, whole, "{selector}");
        assert_eq!(
            serde_json::to_string(&resumed).unwrap(),
            serde_json::to_string(&whole).unwrap()
        );
        assert_eq!(evaluator.calls.load(Ordering::SeqCst), whole.evaluations() as usize);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for selector in SELECTORS {
        let run_in = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let evaluator = Counting::new(true);
                let mut state = OptimiserState::new(config(selector), &evaluator, 5).unwrap();
                let mut log = Recorder::default();
                run(&mut state, &evaluator, &mut log, 5).unwrap();
                (state, log)
            })
        };
        let (one, one_log) = run_in(1);
        let (two, two_log) = run_in(2);
        assert_eq!(one_log, two_log, "{selector}");
        assert_eq!(one, two, "{selector}");
    }
}

/// Fails in three ways depending on the candidate.
struct Flaky {
    zdt: Zdt,
}

impl Evaluator for Flaky {
    fn bounds(&self) -> &[(f64, f64)] {
        self.zdt.bounds()
    }
    fn objective_names(&self) -> &[String] {
        self.zdt.objective_names()
    }
    fn evaluate(&self, values: &[f64]) -> Result<Vec<f64>, String> {
        match values[0] {
            x if x > 0.75 => Err(format!("simulation diverged at x0 = {x}")),
            x if x > 0.5 => panic!("spine calcium went negative"),
            x if x > 0.25 => Ok(vec![f64::NAN, 0.0]),
            _ => self.zdt.evaluate(values),
        }
    }
}

#[test]
fn failed_evaluations_get_the_penalty_and_reach_the_observer() {
    let flaky = Flaky {
        zdt: Zdt::new(ZdtProblem::Zdt1, 6),
    };
    let cfg = OptimiserConfig {
        failure_penalty: 50.0,
        ..config(SelectorKind::Ibea)
    };
    let mut state = OptimiserState::new(cfg, &flaky, 2).unwrap();
    let mut log = Recorder::default();
    run(&mut state, &flaky, &mut log, 4).unwrap();

    let failures: Vec<&Individual> = log.evaluated().filter(|i| i.failed()).collect();
    let messages: Vec<&str> = failures.iter().map(|i| i.failure.as_deref().unwrap()).collect();
    assert!(messages.iter().any(|m| m.starts_with("simulation diverged")));
    assert!(messages
        .iter()
        .any(|m| m.contains("panicked") && m.contains("spine calcium went negative")));
    assert!(messages.iter().any(|m| m.contains("not finite")));
    for f in &failures {
        assert_eq!(f.errors, vec![50.0, 50.0]);
    }
    let counted: usize = log.reports.iter().map(|r| r.summary.failed).sum();
    assert_eq!(counted, failures.len());
    assert!(state.hall_of_fame().members().iter().all(|m| !m.failed()));
    assert!(!state.hall_of_fame().is_empty());
}

#[test]
fn invalid_settings_and_problems_are_refused() {
    let zdt = Zdt::new(ZdtProblem::Zdt1, 4);
    for bad in [
        OptimiserConfig {
            offspring_size: 0,
            ..OptimiserConfig::default()
        },
        OptimiserConfig {
            cxpb: -0.5,
            ..OptimiserConfig::default()
        },
        OptimiserConfig {
            eta_mutation: 0.0,
            ..OptimiserConfig::default()
        },
        OptimiserConfig {
            tournament_size: 0,
            ..OptimiserConfig::default()
        },
    ] {
        assert!(matches!(OptimiserState::new(bad, &zdt, 0), Err(Error::Config(_))));
    }

    struct Box1 {
        bounds: Vec<(f64, f64)>,
        names: Vec<String>,
    }
    impl Evaluator for Box1 {
        fn bounds(&self) -> &[(f64, f64)] {
            &self.bounds
        }
        fn objective_names(&self) -> &[String] {
            &self.names
        }
        fn evaluate(&self, _: &[f64]) -> Result<Vec<f64>, String> {
            Ok(vec![0.0])
        }
    }
    let inverted = Box1 {
        bounds: vec![(0.0, 1.0), (5.0, 2.0)],
        names: vec!["a".into()],
    };
    let err = OptimiserState::new(OptimiserConfig::default(), &inverted, 0).unwrap_err();
    assert!(err.to_string().contains("parameter 1"), "{err}");
    let no_objective = Box1 {
        bounds: vec![(0.0, 1.0)],
        names: vec![],
    };
    assert!(OptimiserState::new(OptimiserConfig::default(), &no_objective, 0).is_err());
}

/// An observer that fails stops the run after a consistent step.
#[test]
fn observer_errors_stop_the_run() {
    struct FailAt(u64);
    impl Observer for FailAt {
        fn observe(&mut self, report: &GenerationReport, _: &OptimiserState) -> plastifit::Result<()> {
            if report.summary.generation == self.0 {
                Err(Error::Config("disk full".into()))
            } else {
                Ok(())
            }
        }
    }
    let zdt = Zdt::new(ZdtProblem::Zdt2, 4);
    let mut state = OptimiserState::new(config(SelectorKind::Nsga2), &zdt, 1).unwrap();
    assert!(run(&mut state, &zdt, &mut FailAt(2), 10).is_err());
    assert_eq!(state.generation(), 3);
    step(&mut state, &zdt, &mut ()).unwrap();
    assert_eq!(state.generation(), 4);
}
