//! One connection through one in-vitro protocol (SPEC §5.2-5.4): settle,
//! calibration peaks Cpre and Cpost, baseline test EPSPs (C01), induction,
//! fast-forward of the efficacies, test EPSPs after (C02), EPSP ratio.

use super::stimulus::{SpikeStimulus, PULSE_MS};
use super::table::{InVitroProtocol, Manipulation, Measure};
use crate::cell::CellModel;
use crate::pathway::{Connection, Tree};
use crate::sim::{Observer, Pulse, SimSettings, Simulation, SPIKE_THRESHOLD_MV};
use crate::synapse::{Environment, RuleParams, RuleVariant, Synapse, RHO_STAR};
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How protocols are run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunnerSettings {
    pub sim: SimSettings,
    pub variant: RuleVariant,
    /// Test spikes before and after induction.
    pub test_spikes: usize,
    /// EPSP window after each test spike (ms).
    pub epsp_window_ms: f64,
    /// Jump ρ, Use and Ĝ_AMPA to their settled values after induction
    /// (the paper's trick); off: simulate the slow settling instead.
    pub fast_forward: bool,
    /// Simulated settling time when fast-forward is off (ms).
    pub settle_ms: f64,
    /// Overrides every protocol's [Ca2+]o (in-vivo predictions).
    pub cao_override_mm: Option<f64>,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            sim: SimSettings::default(),
            variant: RuleVariant::Paper,
            test_spikes: 60,
            epsp_window_ms: 100.0,
            fast_forward: true,
            settle_ms: 1_200_000.0,
            cao_override_mm: None,
        }
    }
}

/// What one connection gave under one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionOutcome {
    pub connection_id: usize,
    pub synapses: usize,
    pub apical_fraction: f64,
    /// Mean test EPSP amplitude before and after induction (mV).
    pub baseline_epsp_mv: f64,
    pub after_epsp_mv: f64,
    /// 30-75 % rise slope of the averaged test EPSP (mV/ms).
    pub baseline_slope_mv_per_ms: f64,
    pub after_slope_mv_per_ms: f64,
    /// After/before by the protocol's measure (amplitude or slope).
    pub epsp_ratio: f64,
    pub flipped_up: usize,
    pub flipped_down: usize,
}

/// A connection that could not be measured, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exclusion {
    pub connection_id: usize,
    pub reason: String,
}

/// The environment and rule switches a protocol row implies.
pub fn protocol_environment(protocol: &InVitroProtocol, settings: &RunnerSettings) -> Environment {
    Environment {
        cao_mm: settings.cao_override_mm.unwrap_or(protocol.cao_mm),
        ..Environment::default()
    }
}

/// Seed of a connection's release draws under one protocol (splitmix64 of
/// the connection's release seed and the protocol id).
pub fn protocol_seed(release_seed: u64, protocol_id: &str) -> u64 {
    let mut z = protocol_id.bytes().fold(release_seed ^ 0x9E37_79B9_7F4A_7C15, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of a connection's release draws after induction (C02).
pub fn after_seed(release_seed: u64, protocol_id: &str) -> u64 {
    protocol_seed(release_seed, &format!("{protocol_id}/after"))
}

/// Builds the connection's synapses on the cell and settles everything.
pub fn build_simulation<'c>(
    cell: &'c CellModel,
    connection: &Connection,
    g_scale: f64,
    env: Environment,
    rule: RuleParams,
    settings: &RunnerSettings,
    block_depression: bool,
) -> Result<Simulation<'c>> {
    let rest = cell.resting_state()?;
    let mut sim = Simulation::new(cell, rest.clone(), env, rule);
    sim.settings = settings.sim;
    sim.rule_settings.variant = settings.variant;
    sim.rule_settings.block_depression = block_depression;
    sim.context = format!("cell {}, connection {}", cell.name, connection.id);
    for contact in &connection.contacts {
        let comp = cell.locate(contact.tree, contact.path_distance_um).ok_or_else(|| {
            Error::Config(format!(
                "cell {} has no {:?} compartments for connection {}",
                cell.name, contact.tree, connection.id
            ))
        })?;
        sim.synapses
            .push(Synapse::from_contact(contact, comp, g_scale, &env, rest.v[comp]));
    }
    sim.settle()?;
    Ok(sim)
}

/// A copy of `base` prepared for one calibration run (SPEC §5.2), with the
/// time of its stimulus: (a) one presynaptic spike releasing every site of
/// every synapse (Use = 1, ρ = 1, Ĝ_AMPA = G_p), or (b) one postsynaptic
/// spike; plasticity off, peaks reset.
pub(crate) fn calibration_run<'c>(base: &Simulation<'c>, single: &SpikeStimulus, pre: bool) -> (Simulation<'c>, f64) {
    let mut sim = base.fork();
    sim.rule_settings.plasticity = false;
    let t0 = sim.t + 5.0;
    if pre {
        for s in &mut sim.synapses {
            s.expression.use_ = 1.0;
            s.efficacy.rho = 1.0;
            s.expression.g_ampa_ns = s.expression.g_p;
        }
        sim.add_presynaptic_spikes(&[t0]);
    } else {
        sim.add_pulse(Pulse {
            start_ms: t0,
            duration_ms: PULSE_MS,
            amplitude_na: single.amplitude_na,
        });
    }
    sim.reset_peaks();
    (sim, t0)
}

/// Peak c* of every synapse after the two calibration runs (SPEC §5.2).
pub fn calibration_peaks(base: &Simulation, single: &SpikeStimulus) -> Result<(Vec<f64>, Vec<f64>)> {
    let run = |pre: bool| -> Result<Vec<f64>> {
        let (mut sim, t0) = calibration_run(base, single, pre);
        // Forced full release is deterministic; the generator is unused.
        sim.run(
            t0 + 600.0,
            &mut ChaCha8Rng::seed_from_u64(0),
            &mut crate::sim::NoObserver,
        )?;
        Ok(sim.synapses.iter().map(|s| s.peak_cstar).collect())
    };
    Ok((run(true)?, run(false)?))
}

/// Records the somatic voltage in a window after each test spike.
struct EpspWindows {
    starts: Vec<f64>,
    window: f64,
    samples: Vec<Vec<(f64, f64)>>,
    spiked: bool,
}

impl EpspWindows {
    fn new(starts: Vec<f64>, window: f64) -> Self {
        let n = starts.len();
        EpspWindows {
            starts,
            window,
            samples: vec![Vec::new(); n],
            spiked: false,
        }
    }
}

impl Observer for EpspWindows {
    fn observe(&mut self, sim: &Simulation) {
        let (t, v) = (sim.t, sim.state.v[0]);
        self.spiked |= v >= SPIKE_THRESHOLD_MV;
        let k = self.starts.partition_point(|&s| s <= t + 1e-9);
        if k > 0 && t <= self.starts[k - 1] + self.window + 1e-9 {
            self.samples[k - 1].push((t - self.starts[k - 1], v));
        }
    }
}

/// Amplitude (mV): peak in the window minus the voltage at the spike.
fn amplitudes(w: &EpspWindows) -> Vec<f64> {
    w.samples
        .iter()
        .map(|s| {
            let v0 = s.first().map_or(0.0, |p| p.1);
            s.iter().map(|p| p.1).fold(v0, f64::max) - v0
        })
        .collect()
}

/// 30-75 % rise slope (mV/ms) of the averaged EPSP, sampled on a grid of
/// `dt` with each window's last value held across skipped stretches.
fn averaged_slope(w: &EpspWindows, dt: f64) -> f64 {
    let n = (w.window / dt).round() as usize + 1;
    let mut mean = vec![0.0; n];
    for s in &w.samples {
        let Some(&(_, v0)) = s.first() else { continue };
        let mut j = 0;
        for (i, m) in mean.iter_mut().enumerate() {
            let t = i as f64 * dt;
            while j + 1 < s.len() && s[j + 1].0 <= t + 1e-9 {
                j += 1;
            }
            *m += (s[j].1 - v0) / w.samples.len() as f64;
        }
    }
    rise_slope(&mean, dt)
}

/// 30-75 % rise slope (mV/ms) of an averaged EPSP sampled every `dt` ms
/// from the spike; without a clean 30-75 % pair, peak over time to peak.
pub fn rise_slope(mean: &[f64], dt: f64) -> f64 {
    let (peak_i, peak) = mean
        .iter()
        .enumerate()
        .fold((0, f64::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
    if peak <= 0.0 {
        return 0.0;
    }
    let cross = |frac: f64| {
        mean[..=peak_i]
            .iter()
            .position(|&v| v >= frac * peak)
            .map(|i| i as f64 * dt)
    };
    match (cross(0.3), cross(0.75)) {
        (Some(a), Some(b)) if b > a => 0.45 * peak / (b - a),
        _ => peak / ((peak_i.max(1)) as f64 * dt),
    }
}

/// Mean amplitude (mV) and averaged-trace slope (mV/ms) of a test phase.
#[derive(Debug, Clone, Copy)]
struct TestEpsps {
    amplitude_mv: f64,
    slope_mv_per_ms: f64,
}

impl TestEpsps {
    fn by(&self, measure: Measure) -> f64 {
        match measure {
            Measure::Amplitude => self.amplitude_mv,
            Measure::Slope => self.slope_mv_per_ms,
        }
    }
}

/// Runs `test_spikes` test spikes from `t_start`, one per period; a
/// postsynaptic spike makes the phase fail with a reason.
fn test_phase(
    sim: &mut Simulation,
    rng: &mut ChaCha8Rng,
    t_start: f64,
    period_ms: f64,
    settings: &RunnerSettings,
) -> Result<std::result::Result<TestEpsps, String>> {
    let spikes: Vec<f64> = (0..settings.test_spikes)
        .map(|k| t_start + k as f64 * period_ms)
        .collect();
    sim.add_presynaptic_spikes(&spikes);
    let mut w = EpspWindows::new(spikes, settings.epsp_window_ms);
    sim.run(t_start + settings.test_spikes as f64 * period_ms, rng, &mut w)?;
    if w.spiked {
        return Ok(Err(format!(
            "postsynaptic spike during test EPSPs at t ≈ {:.0} ms",
            sim.t
        )));
    }
    let a = amplitudes(&w);
    Ok(Ok(TestEpsps {
        amplitude_mv: a.iter().sum::<f64>() / a.len() as f64,
        slope_mv_per_ms: averaged_slope(&w, sim.settings.dt_ms),
    }))
}

/// Mean somatic test EPSP (mV) of a connection from rest: `spikes` test
/// spikes one per `period_ms`, with the release draws of `seed`. Err with
/// a reason when the cell fires during the test spikes.
pub fn mean_test_epsp(
    cell: &CellModel,
    connection: &Connection,
    g_scale: f64,
    period_ms: f64,
    spikes: usize,
    seed: u64,
) -> Result<std::result::Result<f64, String>> {
    let settings = RunnerSettings {
        test_spikes: spikes,
        ..RunnerSettings::default()
    };
    let mut sim = build_simulation(
        cell,
        connection,
        g_scale,
        Environment::default(),
        RuleParams::chindemi2022(),
        &settings,
        false,
    )?;
    sim.rule_settings.plasticity = false;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let t0 = sim.t + 100.0;
    Ok(test_phase(&mut sim, &mut rng, t0, period_ms, &settings)?.map(|e| e.amplitude_mv))
}

/// Spike times and pulses of the induction, starting at `t0`.
pub fn induction_schedule(p: &InVitroProtocol, stim: &SpikeStimulus, t0: f64) -> (Vec<f64>, Vec<Pulse>) {
    let pre = induction_spike_times(p, t0);
    let pulses = pre
        .iter()
        .map(|t_pre| Pulse {
            start_ms: t_pre + p.delta_t_ms - stim.latency_ms,
            duration_ms: PULSE_MS,
            amplitude_na: stim.amplitude_na,
        })
        .collect();
    (pre, pulses)
}

/// Presynaptic spike times of the induction, starting at `t0`, ascending.
pub fn induction_spike_times(p: &InVitroProtocol, t0: f64) -> Vec<f64> {
    let period = p.burst_period_s * 1000.0;
    let isi = 1000.0 / p.frequency_hz;
    (0..p.bursts)
        .flat_map(|b| (0..p.stimuli_per_burst).map(move |j| t0 + f64::from(b) * period + f64::from(j) * isi))
        .collect()
}

/// The whole protocol on one connection. `train` is the postsynaptic
/// stimulus for the protocol's burst, `single` the one for a lone spike.
#[allow(clippy::too_many_arguments)]
pub fn run_connection(
    cell: &CellModel,
    connection: &Connection,
    g_scale: f64,
    protocol: &InVitroProtocol,
    rule: &RuleParams,
    train: &SpikeStimulus,
    single: &SpikeStimulus,
    settings: &RunnerSettings,
) -> Result<std::result::Result<ConnectionOutcome, Exclusion>> {
    let env = protocol_environment(protocol, settings);
    let mk801 = protocol.manipulation == Manipulation::Mk801Pre;
    let mut sim = build_simulation(cell, connection, g_scale, env, *rule, settings, mk801)?;
    let exclude = |reason: String| {
        Ok(Err(Exclusion {
            connection_id: connection.id,
            reason,
        }))
    };
    let (c_pre, c_post) = calibration_peaks(&sim, single)?;
    for ((s, &cp), &cq) in sim.synapses.iter_mut().zip(&c_pre).zip(&c_post) {
        s.set_thresholds(rule, cp, cq);
    }
    let rho0: Vec<f64> = sim.synapses.iter().map(|s| s.efficacy.rho).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(protocol_seed(connection.release_seed, &protocol.protocol_id));
    let period = protocol.burst_period_s * 1000.0;
    let t0 = sim.t + 100.0;
    let baseline = match test_phase(&mut sim, &mut rng, t0, period, settings)? {
        Ok(b) if b.by(protocol.measure) > 0.0 => b,
        Ok(_) => return exclude("baseline EPSP is 0 (every test spike failed to release)".into()),
        Err(reason) => return exclude(format!("baseline: {reason}")),
    };
    let t_ind = sim.t;
    let (pre, pulses) = induction_schedule(protocol, train, t_ind);
    sim.add_presynaptic_spikes(&pre);
    pulses.into_iter().for_each(|p| sim.add_pulse(p));
    let t_end = t_ind + f64::from(protocol.bursts) * period;
    sim.run(t_end, &mut rng, &mut crate::sim::NoObserver)?;
    sim.clear_pulses();
    settle_efficacies(&mut sim, &mut rng, settings)?;
    // The settling stands for minutes of rest: every release site has
    // recovered, and the after-phase draws come from a stream of their own,
    // so they do not depend on how many draws the induction consumed.
    for s in &mut sim.synapses {
        s.release = s.release.rested();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(after_seed(connection.release_seed, &protocol.protocol_id));
    let t_after = sim.t + period;
    let after = match test_phase(&mut sim, &mut rng, t_after, period, settings)? {
        Ok(a) => a,
        Err(reason) => return exclude(format!("after induction: {reason}")),
    };
    sim.check_finite()?;
    // Without fast-forward ρ approaches 0 or 1 only asymptotically.
    let flips = |from: f64, up: bool| {
        rho0.iter()
            .zip(&sim.synapses)
            .filter(|(&r0, s)| r0 == from && (s.efficacy.rho > RHO_STAR) == up)
            .count()
    };
    let apical = connection.contacts.iter().filter(|c| c.tree == Tree::Apical).count();
    Ok(Ok(ConnectionOutcome {
        connection_id: connection.id,
        synapses: connection.contacts.len(),
        apical_fraction: apical as f64 / connection.contacts.len().max(1) as f64,
        baseline_epsp_mv: baseline.amplitude_mv,
        after_epsp_mv: after.amplitude_mv,
        baseline_slope_mv_per_ms: baseline.slope_mv_per_ms,
        after_slope_mv_per_ms: after.slope_mv_per_ms,
        epsp_ratio: after.by(protocol.measure) / baseline.by(protocol.measure),
        flipped_up: flips(0.0, true),
        flipped_down: flips(1.0, false),
    }))
}

/// After the last burst: wait (in closed form) until c* is below both
/// thresholds everywhere, then jump ρ to 0 or 1 and the expression to its
/// targets; or, without fast-forward, simulate the slow settling.
fn settle_efficacies(sim: &mut Simulation, rng: &mut ChaCha8Rng, settings: &RunnerSettings) -> Result<()> {
    if !settings.fast_forward {
        return sim.run(sim.t + settings.settle_ms, rng, &mut crate::sim::NoObserver);
    }
    let below = |s: &Synapse| s.fast.cstar <= s.theta_d.min(s.theta_p);
    let limit = sim.t + 20.0 * sim.rule.tau_star_ms + 1000.0;
    while !sim.synapses.iter().all(below) && sim.t < limit {
        let next = sim.t + 0.5 * sim.rule.tau_star_ms;
        sim.run(next, rng, &mut crate::sim::NoObserver)?;
    }
    for s in &mut sim.synapses {
        let rho = if s.efficacy.rho > RHO_STAR { 1.0 } else { 0.0 };
        s.efficacy.rho = rho;
        s.expression.settle(rho);
    }
    Ok(())
}
