//! Simulated time per wall time of L5TTPC with 6 active synapses during a
//! 10 Hz pairing burst (5 presynaptic spikes, each followed by a
//! postsynaptic spike 10 ms later): with the engine's default stepping
//! (fine steps of 0.025 ms, relaxation steps of 0.25 ms near rest), and
//! with fine steps throughout (`..._fine_steps_only`).
//!
//! `cargo bench --bench engine -- l5ttpc_6` prints the time per 510 ms
//! run; the real-time factor is 510 ms divided by that time.

use criterion::{criterion_group, criterion_main, Criterion};
use plastifit::cell::{load_cell, CellModel};
use plastifit::pathway::{Contact, Tree};
use plastifit::sim::{NoObserver, Pulse, Simulation};
use plastifit::synapse::{Environment, RuleParams, Synapse};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn contact(tree: Tree, path: f64) -> Contact {
    Contact {
        tree,
        path_distance_um: path,
        use0: 0.5,
        nrrp: 3,
        dep_ms: 400.0,
        fac_ms: 20.0,
        g_ampa_ns: 1.9,
        ampa_tau_decay_ms: 1.74,
        nmda_ratio: 0.55,
        spine_volume_um3: 0.16,
        u_hill_k_mm: 2.79,
        rho0: 0,
    }
}

fn pairing_burst(c: &mut Criterion) {
    for (name, quiet) in [
        ("l5ttpc_6_synapses_10hz_pairing_burst_500ms", true),
        ("l5ttpc_6_synapses_10hz_pairing_burst_500ms_fine_steps_only", false),
    ] {
        burst(c, name, quiet);
    }
}

/// `quiet`: the engine's default handling of stretches near and at rest;
/// off, fine steps throughout.
fn burst(c: &mut Criterion, name: &str, quiet: bool) {
    let cell = CellModel::build(&load_cell("L5TTPC").unwrap(), 37.0).unwrap();
    let rest = cell.resting_state().unwrap();
    let env = Environment::default();
    let rule = RuleParams::chindemi2022();
    let contacts: Vec<Contact> = (0..6)
        .map(|k| contact(if k < 5 { Tree::Basal } else { Tree::Apical }, 40.0 + 30.0 * k as f64))
        .collect();
    let mut base = Simulation::new(&cell, rest.clone(), env, rule);
    for ct in &contacts {
        let comp = cell.locate(ct.tree, ct.path_distance_um).unwrap();
        let mut s = Synapse::from_contact(ct, comp, 1.0, &env, rest.v[comp]);
        let (d, p) = rule.thresholds(ct.tree, 10.0, 20.0);
        (s.theta_d, s.theta_p) = (d, p);
        base.synapses.push(s);
    }
    base.settle().unwrap();
    base.settings.quiet.enabled = quiet;
    let spikes: Vec<f64> = (0..5).map(|k| 10.0 + 100.0 * k as f64).collect();
    c.bench_function(name, |b| {
        b.iter(|| {
            let mut sim = Simulation::new(&cell, base.rest.clone(), env, rule);
            sim.synapses = base.synapses.clone();
            sim.settings = base.settings;
            sim.add_presynaptic_spikes(&spikes);
            for &t in &spikes {
                sim.add_pulse(Pulse {
                    start_ms: t + 10.0 - 2.6,
                    duration_ms: 3.0,
                    amplitude_na: 2.0,
                });
            }
            sim.run(510.0, &mut ChaCha8Rng::seed_from_u64(1), &mut NoObserver)
                .unwrap();
            sim.t
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = pairing_burst
}

/// One sampled L5TTPC→L5TTPC connection through mrk97_07 (10 Hz, +10 ms):
/// calibration peaks, 60 test EPSPs, 10 bursts, fast-forward, 60 test EPSPs.
fn full_protocol(c: &mut Criterion) {
    use plastifit::pathway::{embedded_recipes, find_recipe, try_sample_connections};
    use plastifit::protocol::{
        embedded_protocols, find_spike_stimulus, run_connection, tree_extent, AmplitudeGrid, RunnerSettings,
    };
    let cell = CellModel::build(&load_cell("L5TTPC").unwrap(), 37.0).unwrap();
    let rest = cell.resting_state().unwrap();
    let recipes = embedded_recipes().unwrap();
    let recipe = find_recipe(&recipes, "L5TTPC-L5TTPC").unwrap();
    let protocol = embedded_protocols()
        .unwrap()
        .into_iter()
        .find(|p| p.protocol_id == "mrk97_07")
        .unwrap();
    let conn = try_sample_connections(recipe, tree_extent(&cell), 1, 1)
        .unwrap()
        .remove(0);
    let grid = AmplitudeGrid::default();
    let train = find_spike_stimulus(&cell, &rest, 5, 10.0, &grid).unwrap();
    let single = find_spike_stimulus(&cell, &rest, 1, 10.0, &grid).unwrap();
    let rule = RuleParams::chindemi2022();
    let settings = RunnerSettings::default();
    c.bench_function("l5ttpc_connection_mrk97_07_full_protocol", |b| {
        b.iter(|| {
            run_connection(
                &cell,
                &conn,
                recipe.g_scale,
                &protocol,
                &rule,
                &train,
                &single,
                &settings,
            )
            .unwrap()
            .unwrap()
            .epsp_ratio
        })
    });
}

criterion_group! {
    name = protocol;
    config = Criterion::default().sample_size(10);
    targets = full_protocol
}
criterion_main!(benches, protocol);
