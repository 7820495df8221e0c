//! The simulator: one postsynaptic cell, its synapses, a presynaptic spike
//! train and somatic current pulses, advanced by fine implicit steps during
//! activity and in closed form across quiet stretches.

mod measure;
mod quiet;

pub use measure::{
    cell_report, count_spikes, first_crossing, pulse_response, rheobase, CellReport, SPIKE_THRESHOLD_MV,
};

pub use quiet::{ExpSum, QuietSettings};

use crate::cell::{CellModel, CellState, Workspace};
use crate::synapse::{Environment, RuleParams, RuleSettings, Synapse};
use crate::{Error, Result};
use rand::Rng;

/// A square somatic current pulse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pulse {
    pub start_ms: f64,
    pub duration_ms: f64,
    pub amplitude_na: f64,
}

/// Numerical settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimSettings {
    /// Fine time step during activity (ms).
    pub dt_ms: f64,
    pub quiet: QuietSettings,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            dt_ms: 0.025,
            quiet: QuietSettings::default(),
        }
    }
}

/// How the simulation last advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// A fine implicit step (`dt_ms` or shorter, up to an event).
    Fine,
    /// An implicit step of `relax_dt_ms` near rest.
    Relax,
    /// A quiet stretch in closed form.
    Skip,
}

/// Something that watches the simulation after every step or skip.
pub trait Observer {
    fn observe(&mut self, sim: &Simulation);
}

/// Watches nothing.
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&mut self, _: &Simulation) {}
}

/// Records the somatic voltage after every step (and at skip ends).
#[derive(Debug, Default, Clone)]
pub struct SomaTrace {
    pub t: Vec<f64>,
    pub v: Vec<f64>,
}

impl Observer for SomaTrace {
    fn observe(&mut self, sim: &Simulation) {
        self.t.push(sim.t);
        self.v.push(sim.state.v[0]);
    }
}

/// Largest voltage reached in every compartment.
#[derive(Debug, Clone)]
pub struct PeakVoltage(pub Vec<f64>);

impl Observer for PeakVoltage {
    fn observe(&mut self, sim: &Simulation) {
        for (p, v) in self.0.iter_mut().zip(&sim.state.v) {
            *p = p.max(*v);
        }
    }
}

/// The larger of two values, NaN if either is: a NaN state must keep the
/// cell in fine steps, where it is detected and reported.
fn max_or_nan(m: f64, x: f64) -> f64 {
    if x.is_nan() || x > m {
        x
    } else {
        m
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nearness {
    Active,
    Near,
    AtRest,
}

pub struct Simulation<'c> {
    pub cell: &'c CellModel,
    pub state: CellState,
    pub rest: CellState,
    pub synapses: Vec<Synapse>,
    pub env: Environment,
    pub rule: RuleParams,
    pub rule_settings: RuleSettings,
    pub settings: SimSettings,
    pub t: f64,
    /// Presynaptic spike times not yet delivered, ascending.
    pre_spikes: Vec<f64>,
    next_spike: usize,
    pulses: Vec<Pulse>,
    ws: Workspace,
    /// A label for error messages (cell, connection).
    pub context: String,
    /// Fine steps, relaxation steps and quiet stretches so far.
    pub fine_steps: u64,
    pub relax_steps: u64,
    pub skips: u64,
    pub last_advance: Advance,
    /// cai − cai₀ of each synapse over the last quiet stretch, in closed
    /// form from its start (for recorders that bin calcium exactly).
    pub last_skip_calcium: Vec<ExpSum>,
}

impl<'c> Simulation<'c> {
    /// A simulation starting at rest at t = 0.
    pub fn new(cell: &'c CellModel, rest: CellState, env: Environment, rule: RuleParams) -> Simulation<'c> {
        Simulation {
            cell,
            state: rest.clone(),
            rest,
            synapses: Vec::new(),
            env,
            rule,
            rule_settings: RuleSettings::default(),
            settings: SimSettings::default(),
            t: 0.0,
            pre_spikes: Vec::new(),
            next_spike: 0,
            pulses: Vec::new(),
            ws: Workspace::new(cell.len()),
            context: format!("cell {}", cell.name),
            fine_steps: 0,
            relax_steps: 0,
            skips: 0,
            last_advance: Advance::Fine,
            last_skip_calcium: Vec::new(),
        }
    }

    /// Presynaptic spikes to deliver to every synapse (times ≥ now).
    pub fn add_presynaptic_spikes(&mut self, times: &[f64]) {
        self.pre_spikes.drain(..self.next_spike);
        self.next_spike = 0;
        self.pre_spikes.extend_from_slice(times);
        self.pre_spikes.sort_by(f64::total_cmp);
    }

    /// An independent copy in the current state, without pending spikes or
    /// pulses (for runs branching off one settled simulation).
    pub fn fork(&self) -> Simulation<'c> {
        let mut sim = Simulation::new(self.cell, self.rest.clone(), self.env, self.rule);
        sim.state = self.state.clone();
        sim.synapses = self.synapses.clone();
        sim.settings = self.settings;
        sim.rule_settings = self.rule_settings;
        sim.context = self.context.clone();
        sim.t = self.t;
        sim
    }

    pub fn add_pulse(&mut self, pulse: Pulse) {
        self.pulses.push(pulse);
    }

    pub fn clear_pulses(&mut self) {
        self.pulses.clear();
    }

    fn injected_current(&self, t_mid: f64) -> f64 {
        self.pulses
            .iter()
            .filter(|p| t_mid >= p.start_ms && t_mid < p.start_ms + p.duration_ms)
            .map(|p| p.amplitude_na)
            .sum()
    }

    /// The next time something happens after now (spike, pulse edge), or `until`.
    fn next_event(&self, until: f64) -> f64 {
        let eps = 1e-9;
        let spike = self.pre_spikes.get(self.next_spike).copied().unwrap_or(f64::INFINITY);
        let edges = self
            .pulses
            .iter()
            .flat_map(|p| [p.start_ms, p.start_ms + p.duration_ms])
            .filter(|&e| e > self.t + eps);
        edges.fold(spike.min(until), f64::min)
    }

    /// Runs until `until` (ms), delivering spikes and pulses on the way.
    pub fn run<R: Rng + ?Sized, O: Observer>(&mut self, until: f64, rng: &mut R, obs: &mut O) -> Result<()> {
        let eps = 1e-9;
        while self.t < until - eps {
            while let Some(&ts) = self.pre_spikes.get(self.next_spike) {
                if ts > self.t + eps {
                    break;
                }
                for s in &mut self.synapses {
                    s.presynaptic_spike(self.t, rng);
                }
                self.next_spike += 1;
            }
            let event = self.next_event(until);
            let pulse_on = self.injected_current(self.t + eps) != 0.0;
            let q = self.settings.quiet;
            let nearness = if pulse_on || !q.enabled {
                Nearness::Active
            } else {
                self.nearness()
            };
            self.last_advance = match nearness {
                Nearness::AtRest if event - self.t >= q.min_skip_ms => {
                    self.skip_to(event);
                    self.skips += 1;
                    Advance::Skip
                }
                Nearness::AtRest | Nearness::Near if q.relax && event - self.t >= q.relax_dt_ms => {
                    self.step(q.relax_dt_ms)?;
                    self.relax_steps += 1;
                    Advance::Relax
                }
                _ => {
                    self.step(self.settings.dt_ms.min(event - self.t))?;
                    self.fine_steps += 1;
                    Advance::Fine
                }
            };
            obs.observe(self);
        }
        Ok(())
    }

    /// One implicit step of h ms.
    fn step(&mut self, h: f64) -> Result<()> {
        self.ws.clear_extra();
        for s in &self.synapses {
            let v = self.state.v[s.compartment];
            let c = s.current(v, &self.env);
            self.ws.add_membrane_current(s.compartment, v, c.i_na, c.di_dv_us);
        }
        let i_inj = self.injected_current(self.t + 0.5 * h);
        self.ws.add_injection(0, i_inj);
        self.cell.step(&mut self.state, &mut self.ws, h);
        self.t += h;
        for s in &mut self.synapses {
            let v = self.state.v[s.compartment];
            s.advance(h, v, &self.env, &self.rule, &self.rule_settings);
        }
        let v0 = self.state.v[0];
        if !v0.is_finite() || v0.abs() > 1000.0 {
            return Err(self.numerical_failure(format!("somatic voltage {v0} mV")));
        }
        Ok(())
    }

    pub fn numerical_failure(&self, problem: String) -> Error {
        Error::Numerical {
            context: self.context.clone(),
            time_ms: self.t,
            problem,
        }
    }

    /// How close the cell and its synapses are to rest, by the quiet
    /// settings' tolerances. At rest: every voltage within the quiet
    /// tolerance and no synapse able to pass more than the current tolerance
    /// (a receptor just activated is not yet open, so its B state bounds it).
    fn nearness(&self) -> Nearness {
        let q = &self.settings.quiet;
        let dv = self
            .state
            .v
            .iter()
            .zip(&self.rest.v)
            .map(|(v, r)| (v - r).abs())
            .fold(0.0, max_or_nan);
        if dv > q.voltage_tolerance_mv.max(q.relax_voltage_tolerance_mv) {
            return Nearness::Active;
        }
        let current = self
            .synapses
            .iter()
            .map(|s| s.receptor_current_bound(self.rest.v[s.compartment], &self.env))
            .fold(0.0, max_or_nan);
        if dv <= q.voltage_tolerance_mv && current <= q.current_tolerance_na {
            Nearness::AtRest
        } else if dv <= q.relax_voltage_tolerance_mv && current <= q.relax_current_tolerance_na {
            Nearness::Near
        } else {
            Nearness::Active
        }
    }

    /// Relaxes cell and synapses together to their joint resting state with
    /// plasticity frozen, then takes it as the rest of quiet stretches. c*
    /// restarts from 0 (SPEC §2.5); spine calcium keeps its resting value.
    pub fn settle(&mut self) -> Result<()> {
        let saved = self.rule_settings;
        self.rule_settings.plasticity = false;
        for _ in 0..100_000 {
            let v_before = self.state.v.clone();
            let cai_before: Vec<f64> = self.synapses.iter().map(|s| s.fast.cai).collect();
            let t = self.t;
            self.step(1.0)?;
            self.t = t;
            let dv = v_before
                .iter()
                .zip(&self.state.v)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let dc = cai_before
                .iter()
                .zip(&self.synapses)
                .map(|(a, s)| (a - s.fast.cai).abs())
                .fold(0.0, f64::max);
            if dv < 1e-11 && dc < 1e-16 {
                self.rule_settings = saved;
                self.rest = self.state.clone();
                for s in &mut self.synapses {
                    s.fast.cstar = 0.0;
                    s.reset_peaks();
                }
                return Ok(());
            }
        }
        Err(self.numerical_failure("cell and synapses do not settle to a resting state".into()))
    }

    /// Checks every state for NaN or divergence.
    pub fn check_finite(&self) -> Result<()> {
        if let Some(i) = self.state.v.iter().position(|v| !v.is_finite() || v.abs() > 1000.0) {
            return Err(self.numerical_failure(format!("voltage {} mV in compartment {i}", self.state.v[i])));
        }
        if let Some(i) = self.synapses.iter().position(|s| !s.is_finite()) {
            return Err(self.numerical_failure(format!("non-finite state in synapse {i}")));
        }
        Ok(())
    }

    pub fn reset_peaks(&mut self) {
        self.synapses.iter_mut().for_each(Synapse::reset_peaks);
    }
}
