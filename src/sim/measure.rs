//! Standard electrophysiological measurements of a cell model.

use super::{PeakVoltage, Pulse, Simulation, SomaTrace};
use crate::cell::{CellModel, CellState, SectionTree};
use crate::synapse::{Environment, RuleParams};
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// Upward crossing of this somatic voltage counts as a spike (mV).
pub const SPIKE_THRESHOLD_MV: f64 = -30.0;

/// Passive and active properties of a cell (`plastifit cell-report`).
#[derive(Debug, Clone, Serialize)]
pub struct CellReport {
    pub cell: String,
    pub compartments: usize,
    pub resting_potential_mv: f64,
    /// ΔV at the end of a 1 s, −0.05 nA somatic step over the current.
    pub input_resistance_mohm: f64,
    /// Time for the same step's response to reach 1 − 1/e of its final deflection.
    pub membrane_tau_ms: f64,
    /// Smallest 3 ms somatic pulse that evokes a spike (bisection to 1 pA).
    pub rheobase_3ms_pulse_na: f64,
    /// Somatic spike peak for a 3 ms pulse at 1.2 × rheobase.
    pub spike_peak_mv: f64,
    /// Time from pulse onset to the −30 mV crossing at 1.2 × rheobase.
    pub spike_latency_ms: f64,
    /// Back-propagating AP peak above rest along the apical tree (µm → mV),
    /// linearly interpolated between segment centres (empty without an apical tree).
    pub bap_amplitude_mv_by_distance_um: BTreeMap<String, f64>,
}

/// A simulation of the bare cell with fine steps throughout.
fn bare_sim<'c>(cell: &'c CellModel, rest: &CellState) -> Simulation<'c> {
    // No synapses: the rule parameters are never used.
    let mut sim = Simulation::new(cell, rest.clone(), Environment::default(), RuleParams::chindemi2022());
    sim.settings.quiet.enabled = false;
    sim
}

/// Somatic voltage trace for a single pulse.
pub fn pulse_response(cell: &CellModel, rest: &CellState, pulse: Pulse, until: f64) -> Result<SomaTrace> {
    let mut sim = bare_sim(cell, rest);
    sim.add_pulse(pulse);
    let mut trace = SomaTrace::default();
    sim.run(until, &mut ChaCha8Rng::seed_from_u64(0), &mut trace)?;
    Ok(trace)
}

/// Number of upward crossings of `threshold` in a trace.
pub fn count_spikes(v: &[f64], threshold: f64) -> usize {
    v.windows(2).filter(|w| w[0] < threshold && w[1] >= threshold).count()
}

/// Time of the first upward crossing, linearly interpolated.
pub fn first_crossing(trace: &SomaTrace, threshold: f64) -> Option<f64> {
    (1..trace.v.len())
        .find(|&i| trace.v[i - 1] < threshold && trace.v[i] >= threshold)
        .map(|i| {
            let (v0, v1) = (trace.v[i - 1], trace.v[i]);
            trace.t[i - 1] + (threshold - v0) / (v1 - v0) * (trace.t[i] - trace.t[i - 1])
        })
}

/// Smallest amplitude in [lo, hi] (nA) that evokes a spike with a pulse of
/// `duration` ms, by bisection to `tol`; None if `hi` does not.
pub fn rheobase(cell: &CellModel, rest: &CellState, duration: f64, lo: f64, hi: f64, tol: f64) -> Result<Option<f64>> {
    let spikes = |amp: f64| -> Result<bool> {
        let trace = pulse_response(
            cell,
            rest,
            Pulse {
                start_ms: 1.0,
                duration_ms: duration,
                amplitude_na: amp,
            },
            duration + 40.0,
        )?;
        Ok(count_spikes(&trace.v, SPIKE_THRESHOLD_MV) > 0)
    };
    if !spikes(hi)? {
        return Ok(None);
    }
    let (mut lo, mut hi) = (lo, hi);
    while hi - lo > tol {
        let mid = 0.5 * (lo + hi);
        if spikes(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(hi))
}

pub fn cell_report(cell: &CellModel) -> Result<CellReport> {
    let rest = cell.resting_state()?;
    let v_rest = rest.v[0];
    let step = Pulse {
        start_ms: 0.0,
        duration_ms: 1000.0,
        amplitude_na: -0.05,
    };
    let trace = pulse_response(cell, &rest, step, 1000.0)?;
    let dv_final = trace.v.last().copied().unwrap_or(v_rest) - v_rest;
    let input_resistance_mohm = dv_final / step.amplitude_na;
    let target = v_rest + (1.0 - (-1.0f64).exp()) * dv_final;
    let membrane_tau_ms = trace.t[trace.v.iter().position(|&v| v <= target).unwrap_or(0)];
    let rheo = rheobase(cell, &rest, 3.0, 0.0, 5.0, 0.001)?.unwrap_or(f64::NAN);
    let pulse = Pulse {
        start_ms: 1.0,
        duration_ms: 3.0,
        amplitude_na: 1.2 * rheo,
    };
    let mut sim = bare_sim(cell, &rest);
    sim.add_pulse(pulse);
    let mut peaks = PeakVoltage(rest.v.clone());
    let mut trace = SomaTrace::default();
    let mut both = (&mut peaks, &mut trace);
    sim.run(40.0, &mut ChaCha8Rng::seed_from_u64(0), &mut both)?;
    let spike_latency_ms = first_crossing(&trace, SPIKE_THRESHOLD_MV).map_or(f64::NAN, |t| t - pulse.start_ms);
    let bap = [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
        .iter()
        .filter_map(|&d| apical_amplitude(cell, &rest, &peaks.0, d).map(|a| (format!("{d}"), a)))
        .collect();
    Ok(CellReport {
        cell: cell.name.clone(),
        compartments: cell.len(),
        resting_potential_mv: v_rest,
        input_resistance_mohm,
        membrane_tau_ms,
        rheobase_3ms_pulse_na: rheo,
        spike_peak_mv: peaks.0[0],
        spike_latency_ms,
        bap_amplitude_mv_by_distance_um: bap,
    })
}

/// Peak above rest at path distance d along the soma + apical compartments;
/// None for a cell without an apical tree or beyond its end.
fn apical_amplitude(cell: &CellModel, rest: &CellState, peaks: &[f64], d: f64) -> Option<f64> {
    let mut points: Vec<(f64, f64)> = cell
        .compartments
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.tree, SectionTree::Soma | SectionTree::Apical))
        .map(|(i, c)| (c.path_um, peaks[i] - rest.v[i]))
        .collect();
    if points.len() < 2 || !cell.compartments.iter().any(|c| c.tree == SectionTree::Apical) {
        return None;
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let i = points.partition_point(|p| p.0 < d).clamp(1, points.len() - 1);
    let (a, b) = (points[i - 1], points[i]);
    (d <= b.0).then(|| a.1 + (b.1 - a.1) * (d - a.0) / (b.0 - a.0))
}

impl<A: super::Observer, B: super::Observer> super::Observer for (&mut A, &mut B) {
    fn observe(&mut self, sim: &Simulation) {
        self.0.observe(sim);
        self.1.observe(sim);
    }
}
