//! The replay evaluator: any candidate's EPSP ratios from a trace cache.

use super::cache::{ConnectionTraces, ProtocolTraces, SummationPoint, SynapseTraces, TraceCache};
use super::drift::{BinResponse, DeltaBasis, InductionDraws, Releases, UseTrack};
use super::gate::{self, Interp, PeakWindow, Piece, Segments};
use super::grid::{BinKind, Grid, Widths};
use super::induction::{self, gap_bound, gap_cstar, gap_peak, gap_rho, Induction};
use super::prefetch::Prefetch;
use crate::pathway::Tree;
use crate::protocol::{after_seed, protocol_seed, ConnectionOutcome, Exclusion, Measure, ProtocolResult};
use crate::synapse::{Release, RuleParams, RuleVariant, CAI_TAU_MS, RHO_STAR};
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::sync::Mutex;

/// Candidate-independent state of one connection, derived when loading.
#[derive(Debug)]
struct Prepared {
    protocol: usize,
    connection: usize,
    calib_pre: Grid,
    calib_post: Grid,
    induction: Grid,
    /// The induction's segments for gating (see `gate`).
    segments: Segments,
    /// Release differences over those segments (see `drift`).
    basis: DeltaBasis,
    /// Per piece slot, per synapse, the windows of its Cpre and Cpost peaks.
    peak_windows: Vec<Vec<[PeakWindow; 2]>>,

    /// The induction's draws, for replay's own releases.
    draws: InductionDraws,
    /// Release states and generator of the after phase (C02).
    releases: Vec<Release>,
    rng: ChaCha8Rng,
    baseline: std::result::Result<TestEpsps, String>,
    /// Summation of the test EPSPs: a linear peak x stands for x·(1 + β·x).
    beta: f64,
    /// After-phase test EPSPs by potentiated pattern: they depend on nothing
    /// else, and a fit meets few patterns per connection.
    after: Mutex<Vec<(Vec<bool>, TestEpsps)>>,
    /// Sample range holding every waveform's peak.
    lo: usize,
    hi: usize,
}

#[derive(Debug, Clone, Copy)]
struct TestEpsps {
    amplitude_mv: f64,
    slope_mv_per_ms: f64,
    peak_mv: f64,
}

impl TestEpsps {
    fn by(&self, m: Measure) -> f64 {
        match m {
            Measure::Amplitude => self.amplitude_mv,
            Measure::Slope => self.slope_mv_per_ms,
        }
    }
}

/// A candidate as every connection reads it.
struct Candidate<'a> {
    rule: &'a RuleParams,
    variant: RuleVariant,
    /// Decay factors of every width of the cache (see `Widths::decays`).
    dec: Vec<(f64, f64)>,
    /// Where τ* falls among the gates' nodes (None: no gates).
    interp: Option<Interp>,
}

/// Per-thread buffers: nothing is allocated per connection once warm.
#[derive(Default)]
struct Scratch {
    c: Vec<f64>,
    /// exp(−T/τ*) of each induction segment and group of segments.
    seg_decay: Vec<f64>,
    group_decay: Vec<f64>,
    induction: Induction,
    /// The next connection's tables, asked for while this one is replayed.
    prefetch: Prefetch,
    uses: Vec<UseTrack>,
    rho: Vec<f64>,
    theta: Vec<(f64, f64)>,
    potentiated: Vec<bool>,
    releases: Vec<Release>,
    vsum: Vec<f64>,
    mean_w: Vec<f64>,
}

/// A loaded cache ready to evaluate candidates.
pub struct Replay {
    cache: TraceCache,
    prepared: Vec<Prepared>,
    widths: Widths,
    waveform_dt_ms: f64,
    /// Redraw induction releases under replay's Use (see `drift`).
    release_drift: bool,
    /// Cross gated segments at once (see `gate`).
    gates: bool,
    /// The pieces of the τ* axis whose nodes are held, by slot.
    pieces: Vec<Piece>,
}

/// One protocol's replayed means (for quick scoring).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedProtocol {
    pub protocol_id: String,
    pub mean: f64,
    pub n: usize,
}

impl Replay {
    /// Checks the cache and derives the candidate-independent parts: the
    /// baseline test EPSPs (their release draws come first in the stream)
    /// and the release state after the induction.
    pub fn new(cache: TraceCache) -> Result<Replay> {
        cache.validate()?;
        let dt = cache.identity.settings.waveform_dt_ms;
        let mut widths = Widths::default();
        let mut grids = Vec::new();
        for (pi, p) in cache.protocols.iter().enumerate() {
            for (ci, c) in p.connections.iter().enumerate() {
                if c.excluded.is_none() {
                    let mut grid = |t| Grid::new(t, &mut widths);
                    grids.push((pi, ci, [grid(&c.calib_pre), grid(&c.calib_post), grid(&c.induction)]));
                }
            }
        }
        let tables = gate::Tables::new(&widths, Piece::BOX);
        let prepared = grids
            .into_par_iter()
            .map(|(pi, ci, grids)| {
                let p = &cache.protocols[pi];
                prepare(pi, ci, p, dt, grids, &tables, &widths.responses)
            })
            .collect();
        Ok(Replay {
            cache,
            prepared,
            widths,
            waveform_dt_ms: dt,
            release_drift: true,
            gates: true,
            pieces: vec![Piece::BOX],
        })
    }

    /// Gates candidates whose τ* lies in [lo_ms, hi_ms] too: by default
    /// only those in the search box of SPEC §2.7 are. Each piece of the τ*
    /// axis it adds (the box's width in u, see `gate::Piece`) costs as much
    /// memory as the box's nodes (`gate_node_bytes`) and time to derive;
    /// τ* below 55 ms or above 10 s is never gated.
    pub fn gating_tau(mut self, lo_ms: f64, hi_ms: f64) -> Replay {
        for piece in Piece::spanning(lo_ms, hi_ms) {
            if self.pieces.contains(&piece) {
                continue;
            }
            let tables = gate::Tables::new(&self.widths, piece);
            let cache = &self.cache;
            self.prepared.par_iter_mut().for_each(|prep| {
                let c = &cache.protocols[prep.protocol].connections[prep.connection];
                prep.segments.add_piece(&prep.induction, &induction_calcium(c), &tables);
                prep.peak_windows
                    .push(peak_windows(c, [&prep.calib_pre, &prep.calib_post], &tables));
            });
            self.pieces.push(piece);
        }
        self
    }

    /// Keeps the recorded induction releases, as if Use were frozen during
    /// the induction (to compare with an engine run that freezes it).
    pub fn without_release_drift(mut self) -> Replay {
        self.release_drift = false;
        self
    }

    /// Crosses every induction bin and calibration bin one by one (to
    /// check the gates, which must not change the outcome).
    pub fn without_gates(mut self) -> Replay {
        self.gates = false;
        self
    }

    pub fn cache(&self) -> &TraceCache {
        &self.cache
    }

    /// Every protocol's per-connection outcomes, in the cache's order.
    pub fn evaluate(&self, rule: &RuleParams, variant: RuleVariant) -> Vec<ProtocolResult> {
        let cand = self.candidate(rule, variant);
        let outcomes: Vec<std::result::Result<ConnectionOutcome, Exclusion>> = self
            .prepared
            .par_iter()
            .enumerate()
            .map_init(Scratch::default, |s, (j, prep)| {
                s.prefetch.clear();
                if let Some(next) = self.prepared.get(j + 1) {
                    self.prefetch(next, &cand, &mut s.prefetch);
                    s.prefetch.pace(prep.segments.spans_ms.len());
                }
                self.connection(prep, &cand, s)
            })
            .collect();
        let mut it = outcomes.into_iter().zip(&self.prepared).peekable();
        self.cache
            .protocols
            .iter()
            .enumerate()
            .map(|(pi, p)| {
                let mut out = Vec::with_capacity(p.connections.len());
                for (ci, c) in p.connections.iter().enumerate() {
                    match &c.excluded {
                        Some(reason) => out.push(Err(Exclusion {
                            connection_id: c.connection.id,
                            reason: reason.clone(),
                        })),
                        None => {
                            let (o, prep) = it.next().expect("one outcome per prepared connection");
                            debug_assert!(prep.protocol == pi && prep.connection == ci);
                            out.push(o);
                        }
                    }
                }
                ProtocolResult {
                    protocol: p.protocol.clone(),
                    pathway: p.pathway.clone(),
                    outcomes: out,
                }
            })
            .collect()
    }

    /// Mean EPSP ratio per protocol only.
    pub fn protocol_means(&self, rule: &RuleParams, variant: RuleVariant) -> Vec<ReplayedProtocol> {
        self.evaluate(rule, variant)
            .iter()
            .map(|r| {
                let ratios = r.ratios();
                ReplayedProtocol {
                    protocol_id: r.protocol.protocol_id.clone(),
                    mean: ratios.iter().sum::<f64>() / ratios.len() as f64,
                    n: ratios.len(),
                }
            })
            .collect()
    }

    /// What every connection needs of a candidate.
    fn candidate<'a>(&self, rule: &'a RuleParams, variant: RuleVariant) -> Candidate<'a> {
        let tau = rule.tau_star_ms;
        Candidate {
            rule,
            variant,
            dec: self.widths.decays(tau),
            interp: self.gates.then(|| self.interp(tau)).flatten(),
        }
    }

    /// Where τ* falls among the nodes of its piece, if the replay holds it.
    fn interp(&self, tau: f64) -> Option<Interp> {
        let piece = Piece::of(tau)?;
        let slot = self.pieces.iter().position(|&p| p == piece)?;
        Some(Interp::at(tau, piece, slot))
    }

    /// Every synapse's thresholds (from its calibration peaks) and c* at
    /// the start of the induction into the scratch buffers.
    fn thresholds(&self, prep: &Prepared, cand: &Candidate, s: &mut Scratch) {
        let (rule, dec, interp) = (cand.rule, &cand.dec[..], cand.interp);
        let c = &self.cache.protocols[prep.protocol].connections[prep.connection];
        let tau = rule.tau_star_ms;
        s.c.clear();
        s.theta.clear();
        // c* of the resting excess at the induction's start, per mM of it.
        let rest_fill = tau * (1.0 - (-c.induction_start_ms / tau).exp());
        for (i, syn) in c.synapses.iter().enumerate() {
            let ex = syn.rest_excess_mm;
            let peak = |grid: &Grid, values: &[f32], which: usize| match &interp {
                Some(ip) => {
                    let w = &prep.peak_windows[ip.slot][i][which];
                    window_peak(dec, ex, tau, w, ip.value(&w.start))
                }
                None => peak_cstar(grid, dec, values, ex, tau, 0..values.len(), 0.0).0,
            };
            let c_pre = peak(&prep.calib_pre, &syn.calib_pre, 0);
            let c_post = peak(&prep.calib_post, &syn.calib_post, 1);
            s.theta.push(rule.thresholds(syn.tree, c_pre, c_post));
            s.c.push(ex * rest_fill);
        }
    }

    /// c*, ρ and thresholds of every synapse at the end of the induction
    /// into the scratch buffers.
    fn induce(&self, prep: &Prepared, cand: &Candidate, s: &mut Scratch) {
        self.thresholds(prep, cand, s);
        let (rule, variant, interp) = (cand.rule, cand.variant, cand.interp);
        let p = &self.cache.protocols[prep.protocol];
        let c = &p.connections[prep.connection];
        let tau = rule.tau_star_ms;
        let gammas = (if p.block_depression { 0.0 } else { rule.gamma_d }, rule.gamma_p);
        s.seg_decay.clear();
        s.seg_decay
            .extend(prep.segments.spans_ms.iter().map(|t| (-t / tau).exp()));
        s.group_decay.clear();
        s.group_decay.extend(
            prep.segments
                .groups
                .iter()
                .map(|g| s.seg_decay[g.first..g.end].iter().product::<f64>()),
        );
        let setting = induction::Setting {
            grid: &prep.induction,
            segments: &prep.segments,
            synapses: &c.synapses,
            dec: &cand.dec,
            responses: &self.widths.responses,
            basis: &prep.basis,
            tau,
            inv_tau: 1.0 / tau,
            decay: &s.seg_decay,
            group_decay: &s.group_decay,
            thresholds: &s.theta,
            gammas,
            variant,
            gate: interp.map(|interp| gate::Gate {
                interp,
                nodes: prep.segments.piece(interp.slot),
            }),
        };
        let l = &mut s.induction;
        l.start(&s.c, c.synapses.iter().map(|x| f64::from(x.rho0)));
        s.uses.clear();
        s.uses.extend(
            c.synapses
                .iter()
                .zip(&prep.draws.start)
                .map(|(syn, &release)| UseTrack::new(syn, release)),
        );
        let drifts = |syn: &SynapseTraces| self.release_drift && !syn.nmda_drive.is_empty();
        for (i, syn) in c.synapses.iter().enumerate() {
            l.set_releases(
                i,
                if drifts(syn) {
                    s.uses[i].releases()
                } else {
                    Releases::Irrelevant
                },
            );
        }
        let mut segment = 0;
        if c.synapses.iter().any(drifts) {
            for (k, spike) in prep.draws.spikes.iter().enumerate() {
                induction::advance(l, &setting, &mut segment, spike.bin, &mut s.prefetch);
                for (i, syn) in c.synapses.iter().enumerate().filter(|(_, syn)| drifts(syn)) {
                    if l.steady_past(i, segment) {
                        // ρ is ρ0 (its pending relaxation keeps it there),
                        // so the draw is the recorded one.
                        let dw = s.uses[i].spike(&prep.draws, k, i, f64::from(syn.rho0), syn);
                        debug_assert_eq!(dw, 0.0);
                        continue;
                    }
                    let rho = l.current_rho(i, gammas);
                    let dw = s.uses[i].spike(&prep.draws, k, i, rho, syn);
                    if dw != 0.0 {
                        l.release(i, dw);
                    }
                    l.set_releases(i, s.uses[i].releases());
                }
            }
        }
        induction::advance(l, &setting, &mut segment, prep.induction.len(), &mut s.prefetch);
        s.rho.clear();
        for i in 0..c.synapses.len() {
            s.rho.push(l.current_rho(i, gammas));
            s.c[i] = l.c(i);
        }
    }

    /// ρ of every synapse at the end of the induction (before the
    /// fast-forward), per protocol and non-excluded connection.
    pub fn induction_rho(&self, rule: &RuleParams, variant: RuleVariant) -> Vec<Vec<f64>> {
        let mut s = Scratch::default();
        let cand = self.candidate(rule, variant);
        self.prepared
            .iter()
            .map(|prep| {
                self.induce(prep, &cand, &mut s);
                s.rho.clone()
            })
            .collect()
    }

    /// How much of the induction the gates let a candidate skip: the bins
    /// of every synapse in gated segments, and all bins of every synapse.
    pub fn gated_bins(&self, rule: &RuleParams, variant: RuleVariant) -> (usize, usize) {
        let mut s = Scratch::default();
        let cand = self.candidate(rule, variant);
        let mut total = 0;
        for prep in &self.prepared {
            self.induce(prep, &cand, &mut s);
            total += prep.induction.len() * s.rho.len();
        }
        (s.induction.gated_bins, total)
    }

    /// Bytes of the gates' nodes, every piece held (see `gate`): an
    /// evaluation reads those of its piece for the segments and groups it
    /// crosses at once, and the bound of every other.
    pub fn gate_node_bytes(&self) -> usize {
        self.prepared.iter().map(|p| p.segments.node_bytes()).sum()
    }

    /// The test EPSPs after the induction for the potentiated pattern in
    /// the scratch: the stream of the after phase continues with the
    /// settled Use from rested sites, so only the pattern matters (spike
    /// times count from the first test spike).
    fn after_phase(&self, prep: &Prepared, s: &mut Scratch) -> TestEpsps {
        let key = &s.potentiated;
        if let Some((_, e)) = lock(&prep.after).iter().find(|(k, _)| k == key) {
            return *e;
        }
        let p = &self.cache.protocols[prep.protocol];
        let c = &p.connections[prep.connection];
        let period = p.protocol.burst_period_s * 1000.0;
        s.releases.clone_from(&prep.releases);
        let mut rng = prep.rng.clone();
        let mut releases = std::mem::take(&mut s.releases);
        let potentiated = std::mem::take(&mut s.potentiated);
        let after = test_epsps(
            c,
            &potentiated,
            &mut releases,
            &mut rng,
            0.0,
            period,
            p.test_spikes,
            (prep.lo, prep.hi),
            self.waveform_dt_ms,
            prep.beta,
            s,
        );
        let mut memo = lock(&prep.after);
        if memo.len() < AFTER_MEMO_PATTERNS {
            memo.push((potentiated.clone(), after));
        }
        s.releases = releases;
        s.potentiated = potentiated;
        after
    }

    /// Adds to `p` the tables of a connection that `cand` reads whatever
    /// its thresholds (the synapses' records, calibration windows,
    /// segments, gates, the induction's grid, and the draws and per-segment
    /// difference tables if releases are redrawn). The synapses' stored
    /// values and release responses are left out: a candidate reads only
    /// those of the segments its gates do not skip, and asking for all of
    /// them slowed candidates whose gates skip most. The walks ask for those
    /// they read, segment by segment.
    fn prefetch(&self, prep: &Prepared, cand: &Candidate, p: &mut Prefetch) {
        if let Some(ip) = &cand.interp {
            p.add(&prep.peak_windows[ip.slot]);
            for w in prep.peak_windows[ip.slot].iter().flatten() {
                p.add(&w.steps);
            }
        }
        p.add(&self.cache.protocols[prep.protocol].connections[prep.connection].synapses);
        prep.segments.prefetch(p, cand.interp.as_ref());
        if self.release_drift {
            prep.draws.prefetch(p);
            prep.basis.prefetch(p);
        }
        p.add(&prep.induction.index);
        p.add(&prep.induction.width_ms);
        p.add(&prep.induction.gap);
    }

    fn connection(
        &self,
        prep: &Prepared,
        cand: &Candidate,
        s: &mut Scratch,
    ) -> std::result::Result<ConnectionOutcome, Exclusion> {
        let p = &self.cache.protocols[prep.protocol];
        let c = &p.connections[prep.connection];
        let exclude = |reason: String| {
            Err(Exclusion {
                connection_id: c.connection.id,
                reason,
            })
        };
        let baseline = match &prep.baseline {
            Ok(b) if b.by(p.protocol.measure) > 0.0 => *b,
            Ok(_) => return exclude("baseline EPSP is 0 (every test spike failed to release)".into()),
            Err(r) => return exclude(r.clone()),
        };
        self.induce(prep, cand, s);
        let (rule, variant) = (cand.rule, cand.variant);
        let tau = rule.tau_star_ms;
        let gd = if p.block_depression { 0.0 } else { rule.gamma_d };
        let gp = rule.gamma_p;
        let n = c.synapses.len();
        // Fast-forward as `settle_efficacies`: wait in chunks of τ*/2 until
        // c* is below both thresholds everywhere, then snap ρ.
        let mut t = c.induction_end_ms;
        let limit = t + 20.0 * tau + 1000.0;
        let chunk = 0.5 * tau;
        let mut k = 0;
        while !(0..n).all(|i| s.c[i] <= s.theta[i].0.min(s.theta[i].1)) && t < limit {
            for (i, syn) in c.synapses.iter().enumerate() {
                let r = syn.end_excess_mm * (-(k as f64) * chunk / CAI_TAU_MS).exp();
                let ex = syn.rest_excess_mm;
                (s.c[i], s.rho[i]) = gap_rho(s.c[i], s.rho[i], r, ex, tau, chunk, s.theta[i], (gd, gp), variant);
            }
            t += chunk;
            k += 1;
        }
        s.potentiated.clear();
        s.potentiated.extend(s.rho.iter().map(|&r| r > RHO_STAR));
        let flipped_up = (0..n).filter(|&i| c.synapses[i].rho0 == 0 && s.potentiated[i]).count();
        let flipped_down = (0..n).filter(|&i| c.synapses[i].rho0 == 1 && !s.potentiated[i]).count();
        let after = self.after_phase(prep, s);
        if c.soma_rest_mv + after.peak_mv >= crate::sim::SPIKE_THRESHOLD_MV {
            return exclude("after induction: postsynaptic spike during test EPSPs (superposed)".into());
        }
        let apical = c.synapses.iter().filter(|x| x.tree == Tree::Apical).count();
        Ok(ConnectionOutcome {
            connection_id: c.connection.id,
            synapses: n,
            apical_fraction: apical as f64 / n.max(1) as f64,
            baseline_epsp_mv: baseline.amplitude_mv,
            after_epsp_mv: after.amplitude_mv,
            baseline_slope_mv_per_ms: baseline.slope_mv_per_ms,
            after_slope_mv_per_ms: after.slope_mv_per_ms,
            epsp_ratio: after.by(p.protocol.measure) / baseline.by(p.protocol.measure),
            flipped_up,
            flipped_down,
        })
    }
}

/// Patterns remembered per connection (a few dozen bytes each).
const AFTER_MEMO_PATTERNS: usize = 64;

/// A memo's lock; a panic elsewhere cannot leave a memo half-written, so
/// a poisoned lock is taken as it is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Peak c* over calibration bins `bins` from c* = `c0` at their start
/// (sampled at bin ends, and every ≤ 10 ms across quiet stretches as the
/// engine does), the bin where it falls, and c* at their end.
pub(super) fn peak_cstar(
    grid: &Grid,
    dec: &[(f64, f64)],
    values: &[f32],
    ex: f64,
    tau: f64,
    bins: std::ops::Range<usize>,
    c0: f64,
) -> (f64, usize, f64) {
    let mut c = c0;
    let (mut peak, mut at) = (0.0f64, bins.start);
    for b in bins {
        let before = peak;
        (c, peak) = calibration_bin(dec, values[b], grid.kind(b), ex, tau, c, peak);
        if peak > before {
            at = b;
        }
    }
    (peak, at, c)
}

/// `peak_cstar` over a peak's window, from c* = `c0` at its start, stopping
/// where c* can no longer rise. Each bin moves c* towards the fixed point
/// of its step, at most τ*·(the bin's largest calcium excess) (for a fine
/// bin V·h/(1 − e) = τ*·V/w), so c* at or above
/// τ*·`excess_after` of the bins left stays at or below its value there.
pub(super) fn window_peak(dec: &[(f64, f64)], ex: f64, tau: f64, window: &PeakWindow, c0: f64) -> f64 {
    debug_assert_eq!(window.steps.len(), window.bins.len());
    let mut c = c0;
    let mut peak = 0.0f64;
    for (k, step) in window.steps.iter().enumerate() {
        // c0 itself is not a sample.
        if k > 0 && c >= tau * step.excess_after {
            break;
        }
        (c, peak) = calibration_bin(dec, step.value, step.kind, ex, tau, c, peak);
    }
    peak
}

/// c* after a calibration bin of value v from c, and the peak so far with
/// the bin's samples.
#[inline(always)]
fn calibration_bin(dec: &[(f64, f64)], v: f32, kind: BinKind, ex: f64, tau: f64, c: f64, mut peak: f64) -> (f64, f64) {
    let c = match kind {
        BinKind::Quiet(w) => {
            let r = f64::from(v);
            if gap_bound(c, r, ex, tau) > peak {
                peak = peak.max(gap_peak(c, r, ex, tau, w));
            }
            gap_cstar(c, r, ex, tau, w)
        }
        BinKind::Fine(j) => {
            let (e, h) = dec[j as usize];
            c * e + f64::from(v) * h
        }
    };
    (c, peak.max(c))
}

/// The largest calcium excess (mM) in calibration bin b of value v: a
/// fine bin's mean, or a quiet stretch's resting excess plus its decaying
/// start.
fn calibration_excess(grid: &Grid, v: f32, ex: f64, b: usize) -> f64 {
    let v = f64::from(v).max(0.0);
    if grid.gap[b] {
        ex + v
    } else {
        v / grid.width_ms[b]
    }
}

/// `spikes` test spikes from `t0`, one per period, each synapse releasing
/// with the Use of its state; amplitudes by superposition of waveforms,
/// each peak x taken as x·(1 + β·x) (`summation_beta`).
#[allow(clippy::too_many_arguments)]
fn test_epsps(
    c: &ConnectionTraces,
    potentiated: &[bool],
    releases: &mut [Release],
    rng: &mut ChaCha8Rng,
    t0: f64,
    period: f64,
    spikes: usize,
    (lo, hi): (usize, usize),
    dt: f64,
    beta: f64,
    s: &mut Scratch,
) -> TestEpsps {
    let summed = |x: f64| x * (1.0 + beta * x);
    let n = c.synapses.len();
    s.mean_w.clear();
    s.mean_w.resize(n, 0.0);
    let mut amp_sum = 0.0;
    let mut peak_max: f64 = 0.0;
    for k in 0..spikes {
        let t = t0 + k as f64 * period;
        s.vsum.clear();
        s.vsum.resize(hi + 1 - lo, 0.0);
        for (i, syn) in c.synapses.iter().enumerate() {
            let use_ = if potentiated[i] { syn.use_p } else { syn.use_d };
            let released = releases[i].spike(t, use_, rng);
            if released == 0 {
                continue;
            }
            let w = f64::from(released) / f64::from(syn.nrrp);
            s.mean_w[i] += w / spikes as f64;
            let wave = if potentiated[i] {
                &syn.epsp_potentiated
            } else {
                &syn.epsp_depressed
            };
            for (acc, &x) in s.vsum.iter_mut().zip(&wave[lo..=hi]) {
                *acc += w * f64::from(x);
            }
        }
        let peak = summed(s.vsum.iter().copied().fold(0.0, f64::max));
        amp_sum += peak;
        peak_max = peak_max.max(peak);
    }
    // 30-75 % rise slope of the averaged trace, as the engine measures it.
    let len = c.synapses.first().map_or(0, |x| x.epsp_depressed.len());
    s.vsum.clear();
    s.vsum.resize(len, 0.0);
    for (i, syn) in c.synapses.iter().enumerate() {
        let wave = if potentiated[i] {
            &syn.epsp_potentiated
        } else {
            &syn.epsp_depressed
        };
        for (acc, &x) in s.vsum.iter_mut().zip(wave) {
            *acc += s.mean_w[i] * f64::from(x);
        }
    }
    // The averaged trace scaled as its peak: the rise keeps its shape.
    let mean_peak = s.vsum.iter().copied().fold(0.0, f64::max);
    let scale = if mean_peak > 0.0 {
        summed(mean_peak) / mean_peak
    } else {
        1.0
    };
    TestEpsps {
        amplitude_mv: amp_sum / spikes as f64,
        slope_mv_per_ms: crate::protocol::rise_slope(&s.vsum, dt) * scale,
        peak_mv: peak_max,
    }
}

/// β of peak = x·(1 + β·x) for a linear peak x, by least squares over the
/// recorded summation points (0 without points).
fn summation_beta(points: &[SummationPoint]) -> f64 {
    let (num, den) = points
        .iter()
        .filter(|p| p.linear_peak_mv > 0.0)
        .fold((0.0, 0.0), |(n, d), p| {
            let x = p.linear_peak_mv;
            (n + x * (p.peak_mv / x - 1.0), d + x * x)
        });
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

fn argmax(w: &[f32]) -> usize {
    w.iter()
        .enumerate()
        .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
        .0
}

/// Every synapse's calcium values and moments over the induction.
fn induction_calcium(c: &ConnectionTraces) -> Vec<(&[f32], &[f32])> {
    c.synapses
        .iter()
        .map(|s| (&s.induction[..], &s.induction_moment[..]))
        .collect()
}

/// Every synapse's windows of its Cpre and Cpost peaks for the piece of
/// `tables`, from the calibration grids.
fn peak_windows(c: &ConnectionTraces, [pre, post]: [&Grid; 2], tables: &gate::Tables) -> Vec<[PeakWindow; 2]> {
    c.synapses
        .iter()
        .map(|s| {
            let ex = s.rest_excess_mm;
            [(pre, &s.calib_pre), (post, &s.calib_post)].map(|(grid, values)| {
                PeakWindow::new(
                    values.len(),
                    tables,
                    |tau, dec, bins| peak_cstar(grid, dec, values, ex, tau, bins, 0.0),
                    |b| (values[b], grid.kind(b)),
                    |b| calibration_excess(grid, values[b], ex, b),
                )
            })
        })
        .collect()
}

fn prepare(
    pi: usize,
    ci: usize,
    p: &ProtocolTraces,
    dt: f64,
    grids: [Grid; 3],
    tables: &gate::Tables,
    responses: &[BinResponse],
) -> Prepared {
    let c = &p.connections[ci];
    let (mut lo, mut hi) = (usize::MAX, 0);
    for s in &c.synapses {
        for w in [&s.epsp_depressed, &s.epsp_potentiated] {
            let a = argmax(w);
            lo = lo.min(a);
            hi = hi.max(a);
        }
    }
    let lo = lo.min(hi);
    let mut rng = ChaCha8Rng::seed_from_u64(protocol_seed(c.connection.release_seed, &p.protocol.protocol_id));
    let mut releases: Vec<Release> = c
        .synapses
        .iter()
        .map(|s| Release::new(s.nrrp, s.dep_ms, s.fac_ms))
        .collect();
    let start: Vec<bool> = c.synapses.iter().map(|s| s.rho0 == 1).collect();
    let beta = summation_beta(&c.summation);
    let period = p.protocol.burst_period_s * 1000.0;
    let mut scratch = Scratch::default();
    let baseline = test_epsps(
        c,
        &start,
        &mut releases,
        &mut rng,
        c.c01_start_ms,
        period,
        p.test_spikes,
        (lo, hi),
        dt,
        beta,
        &mut scratch,
    );
    let draws = InductionDraws::new(c, &p.protocol, rng, releases.clone());
    // After the settling the engine starts rested sites and a stream of
    // their own; the induction's draws do not reach the after phase.
    let releases = releases.iter().map(Release::rested).collect();
    let rng = ChaCha8Rng::seed_from_u64(after_seed(c.connection.release_seed, &p.protocol.protocol_id));
    let baseline = if c.soma_rest_mv + baseline.peak_mv >= crate::sim::SPIKE_THRESHOLD_MV {
        Err("baseline: postsynaptic spike during test EPSPs (superposed)".to_string())
    } else {
        Ok(baseline)
    };
    let [calib_pre, calib_post, induction] = grids;
    let spike_bins: Vec<usize> = draws.spikes.iter().map(|x| x.bin).collect();
    let segments = Segments::new(&induction, &spike_bins, &induction_calcium(c), tables);
    let drives: Vec<&[f32]> = c.synapses.iter().map(|s| &s.nmda_drive[..]).collect();
    let basis = DeltaBasis::new(&induction.index, &induction.gap, &segments.starts, responses, &drives);
    let peak_windows = vec![peak_windows(c, [&calib_pre, &calib_post], tables)];
    Prepared {
        protocol: pi,
        connection: ci,
        calib_pre,
        calib_post,
        induction,
        segments,
        basis,
        peak_windows,
        draws,
        releases,
        rng,
        baseline,
        beta,
        after: Mutex::new(Vec::new()),
        lo,
        hi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::cache::Timeline;

    /// A calibration transient with a second rise and a quiet stretch.
    fn transient() -> (Grid, Widths, Vec<f32>, f64) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let excess = |t: f64| {
            let bump = |t0: f64, a: f64| {
                if t > t0 {
                    a * ((-(t - t0) / 60.0).exp() - (-(t - t0) / 2.0).exp())
                } else {
                    0.0
                }
            };
            bump(5.0, 2e-3) + bump(90.0, 1.5e-3)
        };
        let (mut widths_ms, mut gap, mut values, mut t) = (vec![], vec![], vec![], 0.0);
        for b in 0..500 {
            let quiet = b == 420;
            let w: f64 = if quiet { 400.0 } else { rng.gen_range(0.025..1.0) };
            values.push(if quiet { excess(t) } else { excess(t + 0.5 * w) * w } as f32);
            widths_ms.push(w);
            gap.push(quiet);
            t += w;
        }
        let mut widths = Widths::default();
        let grid = Grid::new(&Timeline { widths_ms, gap }, &mut widths);
        (grid, widths, values, 4e-5)
    }

    #[test]
    fn a_window_peak_stops_only_where_c_star_can_no_longer_rise() {
        let (grid, widths, values, ex) = transient();
        let tables = gate::Tables::new(&widths, Piece::BOX);
        let window = PeakWindow::new(
            values.len(),
            &tables,
            |tau, dec, bins| peak_cstar(&grid, dec, &values, ex, tau, bins, 0.0),
            |b| (values[b], grid.kind(b)),
            |b| calibration_excess(&grid, values[b], ex, b),
        );
        let bins = window.bins.clone();
        assert!(bins.len() > 20, "window {bins:?}");
        let mut stopped_early = 0;
        for k in 0..=100 {
            let tau = 150.0 + 2.0 * k as f64;
            let dec = widths.decays(tau);
            let c0 = peak_cstar(&grid, &dec, &values, ex, tau, 0..bins.start, 0.0).2;
            let full = peak_cstar(&grid, &dec, &values, ex, tau, bins.clone(), c0).0;
            let got = window_peak(&dec, ex, tau, &window, c0);
            assert!((got - full).abs() <= 1e-12 * full, "τ* {tau}: {got} vs {full}");
            let settles = |b: usize| {
                let c = peak_cstar(&grid, &dec, &values, ex, tau, bins.start..b, c0).2;
                c >= tau * window.steps[b - bins.start].excess_after
            };
            stopped_early += usize::from((bins.start + 1..bins.end).any(settles));
        }
        assert!(
            stopped_early > 50,
            "the early stop is exercised ({stopped_early} of 101)"
        );
    }

    #[test]
    fn rise_slope_of_a_ramp() {
        let ramp: Vec<f64> = (0..=100).map(|i| i as f64 * 0.01).collect();
        // 30 % at i = 30, 75 % at i = 75 on a 1 mV peak: 0.45 mV over 45 samples of 0.1 ms.
        assert!((crate::protocol::rise_slope(&ramp, 0.1) - 0.1).abs() < 1e-9);
    }
}
