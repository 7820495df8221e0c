//! The postsynaptic stimulus of SPEC §5.1: the smallest somatic pulse
//! amplitude that makes the cell fire exactly one spike per pulse for a
//! train, and the latency used to place each spike.

use crate::cell::{CellModel, CellState};
use crate::sim::{first_crossing, Pulse, Simulation, SomaTrace, SPIKE_THRESHOLD_MV};
use crate::synapse::{Environment, RuleParams};
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Square pulse duration (ms).
pub const PULSE_MS: f64 = 3.0;

/// Grid of candidate amplitudes (nA) [assumption: 0.01 nA steps].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AmplitudeGrid {
    pub min_na: f64,
    pub max_na: f64,
    pub step_na: f64,
}

impl Default for AmplitudeGrid {
    fn default() -> Self {
        AmplitudeGrid {
            min_na: 0.5,
            max_na: 3.0,
            step_na: 0.01,
        }
    }
}

/// A found stimulus: amplitude and spike latency from pulse onset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpikeStimulus {
    pub amplitude_na: f64,
    pub latency_ms: f64,
}

/// Spikes per pulse and the first pulse's latency for a train.
fn train_response(
    cell: &CellModel,
    rest: &CellState,
    amp: f64,
    n: usize,
    frequency_hz: f64,
) -> Result<(Vec<usize>, Option<f64>)> {
    let isi = 1000.0 / frequency_hz;
    let start = 5.0;
    let mut sim = Simulation::new(cell, rest.clone(), Environment::default(), RuleParams::chindemi2022());
    sim.settings.quiet.enabled = false;
    for k in 0..n {
        sim.add_pulse(Pulse {
            start_ms: start + k as f64 * isi,
            duration_ms: PULSE_MS,
            amplitude_na: amp,
        });
    }
    let mut trace = SomaTrace::default();
    let window = isi.min(100.0);
    sim.run(
        start + (n - 1) as f64 * isi + window,
        &mut ChaCha8Rng::seed_from_u64(0),
        &mut trace,
    )?;
    let counts = (0..n)
        .map(|k| {
            let (a, b) = (start + k as f64 * isi, start + k as f64 * isi + window);
            let lo = trace.t.partition_point(|&t| t < a);
            let hi = trace.t.partition_point(|&t| t < b);
            crate::sim::count_spikes(&trace.v[lo.saturating_sub(1)..hi], SPIKE_THRESHOLD_MV)
        })
        .collect();
    let latency = first_crossing(&trace, SPIKE_THRESHOLD_MV).map(|t| t - start);
    Ok((counts, latency))
}

/// Smallest grid amplitude giving at least one spike per pulse (bisection
/// over grid points), required to give exactly one.
pub fn find_spike_stimulus(
    cell: &CellModel,
    rest: &CellState,
    stimuli: usize,
    frequency_hz: f64,
    grid: &AmplitudeGrid,
) -> Result<SpikeStimulus> {
    let fail = |problem: String| Error::Config(format!("cell {}: {problem}", cell.name));
    let points = ((grid.max_na - grid.min_na) / grid.step_na).round() as usize;
    let amp = |i: usize| grid.min_na + i as f64 * grid.step_na;
    let fires = |i: usize| -> Result<bool> {
        Ok(train_response(cell, rest, amp(i), stimuli, frequency_hz)?
            .0
            .iter()
            .all(|&c| c >= 1))
    };
    if !fires(points)? {
        return Err(fail(format!(
            "no pulse up to {} nA makes one spike per pulse for {stimuli} pulses at {frequency_hz} Hz",
            grid.max_na
        )));
    }
    let (mut lo, mut hi) = (0usize, points);
    if fires(0)? {
        hi = 0;
    }
    while hi > lo + 1 {
        let mid = (lo + hi) / 2;
        if fires(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let (counts, latency) = train_response(cell, rest, amp(hi), stimuli, frequency_hz)?;
    if counts.iter().any(|&c| c != 1) {
        return Err(fail(format!(
            "at {:.2} nA the train gives {counts:?} spikes per pulse, not exactly one",
            amp(hi)
        )));
    }
    Ok(SpikeStimulus {
        amplitude_na: amp(hi),
        latency_ms: latency.expect("a spike was counted"),
    })
}
