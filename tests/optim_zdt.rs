//! The optimiser on ZDT1 and ZDT2 (30 variables): 250 generations of 100
//! offspring (25 000 evaluations at most), hypervolume against (1.1, 1.1)
//! compared with the true front's (0.8767 and 0.5433).
//!
//! The main checks use the operator settings of the reference NSGA-II runs
//! (SBX η = 20 with probability 0.9 per pair, polynomial mutation η = 20 on
//! every offspring with per-gene probability 1/30), so the figures compare
//! directly with other implementations. Run with `--nocapture` to see them.

use plastifit::optim::benchmarks::{Zdt, ZdtProblem};
use plastifit::optim::{hypervolume, run, OptimiserConfig, OptimiserState, SelectorKind};

const REFERENCE: [f64; 2] = [1.1, 1.1];

/// Hypervolume ratios (final population, hall of fame) to the true front's.
fn zdt_run(problem: ZdtProblem, config: OptimiserConfig, seed: u64) -> (f64, f64) {
    let zdt = Zdt::new(problem, 30);
    let config = OptimiserConfig {
        offspring_size: 100,
        ..config
    };
    let selector = config.selector;
    let mut state = OptimiserState::new(config, &zdt, seed).unwrap();
    run(&mut state, &zdt, &mut (), 250).unwrap();
    let population: Vec<&[f64]> = state.population().iter().map(|i| i.errors.as_slice()).collect();
    let hall: Vec<&[f64]> = state
        .hall_of_fame()
        .members()
        .iter()
        .map(|i| i.errors.as_slice())
        .collect();
    let truth = zdt.front_hypervolume(REFERENCE);
    let ratios = (
        hypervolume(&population, &REFERENCE) / truth,
        hypervolume(&hall, &REFERENCE) / truth,
    );
    println!(
        "{problem:?} {selector} (cxpb {}, mutpb {}, indpb {:.4}) seed {seed}: \
         population {:.4}, hall of fame {:.4} of the true hypervolume; {} evaluations",
        state.config().cxpb,
        state.config().mutpb,
        state.config().mutation_indpb,
        ratios.0,
        ratios.1,
        state.evaluations()
    );
    ratios
}

fn standard(selector: SelectorKind) -> OptimiserConfig {
    OptimiserConfig {
        selector,
        cxpb: 0.9,
        mutpb: 1.0,
        mutation_indpb: 1.0 / 30.0,
        eta_crossover: 20.0,
        eta_mutation: 20.0,
        ..OptimiserConfig::default()
    }
}

#[test]
fn ibea_zdt1() {
    let (population, _) = zdt_run(ZdtProblem::Zdt1, standard(SelectorKind::Ibea), 1);
    assert!(population >= 0.97, "{population}");
}

#[test]
fn ibea_zdt2() {
    let (population, _) = zdt_run(ZdtProblem::Zdt2, standard(SelectorKind::Ibea), 1);
    assert!(population >= 0.97, "{population}");
}

#[test]
fn nsga2_zdt1() {
    let (population, _) = zdt_run(ZdtProblem::Zdt1, standard(SelectorKind::Nsga2), 1);
    assert!(population >= 0.97, "{population}");
}

#[test]
fn nsga2_zdt2() {
    let (population, _) = zdt_run(ZdtProblem::Zdt2, standard(SelectorKind::Nsga2), 1);
    assert!(population >= 0.97, "{population}");
}

/// BluePyOpt's IBEA keeps tournament winners (with repetitions) as its
/// population, so its final population covers the front less well; its hall
/// of fame is the fair figure. The bounds here only guard against
/// regressions (measured: population ≈ 0.89, hall of fame ≈ 0.98).
#[test]
fn ibea_bluepyopt_zdt_figures() {
    for problem in [ZdtProblem::Zdt1, ZdtProblem::Zdt2] {
        let (population, hall) = zdt_run(problem, standard(SelectorKind::IbeaBluepyopt), 1);
        assert!(population >= 0.85, "{problem:?}: {population}");
        assert!(hall >= 0.95, "{problem:?}: {hall}");
    }
}

/// With the project's default settings (BluePyOpt's: cxpb 0.3, mutpb 0.7,
/// per-gene mutation probability 0.5), which favour many small moves over
/// convergence on separable problems, IBEA still gets within 3 % on ZDT1.
#[test]
fn ibea_defaults_zdt1() {
    let (population, _) = zdt_run(ZdtProblem::Zdt1, OptimiserConfig::default(), 1);
    assert!(population >= 0.97, "{population}");
}
