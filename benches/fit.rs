//! The fitting machinery without simulation: one generation of 128
//! offspring (variation, parallel evaluation through the objective
//! evaluator, IBEA selection) on the synthetic engine with the paper's
//! training set.
//!
//! `cargo bench --bench fit` prints the time per generation; the time of a
//! real fit's generation is that plus the evaluations' own cost.

use criterion::{criterion_group, criterion_main, Criterion};
use plastifit::objective::{Objective, ObjectiveEvaluator, SyntheticEngine};
use plastifit::optim::{step, OptimiserConfig, OptimiserState};
use plastifit::protocol::embedded_protocols;
use std::path::Path;

fn synthetic_generation(c: &mut Criterion) {
    let objective = Objective::load(Path::new("objectives/synthetic.json")).unwrap();
    let table = embedded_protocols().unwrap();
    let training = plastifit::objective::training_protocols(&objective, &table).unwrap();
    let engine = SyntheticEngine::new(training, objective.connections_per_protocol);
    let evaluator = ObjectiveEvaluator::new(&objective, &table, engine).unwrap();
    let mut state = OptimiserState::new(OptimiserConfig::default(), &evaluator, 1).unwrap();
    for _ in 0..5 {
        step(&mut state, &evaluator, &mut ()).unwrap();
        evaluator.forget_means();
    }
    c.bench_function("synthetic generation, 128 offspring, 5 objectives", |b| {
        b.iter_batched(
            || state.clone(),
            |mut s| {
                step(&mut s, &evaluator, &mut ()).unwrap();
                evaluator.forget_means();
                s
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, synthetic_generation);
criterion_main!(benches);
