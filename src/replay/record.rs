//! Recording a connection's candidate-independent traces with the full
//! engine, plasticity frozen, the same release stream as the full run.

use super::bins::{coarsen_induction, merge_bins};
use super::cache::{ConnectionTraces, SummationPoint, SynapseTraces, Timeline, TraceSettings};
use crate::cell::CellModel;
use crate::pathway::Connection;
use crate::protocol::{
    build_simulation, calibration_run, induction_schedule, protocol_environment, protocol_seed, InVitroProtocol,
    Manipulation, RunnerSettings, SpikeStimulus,
};
use crate::sim::{Advance, ExpSum, NoObserver, Observer, Simulation};
use crate::synapse::{RuleParams, CAI_REST_MM, CAI_TAU_MS};
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The engine's own c* (at the reference τ* of the frozen run) against the
/// same c* rebuilt from the stored bins, for checking the binning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordCheck {
    pub tau_star_ms: f64,
    /// Largest |c*_bins − c*_engine| at the calibration peaks, the start and
    /// the end of induction, relative to the largest calibration peak.
    pub max_relative_error: f64,
}

/// Bins every synapse's cai − cai₀ from the steps the engine takes.
struct CalciumRecorder {
    settings: TraceSettings,
    rest: Vec<f64>,
    t_prev: f64,
    cai_prev: Vec<f64>,
    bin_start: f64,
    acc: Vec<f64>,
    /// ∫ NMDA calcium influx per unit open fraction over the current bin.
    acc_drive: Vec<f64>,
    /// That influx at rest, for quiet stretches.
    drive_rest: Vec<f64>,
    widths: Vec<f64>,
    gap: Vec<bool>,
    values: Vec<Vec<f64>>,
    drives: Vec<Vec<f64>>,
}

/// What a recorded run leaves: the timeline, per synapse the calcium
/// values of its bins and the mean NMDA calcium influx per unit open
/// fraction over each bin (mM/ms).
struct Recorded {
    timeline: Timeline,
    calcium: Vec<Vec<f64>>,
    nmda_drive: Vec<Vec<f64>>,
}

impl CalciumRecorder {
    fn new(sim: &Simulation, rest: &[f64], settings: TraceSettings) -> Self {
        let n = sim.synapses.len();
        CalciumRecorder {
            settings,
            rest: rest.to_vec(),
            t_prev: sim.t,
            cai_prev: sim.synapses.iter().map(|s| s.fast.cai).collect(),
            bin_start: sim.t,
            acc: vec![0.0; n],
            acc_drive: vec![0.0; n],
            drive_rest: sim
                .synapses
                .iter()
                .map(|s| s.nmda_influx_per_open(sim.rest.v[s.compartment], &sim.env))
                .collect(),
            widths: Vec::new(),
            gap: Vec::new(),
            values: vec![Vec::new(); n],
            drives: vec![Vec::new(); n],
        }
    }

    /// A bin of `width` with its calcium values and ∫ NMDA drive per synapse.
    fn push(&mut self, width: f64, gap: bool, values: impl Iterator<Item = f64>, drives: impl Iterator<Item = f64>) {
        self.widths.push(width);
        self.gap.push(gap);
        for (v, x) in self.values.iter_mut().zip(values) {
            v.push(x);
        }
        for (v, x) in self.drives.iter_mut().zip(drives) {
            v.push(x);
        }
    }

    /// A bin of the quiet stretch: the cell at rest.
    fn push_at_rest(&mut self, width: f64, gap: bool, values: impl Iterator<Item = f64>) {
        let drives: Vec<f64> = self.drive_rest.iter().map(|d| d * width).collect();
        self.push(width, gap, values, drives.into_iter());
    }

    fn flush(&mut self, t: f64) {
        if t - self.bin_start > 1e-12 {
            let acc = std::mem::take(&mut self.acc);
            let drive = std::mem::take(&mut self.acc_drive);
            self.push(t - self.bin_start, false, acc.iter().copied(), drive.iter().copied());
            self.acc = vec![0.0; acc.len()];
            self.acc_drive = vec![0.0; drive.len()];
        }
        self.bin_start = t;
    }

    /// A quiet stretch of `h` ms with each synapse's cai − cai₀ in closed
    /// form (`calcium`, from the stretch's start). While the NMDA tail still
    /// adds calcium it is binned exactly, bin by bin; the rest is one gap bin
    /// holding the excess over rest at its start, which then decays with τ_Ca.
    fn quiet_stretch(&mut self, calcium: &[ExpSum], h: f64) {
        self.flush(self.t_prev);
        let bin = self.settings.bin_ms;
        let tail = calcium.iter().map(nmda_tail_ms).fold(0.0, f64::max);
        let fine = (bin * (tail / bin).ceil()).min(h);
        let mut a = 0.0;
        while a < fine - 1e-12 {
            let b = (a + bin).min(fine);
            let values: Vec<f64> = calcium.iter().map(|e| e.integral(a, b)).collect();
            self.push_at_rest(b - a, false, values.into_iter());
            a = b;
        }
        if h - fine > 1e-12 {
            let r: Vec<f64> = calcium
                .iter()
                .zip(&self.rest)
                .map(|(e, rest)| CAI_REST_MM + e.at(fine) - rest)
                .collect();
            self.push_at_rest(h - fine, true, r.into_iter());
        }
    }

    fn finish(mut self, t_end: f64) -> Recorded {
        self.flush(t_end);
        let (timeline, calcium, drive_integrals) =
            merge_bins(&self.widths, &self.gap, &self.values, &self.drives, &self.settings);
        let nmda_drive = drive_integrals
            .iter()
            .map(|d| d.iter().zip(&timeline.widths_ms).map(|(x, w)| x / w).collect())
            .collect();
        Recorded {
            timeline,
            calcium,
            nmda_drive,
        }
    }
}

impl Observer for CalciumRecorder {
    fn observe(&mut self, sim: &Simulation) {
        let t = sim.t;
        let h = t - self.t_prev;
        if h <= 0.0 {
            return;
        }
        if sim.last_advance == Advance::Skip {
            self.quiet_stretch(&sim.last_skip_calcium, h);
            self.bin_start = t;
        } else {
            // The engine's own c* drive: cai at the step's midpoint, constant over the step.
            let drive: Vec<f64> = self
                .cai_prev
                .iter()
                .zip(&sim.synapses)
                .map(|(a, s)| 0.5 * (a + s.fast.cai) - CAI_REST_MM)
                .collect();
            // The engine's calcium current uses the voltage at the step's end.
            let nmda: Vec<f64> = sim
                .synapses
                .iter()
                .map(|s| s.nmda_influx_per_open(sim.state.v[s.compartment], &sim.env))
                .collect();
            let mut a = self.t_prev;
            while a < t - 1e-12 {
                let edge = self.bin_start + self.settings.bin_ms;
                let b = if edge <= t + 1e-9 { edge } else { t };
                for (acc, d) in self.acc.iter_mut().zip(&drive) {
                    *acc += d * (b - a);
                }
                for (acc, d) in self.acc_drive.iter_mut().zip(&nmda) {
                    *acc += d * (b - a);
                }
                if b == edge {
                    self.flush(edge);
                }
                a = b;
            }
        }
        self.t_prev = t;
        for (c, s) in self.cai_prev.iter_mut().zip(&sim.synapses) {
            *c = s.fast.cai;
        }
    }
}

/// Time (ms) after which the NMDA-driven terms of a quiet stretch's
/// calcium add less than 1e-8 mM·ms to c* (1e-7 of a typical calibration
/// peak): every term but the τ_Ca one, which a gap bin represents exactly.
fn nmda_tail_ms(calcium: &ExpSum) -> f64 {
    const NEGLIGIBLE_MM_MS: f64 = 1e-8;
    calcium
        .terms()
        .iter()
        .filter(|(_, tau)| (tau - CAI_TAU_MS).abs() > 1e-9 * CAI_TAU_MS)
        .map(|&(a, tau)| tau * ((a.abs() * tau * 2.0) / NEGLIGIBLE_MM_MS).ln().max(0.0))
        .fold(0.0, f64::max)
}

/// Somatic voltage above rest every `waveform_dt_ms` after releases of
/// `weights` (released/Nrrp, per synapse) at Ĝ_AMPA = `g_ns` (per synapse).
fn epsp_waveform(base: &Simulation, weights: &[f64], g_ns: &[f64], settings: &TraceSettings) -> Result<Vec<f64>> {
    let mut sim = base.fork();
    for (s, &g) in sim.synapses.iter_mut().zip(g_ns) {
        s.expression.g_ampa_ns = g;
    }
    let t0 = sim.t + 1.0;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    sim.run(t0, &mut rng, &mut NoObserver)?;
    let v0 = sim.state.v[0];
    for (s, &w) in sim.synapses.iter_mut().zip(weights) {
        if w > 0.0 {
            s.fast.ampa.activate(w);
            s.fast.nmda.activate(w);
        }
    }
    let mut trace = crate::sim::SomaTrace::default();
    sim.run(t0 + settings.epsp_window_ms, &mut rng, &mut trace)?;
    let n = (settings.epsp_window_ms / settings.waveform_dt_ms).round() as usize + 1;
    let mut out = Vec::with_capacity(n);
    let mut j = 0;
    for k in 0..n {
        let t = t0 + k as f64 * settings.waveform_dt_ms;
        while j < trace.t.len() && trace.t[j] <= t + 1e-9 {
            j += 1;
        }
        out.push(if j == 0 { 0.0 } else { trace.v[j - 1] - v0 });
    }
    Ok(out)
}

/// Peaks of every synapse releasing fully together, all depressed and all
/// potentiated, against the linear sum of their single waveforms.
fn summation_points(
    base: &Simulation,
    waveforms: &[(Vec<f64>, Vec<f64>)],
    settings: &TraceSettings,
) -> Result<Vec<SummationPoint>> {
    let all = vec![1.0; base.synapses.len()];
    [false, true]
        .into_iter()
        .map(|potentiated| {
            let pick = |d: f64, p: f64| if potentiated { p } else { d };
            let g: Vec<f64> = base
                .synapses
                .iter()
                .map(|s| pick(s.expression.g_d, s.expression.g_p))
                .collect();
            let together = epsp_waveform(base, &all, &g, settings)?;
            let linear = (0..together.len())
                .map(|k| waveforms.iter().map(|(d, p)| pick(d[k], p[k])).sum::<f64>())
                .fold(0.0, f64::max);
            Ok(SummationPoint {
                linear_peak_mv: linear,
                peak_mv: together.iter().copied().fold(0.0, f64::max),
            })
        })
        .collect()
}

fn record_run(
    sim: &mut Simulation,
    rest: &[f64],
    until: f64,
    rng: &mut ChaCha8Rng,
    settings: TraceSettings,
) -> Result<Recorded> {
    let mut rec = CalciumRecorder::new(sim, rest, settings);
    sim.run(until, rng, &mut rec)?;
    Ok(rec.finish(sim.t))
}

/// c* at the end of a timeline and its peak, for one τ*; `moments` as the
/// induction stores them, or empty (zero).
fn cstar_over(t: &Timeline, values: &[f64], moments: &[f64], rest_excess: f64, c0: f64, tau: f64) -> (f64, f64) {
    let mut c = c0;
    let mut peak = c0;
    for (b, ((&w, &gap), &v)) in t.widths_ms.iter().zip(&t.gap).zip(values).enumerate() {
        c = if gap {
            super::induction::gap_cstar(c, v, rest_excess, tau, w)
        } else {
            let m = moments.get(b).copied().unwrap_or(0.0);
            c * (-w / tau).exp() + (v + m / tau) * super::grid::gain_factor(w, tau)
        };
        peak = peak.max(c);
    }
    (c, peak)
}

/// What recording a connection shares between protocols that differ only
/// in pairing frequency and timing: the settled simulation, the calibration
/// transients and the single-synapse EPSP waveforms.
struct Prelude<'c> {
    base: Simulation<'c>,
    rest: Vec<f64>,
    pre: (Timeline, Vec<Vec<f64>>),
    post: (Timeline, Vec<Vec<f64>>),
    waveforms: Vec<(Vec<f64>, Vec<f64>)>,
    summation: Vec<SummationPoint>,
    check: BinCheck,
}

/// Running check of binned c* against the engine's, relative to the
/// largest engine value seen (the calibration peaks come first).
#[derive(Clone, Copy)]
struct BinCheck {
    worst: f64,
    scale: f64,
}

impl BinCheck {
    fn add(&mut self, engine: f64, bins: f64) {
        self.scale = self.scale.max(engine.abs());
        self.worst = self.worst.max((engine - bins).abs() / self.scale);
    }
}

/// The reference rule of the frozen recordings (only τ* matters: the
/// binning check rebuilds the engine's c* at it).
fn reference_rule() -> RuleParams {
    RuleParams::chindemi2022()
}

fn record_prelude<'c>(
    cell: &'c CellModel,
    connection: &Connection,
    g_scale: f64,
    protocol: &InVitroProtocol,
    single: &SpikeStimulus,
    runner: &RunnerSettings,
    settings: &TraceSettings,
) -> Result<Prelude<'c>> {
    let env = protocol_environment(protocol, runner);
    let mk801 = protocol.manipulation == Manipulation::Mk801Pre;
    let reference = reference_rule();
    let mut base = build_simulation(cell, connection, g_scale, env, reference, runner, mk801)?;
    base.rule_settings.plasticity = false;
    let rest: Vec<f64> = base.synapses.iter().map(|s| s.fast.cai).collect();
    let mut check = BinCheck {
        worst: 0.0,
        scale: 1e-12,
    };

    // Calibration transients (SPEC §5.2), as `calibration_peaks` runs them.
    let calib = |pre: bool| -> Result<(Timeline, Vec<Vec<f64>>, Vec<f64>)> {
        let (mut sim, t0) = calibration_run(&base, single, pre);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let Recorded {
            timeline: t,
            calcium: v,
            ..
        } = record_run(&mut sim, &rest, t0 + 600.0, &mut rng, *settings)?;
        Ok((t, v, sim.synapses.iter().map(|s| s.peak_cstar).collect()))
    };
    let (pre_t, pre_v, pre_peaks) = calib(true)?;
    let (post_t, post_v, post_peaks) = calib(false)?;
    for i in 0..rest.len() {
        let ex = rest[i] - CAI_REST_MM;
        check.add(
            pre_peaks[i],
            cstar_over(&pre_t, &pre_v[i], &[], ex, 0.0, reference.tau_star_ms).1,
        );
        check.add(
            post_peaks[i],
            cstar_over(&post_t, &post_v[i], &[], ex, 0.0, reference.tau_star_ms).1,
        );
    }

    let n = base.synapses.len();
    let waveforms = (0..n)
        .map(|i| {
            let e = base.synapses[i].expression;
            let alone: Vec<f64> = (0..n).map(|k| if k == i { 1.0 } else { 0.0 }).collect();
            let g = |x: f64| vec![x; n];
            Ok((
                epsp_waveform(&base, &alone, &g(e.g_d), settings)?,
                epsp_waveform(&base, &alone, &g(e.g_p), settings)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let summation = summation_points(&base, &waveforms, settings)?;
    Ok(Prelude {
        base,
        rest,
        pre: (pre_t, pre_v),
        post: (post_t, post_v),
        waveforms,
        summation,
        check,
    })
}

/// Records one connection under one protocol (`train`/`single`: the
/// postsynaptic stimuli of the protocol's burst and of a lone spike).
#[allow(clippy::too_many_arguments)]
pub fn record_connection(
    cell: &CellModel,
    connection: &Connection,
    g_scale: f64,
    protocol: &InVitroProtocol,
    train: &SpikeStimulus,
    single: &SpikeStimulus,
    runner: &RunnerSettings,
    settings: &TraceSettings,
) -> Result<(ConnectionTraces, RecordCheck)> {
    let prelude = record_prelude(cell, connection, g_scale, protocol, single, runner, settings)?;
    record_induction(&prelude, connection, protocol, train, runner, settings)
}

/// Records one connection under protocols that differ only in pairing
/// frequency and timing (same [Ca²⁺]o, manipulation and burst period), the
/// calibration and waveforms once; `trains[k]` is protocol k's burst stimulus.
#[allow(clippy::too_many_arguments)]
pub fn record_variants(
    cell: &CellModel,
    connection: &Connection,
    g_scale: f64,
    protocols: &[InVitroProtocol],
    trains: &[SpikeStimulus],
    single: &SpikeStimulus,
    runner: &RunnerSettings,
    settings: &TraceSettings,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<ConnectionTraces>> {
    let Some(first) = protocols.first() else {
        return Ok(Vec::new());
    };
    let prelude = record_prelude(cell, connection, g_scale, first, single, runner, settings)?;
    protocols
        .iter()
        .zip(trains)
        .map(|(p, train)| {
            let out = record_induction(&prelude, connection, p, train, runner, settings).map(|(t, _)| t);
            tick();
            out
        })
        .collect()
}

fn record_induction(
    prelude: &Prelude,
    connection: &Connection,
    protocol: &InVitroProtocol,
    train: &SpikeStimulus,
    runner: &RunnerSettings,
    settings: &TraceSettings,
) -> Result<(ConnectionTraces, RecordCheck)> {
    let Prelude {
        base,
        rest,
        pre: (pre_t, pre_v),
        post: (post_t, post_v),
        waveforms,
        summation,
        check,
    } = prelude;
    let mut check = *check;
    let tau = reference_rule().tau_star_ms;
    let mut sim = base.fork();
    let mut rng = ChaCha8Rng::seed_from_u64(protocol_seed(connection.release_seed, &protocol.protocol_id));
    let period = protocol.burst_period_s * 1000.0;
    let c01_start = sim.t + 100.0;
    let tests: Vec<f64> = (0..runner.test_spikes).map(|k| c01_start + k as f64 * period).collect();
    // A test EPSP leaves no voltage, receptor or calcium trace a burst
    // period later, and replay rebuilds the baseline EPSPs by superposition,
    // so only the release state and the random stream are carried through
    // the baseline, with the draws the engine would make in its order.
    for &t in &tests {
        for s in &mut sim.synapses {
            s.release.spike(t, s.expression.use_, &mut rng);
        }
    }
    sim.run(
        c01_start + runner.test_spikes as f64 * period,
        &mut rng,
        &mut NoObserver,
    )?;
    let t_ind = sim.t;
    let cstar_ind: Vec<f64> = sim.synapses.iter().map(|s| s.fast.cstar).collect();
    let (pre, pulses) = induction_schedule(protocol, train, t_ind);
    sim.add_presynaptic_spikes(&pre);
    pulses.into_iter().for_each(|p| sim.add_pulse(p));
    let t_end = t_ind + f64::from(protocol.bursts) * period;
    let Recorded {
        timeline: ind_t,
        calcium: ind_v,
        nmda_drive,
        ..
    } = record_run(&mut sim, rest, t_end, &mut rng, *settings)?;
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    // Only the rise and the peaks are needed (amplitude and 30-75 % slope):
    // keep every waveform up to the latest peak of any of them.
    let keep = waveforms
        .iter()
        .flat_map(|(d, p)| [d, p])
        .map(|w| {
            w.iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                .0
        })
        .max()
        .unwrap_or(0)
        + 1;
    let cut = |v: &[f64]| f32s(&v[..keep.min(v.len())]);
    let synapses = base
        .synapses
        .iter()
        .enumerate()
        .map(|(i, s)| SynapseTraces {
            tree: s.tree,
            rho0: connection.contacts[i].rho0,
            nrrp: s.release.nrrp(),
            dep_ms: connection.contacts[i].dep_ms,
            fac_ms: connection.contacts[i].fac_ms,
            use0: s.expression.use_,
            use_d: s.expression.u_d,
            use_p: s.expression.u_p,
            g_d_ns: s.expression.g_d,
            g_p_ns: s.expression.g_p,
            rest_excess_mm: rest[i] - CAI_REST_MM,
            calib_pre: f32s(&pre_v[i]),
            calib_post: f32s(&post_v[i]),
            induction: f32s(&ind_v[i]),
            induction_moment: vec![0.0; ind_v[i].len()],
            nmda_drive: f32s(&nmda_drive[i]),
            end_excess_mm: sim.synapses[i].fast.cai - rest[i],
            epsp_depressed: cut(&waveforms[i].0),
            epsp_potentiated: cut(&waveforms[i].1),
        })
        .collect();
    let mut traces = ConnectionTraces {
        connection: connection.clone(),
        excluded: None,
        soma_rest_mv: base.state.v[0],
        c01_start_ms: c01_start,
        induction_start_ms: t_ind,
        induction_end_ms: t_end,
        calib_pre: pre_t.clone(),
        calib_post: post_t.clone(),
        induction: ind_t,
        synapses,
        summation: summation.clone(),
    };
    coarsen_induction(&mut traces, protocol, settings);
    for (i, syn) in traces.synapses.iter().enumerate() {
        let c0 = syn.rest_excess_mm * tau * (1.0 - (-t_ind / tau).exp());
        check.add(cstar_ind[i], c0);
        let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let (values, moments) = (f64s(&syn.induction), f64s(&syn.induction_moment));
        let (end, _) = cstar_over(&traces.induction, &values, &moments, syn.rest_excess_mm, c0, tau);
        check.add(sim.synapses[i].fast.cstar, end);
    }
    Ok((
        traces,
        RecordCheck {
            tau_star_ms: tau,
            max_relative_error: check.worst,
        },
    ))
}

/// Records every connection of a protocol job in parallel; a connection the
/// stimulus search rules out is stored as excluded.
pub fn record_job(
    job: &crate::protocol::ProtocolJob,
    runner: &RunnerSettings,
    settings: &TraceSettings,
    tick: &(dyn Fn() + Sync),
) -> Result<(super::ProtocolTraces, f64)> {
    use rayon::prelude::*;
    let rest = job.cell.resting_state()?;
    let grid = crate::protocol::AmplitudeGrid::default();
    let p = &job.protocol;
    let stimuli =
        crate::protocol::find_spike_stimulus(&job.cell, &rest, p.stimuli_per_burst as usize, p.frequency_hz, &grid)
            .and_then(|train| {
                Ok((
                    train,
                    crate::protocol::find_spike_stimulus(&job.cell, &rest, 1, p.frequency_hz, &grid)?,
                ))
            })
            .map_err(|e| e.to_string());
    let recorded: Vec<(ConnectionTraces, f64)> = job
        .connections
        .par_iter()
        .map(|conn| {
            let out = match &stimuli {
                Ok((train, single)) => {
                    record_connection(&job.cell, conn, job.g_scale, p, train, single, runner, settings)
                        .map(|(t, c)| (t, c.max_relative_error))
                }
                Err(reason) => Ok((
                    excluded_connection(conn, format!("postsynaptic stimulus: {reason}")),
                    0.0,
                )),
            };
            tick();
            out
        })
        .collect::<Result<_>>()?;
    let worst = recorded.iter().map(|r| r.1).fold(0.0, f64::max);
    Ok((
        super::ProtocolTraces {
            protocol: p.clone(),
            pathway: job.pathway.clone(),
            g_scale: job.g_scale,
            block_depression: p.manipulation == Manipulation::Mk801Pre,
            test_spikes: runner.test_spikes,
            connections: recorded.into_iter().map(|r| r.0).collect(),
        },
        worst,
    ))
}

fn excluded_connection(conn: &Connection, reason: String) -> ConnectionTraces {
    let empty = Timeline {
        widths_ms: vec![],
        gap: vec![],
    };
    ConnectionTraces {
        connection: conn.clone(),
        excluded: Some(reason),
        soma_rest_mv: 0.0,
        c01_start_ms: 0.0,
        induction_start_ms: 0.0,
        induction_end_ms: 0.0,
        calib_pre: empty.clone(),
        calib_post: empty.clone(),
        induction: empty,
        synapses: vec![],
        summation: vec![],
    }
}

/// ρ of every synapse at the end of the induction in the full engine at
/// `rule` (plasticity on from the baseline, as `run_connection`). With
/// `freeze_expression`, Ĝ_AMPA and Use keep their start values while ρ
/// evolves: the assumption replay makes, so the replay's ρ must match it.
#[allow(clippy::too_many_arguments)]
pub fn engine_induction_rho(
    cell: &CellModel,
    connection: &Connection,
    g_scale: f64,
    protocol: &InVitroProtocol,
    rule: &RuleParams,
    train: &SpikeStimulus,
    single: &SpikeStimulus,
    runner: &RunnerSettings,
    freeze_expression: bool,
) -> Result<Vec<f64>> {
    let env = protocol_environment(protocol, runner);
    let mk801 = protocol.manipulation == Manipulation::Mk801Pre;
    let mut sim = build_simulation(cell, connection, g_scale, env, *rule, runner, mk801)?;
    let (c_pre, c_post) = crate::protocol::calibration_peaks(&sim, single)?;
    for ((s, &cp), &cq) in sim.synapses.iter_mut().zip(&c_pre).zip(&c_post) {
        s.set_thresholds(rule, cp, cq);
        if freeze_expression {
            let e = &mut s.expression;
            (e.g_d, e.g_p, e.u_d, e.u_p) = (e.g_ampa_ns, e.g_ampa_ns, e.use_, e.use_);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(protocol_seed(connection.release_seed, &protocol.protocol_id));
    let period = protocol.burst_period_s * 1000.0;
    let c01_start = sim.t + 100.0;
    let tests: Vec<f64> = (0..runner.test_spikes).map(|k| c01_start + k as f64 * period).collect();
    sim.add_presynaptic_spikes(&tests);
    sim.run(
        c01_start + runner.test_spikes as f64 * period,
        &mut rng,
        &mut NoObserver,
    )?;
    let t_ind = sim.t;
    let (pre, pulses) = induction_schedule(protocol, train, t_ind);
    sim.add_presynaptic_spikes(&pre);
    pulses.into_iter().for_each(|p| sim.add_pulse(p));
    sim.run(t_ind + f64::from(protocol.bursts) * period, &mut rng, &mut NoObserver)?;
    Ok(sim.synapses.iter().map(|s| s.efficacy.rho).collect())
}

/// Records `jobs` with plasticity frozen and replays `rule` on them, keeping
/// no cache: the fast path for a single evaluation (`validate`, `map`),
/// under the runner's [Ca²⁺]o and rule variant.
pub fn replay_jobs(
    jobs: &[crate::protocol::ProtocolJob],
    rule: &RuleParams,
    runner: &RunnerSettings,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<crate::protocol::ProtocolResult>> {
    let settings = TraceSettings::default();
    let protocols = jobs
        .iter()
        .map(|job| record_job(job, runner, &settings, tick).map(|(p, _)| p))
        .collect::<Result<Vec<_>>>()?;
    replay_in_memory(protocols, rule, runner)
}

/// Replays `rule` on traces kept in memory only (no identity to check).
fn replay_in_memory(
    protocols: Vec<super::ProtocolTraces>,
    rule: &RuleParams,
    runner: &RunnerSettings,
) -> Result<Vec<crate::protocol::ProtocolResult>> {
    let identity = super::CacheIdentity {
        format_version: super::FORMAT_VERSION,
        objective: "(in memory)".into(),
        protocols: protocols.iter().map(|p| p.protocol.protocol_id.clone()).collect(),
        connections_per_protocol: protocols.iter().map(|p| p.connections.len()).max().unwrap_or(0),
        sample_seed: 0,
        variant: runner.variant,
        datasets: Default::default(),
        settings: TraceSettings::default(),
    };
    let replay = super::Replay::new(super::TraceCache { identity, protocols })?;
    Ok(replay.evaluate(rule, runner.variant))
}

/// Replays `rule` on connections of one pathway under protocols that differ
/// only in pairing frequency and timing (a map grid): each connection's
/// calibration and waveforms are recorded once, each protocol's induction
/// once. A protocol whose stimulus cannot be found excludes its connections.
#[allow(clippy::too_many_arguments)]
pub fn replay_variants(
    job: &crate::protocol::ProtocolJob,
    protocols: &[InVitroProtocol],
    rule: &RuleParams,
    runner: &RunnerSettings,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<crate::protocol::ProtocolResult>> {
    use crate::protocol::{find_spike_stimulus, AmplitudeGrid};
    use rayon::prelude::*;
    let settings = TraceSettings::default();
    let rest = job.cell.resting_state()?;
    let grid = AmplitudeGrid::default();
    let Some(first) = protocols.first() else {
        return Ok(Vec::new());
    };
    let stimulus =
        |n: u32, f: f64| find_spike_stimulus(&job.cell, &rest, n as usize, f, &grid).map_err(|e| e.to_string());
    let single = stimulus(1, first.frequency_hz);
    // One stimulus search per distinct burst (pairs, frequency).
    let mut bursts: Vec<(u32, f64)> = protocols
        .iter()
        .map(|p| (p.stimuli_per_burst, p.frequency_hz))
        .collect();
    bursts.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    bursts.dedup();
    let found: Vec<std::result::Result<SpikeStimulus, String>> =
        bursts.par_iter().map(|&(n, f)| stimulus(n, f)).collect();
    let trains: Vec<std::result::Result<SpikeStimulus, String>> = protocols
        .iter()
        .map(|p| {
            let k = bursts
                .iter()
                .position(|&b| b == (p.stimuli_per_burst, p.frequency_hz))
                .expect("every burst was searched");
            found[k].clone()
        })
        .collect();
    let runnable: Vec<usize> = (0..protocols.len()).filter(|&k| trains[k].is_ok()).collect();
    let chosen: Vec<InVitroProtocol> = runnable.iter().map(|&k| protocols[k].clone()).collect();
    let chosen_trains: Vec<SpikeStimulus> = runnable.iter().map(|&k| trains[k].clone().expect("runnable")).collect();
    let per_connection: Vec<Vec<ConnectionTraces>> = match &single {
        Ok(single) => job
            .connections
            .par_iter()
            .map(|c| {
                record_variants(
                    &job.cell,
                    c,
                    job.g_scale,
                    &chosen,
                    &chosen_trains,
                    single,
                    runner,
                    &settings,
                    tick,
                )
            })
            .collect::<Result<_>>()?,
        Err(_) => vec![Vec::new(); job.connections.len()],
    };
    let traces: Vec<super::ProtocolTraces> = protocols
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let slot = runnable.iter().position(|&r| r == k);
            let connections = job
                .connections
                .iter()
                .zip(&per_connection)
                .map(|(c, recorded)| match (slot, &single, &trains[k]) {
                    (Some(i), Ok(_), _) => recorded[i].clone(),
                    (_, Err(reason), _) | (_, _, Err(reason)) => {
                        excluded_connection(c, format!("postsynaptic stimulus: {reason}"))
                    }
                    (None, Ok(_), Ok(_)) => unreachable!("a protocol with a stimulus is runnable"),
                })
                .collect();
            super::ProtocolTraces {
                protocol: p.clone(),
                pathway: job.pathway.clone(),
                g_scale: job.g_scale,
                block_depression: p.manipulation == Manipulation::Mk801Pre,
                test_spikes: runner.test_spikes,
                connections,
            }
        })
        .collect();
    replay_in_memory(traces, rule, runner)
}
