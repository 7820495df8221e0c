//! One candidate replayed over 5 protocols × 100 connections, single-threaded:
//! the published parameters with the induction's releases redrawn (the
//! default) and as recorded, and a point drawn from the search box (seed 7),
//! like most candidates of a fit's early generations. A fourth benchmark
//! evaluates 16 points drawn from the box (seed 16) one after another: its
//! time over 16 is a fit's mean cost per candidate, as their crossings of
//! the thresholds vary several-fold across the box.
//!
//! Needs a cache built by `plastifit traces` in the folder named by
//! `PLASTIFIT_BENCH_TRACES`; each protocol's connections are repeated up to
//! 100 (the work per connection is what is measured). Prints the bytes of
//! stored values an evaluation would read bin by bin, the share of
//! induction bins the gates let each candidate skip (their values are not
//! read) and at most how many bytes are left to read; a last benchmark
//! streams a buffer larger than any cache through one core, so that those
//! bytes over its throughput bound the memory time of an evaluation on the
//! machine at hand.
//! Two more evaluate the published parameters with τ* at 500 ms, beyond
//! the box: bin by bin, then gated once the replay holds that piece of
//! the τ* axis (`Replay::gating_tau`).
//! Repeated evaluations of one candidate find each connection's after-phase
//! EPSPs memoised (a fit meets few potentiation patterns per connection);
//! the first, cold evaluation is printed too.

use criterion::{criterion_group, criterion_main, Criterion};
use plastifit::replay::{Replay, TraceCache};
use plastifit::synapse::{RuleParams, PARAM_BOUNDS};
use rand::{Rng, SeedableRng};

fn load() -> Option<TraceCache> {
    let dir = std::env::var("PLASTIFIT_BENCH_TRACES").ok()?;
    let text = std::fs::read(std::path::Path::new(&dir).join("traces.json")).ok()?;
    let mut cache: TraceCache = serde_json::from_slice(&text).ok()?;
    for p in &mut cache.protocols {
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
    let bytes = stored_bytes(&cache);
    eprintln!(
        "{} connections; stored values, all read bin by bin: {:.1} MB, {:.1} MB of them per synapse over the induction",
        cache.protocols.iter().map(|p| p.connections.len()).sum::<usize>(),
        (bytes.synapse_induction + bytes.rest) as f64 / 1e6,
        bytes.synapse_induction as f64 / 1e6
    );
    let rule = RuleParams::chindemi2022();
    let drawn = draw(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let across: Vec<RuleParams> = (0..16).map(|_| draw(&mut rng)).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let load = std::time::Instant::now();
    let replay = pool.install(|| Replay::new(cache.clone())).unwrap();
    eprintln!("prepared in {:.2} s (one thread)", load.elapsed().as_secs_f64());
    let nodes = replay.gate_node_bytes() as f64;
    eprintln!("gate nodes derived when loading: {:.1} MB", nodes / 1e6);
    for (name, r) in [("published", &rule), ("drawn", &drawn)] {
        let (gated, all) = replay.gated_bins(r, cache.identity.variant);
        let share = gated as f64 / all as f64;
        let left = bytes.rest as f64 + (1.0 - share) * bytes.synapse_induction as f64;
        eprintln!(
            "{name} parameters: {:.1} % of the induction bins in gated segments; at most {:.1} MB of stored values left to read, {:.1} MB with the gate nodes",
            100.0 * share,
            left / 1e6,
            (left + nodes) / 1e6
        );
    }
    let cold = std::time::Instant::now();
    pool.install(|| replay.evaluate(&rule, cache.identity.variant));
    eprintln!("first (cold) evaluation: {:.1} ms", cold.elapsed().as_secs_f64() * 1e3);
    c.bench_function("replay_5_protocols_x_100_connections_1_thread", |b| {
        b.iter(|| pool.install(|| replay.evaluate(&rule, cache.identity.variant)))
    });
    c.bench_function("replay_5_protocols_x_100_connections_1_thread_drawn_point", |b| {
        b.iter(|| pool.install(|| replay.evaluate(&drawn, cache.identity.variant)))
    });
    c.bench_function("replay_5_protocols_x_100_connections_1_thread_16_drawn_points", |b| {
        b.iter(|| {
            pool.install(|| {
                for r in &across {
                    std::hint::black_box(replay.evaluate(r, cache.identity.variant));
                }
            })
        })
    });
    // τ* beyond the box: bin by bin, unless the replay gates its piece.
    let beyond = RuleParams {
        tau_star_ms: 500.0,
        ..rule
    };
    c.bench_function(
        "replay_5_protocols_x_100_connections_1_thread_tau_500_ms_bin_by_bin",
        |b| b.iter(|| pool.install(|| replay.evaluate(&beyond, cache.identity.variant))),
    );
    let replay = pool.install(|| replay.gating_tau(500.0, 500.0));
    c.bench_function("replay_5_protocols_x_100_connections_1_thread_tau_500_ms_gated", |b| {
        b.iter(|| pool.install(|| replay.evaluate(&beyond, cache.identity.variant)))
    });
    let recorded = replay.without_release_drift();
    c.bench_function("replay_5_protocols_x_100_connections_1_thread_recorded_releases", |b| {
        b.iter(|| pool.install(|| recorded.evaluate(&rule, cache.identity.variant)))
    });
}

/// Bytes of the stored values an evaluation reads bin by bin.
struct StoredBytes {
    /// Each synapse's over the induction: a gate that skips a synapse's
    /// bins skips these.
    synapse_induction: usize,
    /// The rest, counted whole: the bins shared by a connection's synapses
    /// (read while any one of them is followed), the calibrations (read
    /// only within their peaks' windows) and the test EPSP waveforms
    /// (memoised after a first evaluation).
    rest: usize,
}

fn stored_bytes(cache: &TraceCache) -> StoredBytes {
    let mut bytes = StoredBytes {
        synapse_induction: 0,
        rest: 0,
    };
    for c in cache.protocols.iter().flat_map(|p| &p.connections) {
        // An induction bin's width (f64), kind (a flag), place in the table
        // of widths (u32) and a release difference's calcium term (f32); a
        // calibration bin's kind and place.
        bytes.rest += 17 * c.induction.len() + 5 * (c.calib_pre.len() + c.calib_post.len());
        for s in &c.synapses {
            // Calcium and its moment, and a release difference's two terms
            // per bin where the drive is recorded, all f32.
            bytes.synapse_induction += 4 * (2 * s.induction.len() + 2 * s.nmda_drive.len());
            bytes.rest += 4 * (s.calib_pre.len() + s.calib_post.len() + 2 * s.epsp_depressed.len());
        }
    }
    bytes
}

/// One core summing a buffer of `STREAM_BYTES`, far larger than the
/// processor's caches: the memory throughput an evaluation can draw on.
fn memory_stream(c: &mut Criterion) {
    const STREAM_BYTES: usize = 512 << 20;
    let values: Vec<f64> = (0..STREAM_BYTES / 8).map(|k| k as f64).collect();
    let mut group = c.benchmark_group("memory");
    group.throughput(criterion::Throughput::Bytes(STREAM_BYTES as u64));
    group.bench_function("stream_512_mib_1_thread", |b| {
        b.iter(|| {
            // Eight partial sums, so that additions do not wait on each other.
            let mut acc = [0.0f64; 8];
            for chunk in std::hint::black_box(&values).chunks_exact(8) {
                for (a, v) in acc.iter_mut().zip(chunk) {
                    *a += v;
                }
            }
            acc.iter().sum::<f64>()
        })
    });
    group.finish();
}

/// A point drawn uniformly from the search box.
fn draw(rng: &mut rand_chacha::ChaCha8Rng) -> RuleParams {
    let values: Vec<f64> = PARAM_BOUNDS.iter().map(|&(lo, hi)| rng.gen_range(lo..hi)).collect();
    RuleParams::from_values(&values).unwrap()
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = replay_one_candidate, memory_stream
}
criterion_main!(benches);
