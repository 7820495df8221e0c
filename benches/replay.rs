//! One candidate replayed over 5 protocols × 100 connections, single-threaded:
//! with the induction's releases redrawn (the default) and as recorded.
//!
//! Needs a cache built by `plastifit traces` in the folder named by
//! `PLASTIFIT_BENCH_TRACES`; each protocol's connections are repeated up to
//! 100 (the work per connection is what is measured). Prints the bytes of
//! stored values the evaluation reads, for a memory-bandwidth bound.

use criterion::{criterion_group, criterion_main, Criterion};
use plastifit::replay::{Replay, TraceCache};
use plastifit::synapse::RuleParams;

fn load() -> Option<TraceCache> {
    let dir = std::env::var("PLASTIFIT_BENCH_TRACES").ok()?;
    let text = std::fs::read(std::path::Path::new(&dir).join("traces.json")).ok()?;
    let mut cache: TraceCache = serde_json::from_slice(&text).ok()?;
    for p in &mut cache.protocols {
        // Waveforms are kept up to the latest peak (as `traces` now stores them).
        for c in &mut p.connections {
            let argmax = |w: &[f32]| {
                w.iter()
                    .enumerate()
                    .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                    .0
            };
            let keep = c
                .synapses
                .iter()
                .flat_map(|s| [argmax(&s.epsp_depressed), argmax(&s.epsp_potentiated)])
                .max()
                .unwrap_or(0)
                + 1;
            for s in &mut c.synapses {
                s.epsp_depressed.truncate(keep);
                s.epsp_potentiated.truncate(keep);
            }
        }
        let base = p.connections.clone();
        while p.connections.len() < 100 {
            let k = p.connections.len() % base.len();
            p.connections.push(base[k].clone());
        }
    }
    Some(cache)
}

fn replay_one_candidate(c: &mut Criterion) {
    let Some(cache) = load() else {
        eprintln!("set PLASTIFIT_BENCH_TRACES to a folder made by `plastifit traces` to run this benchmark");
        return;
    };
    let bytes: usize = cache
        .protocols
        .iter()
        .flat_map(|p| &p.connections)
        .map(|c| {
            let bins = c.calib_pre.len() + c.calib_post.len() + c.induction.len();
            let per_syn: usize = c
                .synapses
                .iter()
                .map(|s| 4 * (s.calib_pre.len() + s.calib_post.len() + s.induction.len() + 2 * s.epsp_depressed.len()))
                .sum();
            per_syn + bins * 5
        })
        .sum();
    eprintln!(
        "{} connections; stored values read per candidate: {:.1} MB",
        cache.protocols.iter().map(|p| p.connections.len()).sum::<usize>(),
        bytes as f64 / 1e6
    );
    let rule = RuleParams::chindemi2022();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let replay = Replay::new(cache.clone()).unwrap();
    c.bench_function("replay_5_protocols_x_100_connections_1_thread", |b| {
        b.iter(|| pool.install(|| replay.evaluate(&rule, cache.identity.variant)))
    });
    let recorded = replay.without_release_drift();
    c.bench_function("replay_5_protocols_x_100_connections_1_thread_recorded_releases", |b| {
        b.iter(|| pool.install(|| recorded.evaluate(&rule, cache.identity.variant)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = replay_one_candidate
}
criterion_main!(benches);
