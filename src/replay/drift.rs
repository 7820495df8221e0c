//! Release drift during the induction. The traces are recorded with Use
//! frozen, but in the engine Use relaxes towards its ρ-dependent target
//! while ρ moves, so some induction spikes release a vesicle more or less
//! than recorded. Replay redraws every induction release with its own Use
//! on the recorded random stream (the draws are shared, see
//! `synapse::release`) and adds the NMDA calcium of each difference:
//! the open-fraction change, a dual exponential, times the recorded influx
//! per unit open fraction of the bin, filtered by the spine's τ_Ca.
//!
//! What this leaves out: the voltage a different release would make (its
//! AMPA and NMDA current), which changes the Mg block and the VDCC; the NMDA
//! influx across quiet stretches (there the cell is at rest, where the
//! block passes ~1.5 % of the peak); and Ĝ_AMPA's drift, which moves only
//! the EPSPs during the induction.

use super::cache::{ConnectionTraces, SynapseTraces, Timeline};
use super::prefetch::Prefetch;
use crate::protocol::{induction_spike_times, InVitroProtocol};
use crate::synapse::{
    utilisation_range, DualExp, Release, SinceLast, CAI_TAU_MS, NMDA_TAU_DECAY_MS, NMDA_TAU_RISE_MS, TAU_EXP_MS,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Exact per-bin response of calcium to the NMDA open-fraction change, for
/// one bin width w: exp(−w/τ) of the rise, decay and τ_Ca, the calcium at
/// the bin's end (k) and its integral over the bin (j) per unit of each
/// exponential term, and the integral of a calcium excess decaying with τ_Ca.
#[derive(Debug, Clone, Copy)]
pub(super) struct BinResponse {
    rise: f64,
    decay: f64,
    ca: f64,
    k_rise: f64,
    k_decay: f64,
    j_rise: f64,
    j_decay: f64,
    j_ca: f64,
}

impl BinResponse {
    pub(super) fn new(w: f64) -> BinResponse {
        let e = |tau: f64| (-w / tau).exp();
        let ec = e(CAI_TAU_MS);
        // x' = −x/τ_Ca + exp(−t/τ), x(0) = 0: its value at w and integral to w.
        let k = |tau: f64| (e(tau) - ec) / (1.0 / CAI_TAU_MS - 1.0 / tau);
        let j = |tau: f64| (tau * (1.0 - e(tau)) - CAI_TAU_MS * (1.0 - ec)) / (1.0 / CAI_TAU_MS - 1.0 / tau);
        BinResponse {
            rise: e(NMDA_TAU_RISE_MS),
            decay: e(NMDA_TAU_DECAY_MS),
            ca: ec,
            k_rise: k(NMDA_TAU_RISE_MS),
            k_decay: k(NMDA_TAU_DECAY_MS),
            j_rise: j(NMDA_TAU_RISE_MS),
            j_decay: j(NMDA_TAU_DECAY_MS),
            j_ca: CAI_TAU_MS * (1.0 - ec),
        }
    }
}

/// The difference replay's releases make to one synapse: NMDA receptor
/// states A and B of the extra (or missing) release weight, and the spine
/// calcium excess they have added (mM).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct ReleaseDelta {
    pub(super) a: f64,
    pub(super) b: f64,
    pub(super) cai_mm: f64,
    /// Whether anything is left (false: every field is 0).
    active: bool,
}

impl ReleaseDelta {
    #[inline]
    pub(super) fn is_zero(&self) -> bool {
        !self.active
    }

    /// Drops a difference that can no longer add 1e-9 mM·ms to c*, so
    /// bins after it cost nothing: open-fraction terms below 1e-7 (their
    /// influx at the largest drive, ~1e-2 mM/ms, stays below 1e-9 mM over
    /// τ_NMDA) and calcium below 1e-11 mM.
    fn drop_if_negligible(&mut self) {
        if self.a.abs() < 1e-7 && self.b.abs() < 1e-7 && self.cai_mm.abs() < 1e-11 {
            *self = ReleaseDelta::default();
        }
    }

    /// What the difference adds to a bin's calcium integral, given the
    /// bin's entries of `DeltaBasis` (its state being the segment's start).
    #[inline(always)]
    pub(super) fn added(&self, (per_a, per_b): (f32, f32), per_ca: f32) -> f64 {
        self.a * f64::from(per_a) + self.b * f64::from(per_b) + self.cai_mm * f64::from(per_ca)
    }

    /// A release weight `dw` (released/Nrrp) more than recorded.
    pub(super) fn release(&mut self, dw: f64) {
        let f = nmda_peak_factor();
        self.a += dw * f;
        self.b += dw * f;
        self.active = true;
    }

    /// Advances over a fine bin with mean NMDA influx `drive` (mM/ms per
    /// unit open fraction); returns the added ∫(cai − cai₀) over it (mM·ms).
    fn fine_bin(&mut self, r: &BinResponse, drive: f64) -> f64 {
        let added = self.cai_mm * r.j_ca + drive * (self.b * r.j_decay - self.a * r.j_rise);
        self.cai_mm = self.cai_mm * r.ca + drive * (self.b * r.k_decay - self.a * r.k_rise);
        self.a *= r.rise;
        self.b *= r.decay;
        added
    }

    /// Advances over a quiet stretch (its calcium excess is taken by the
    /// caller into the stretch's closed form).
    pub(super) fn quiet_bin(&mut self, r: &BinResponse) {
        self.cai_mm *= r.ca;
        self.a *= r.rise;
        self.b *= r.decay;
        self.drop_if_negligible();
    }
}

/// A release difference over a segment of fine bins is linear in its state
/// at the segment's start: per bin, the calcium integral added by a unit of
/// A, of B (per synapse: they depend on its NMDA drive) and of calcium
/// excess (per bin: it depends on the widths alone), and at the segment's
/// end the A, B and calcium that units of them leave. Replay then adds a
/// difference bin by bin with three products and advances its state once
/// per segment.
#[derive(Debug, Clone, Default)]
pub(super) struct DeltaBasis {
    /// Per synapse, per bin: added integral per unit A and B (empty for a
    /// synapse without a recorded drive).
    pub(super) release: Vec<Vec<(f32, f32)>>,
    /// Per bin: added integral per unit calcium excess.
    pub(super) calcium: Vec<f32>,
    /// Per segment: what a unit of A, B and calcium excess leaves of
    /// itself at its end.
    own: Vec<[f64; 3]>,
    /// Per segment, per synapse: the calcium excess a unit of A and of B
    /// leave at its end.
    fed: Vec<(f64, f64)>,
    synapses: usize,
}

impl DeltaBasis {
    /// Over the fine bins of `segments` (first bin of each, then the
    /// length) of a timeline with widths `index` into `responses`, for
    /// synapses with NMDA drives `drives` (`SynapseTraces::nmda_drive`); a
    /// gap segment (one bin) is crossed by `ReleaseDelta::quiet_bin` instead.
    pub(super) fn new(
        index: &[u32],
        gap: &[bool],
        segments: &[usize],
        responses: &[BinResponse],
        drives: &[&[f32]],
    ) -> DeltaBasis {
        let len = index.len();
        let n = drives.len();
        let mut basis = DeltaBasis {
            release: drives
                .iter()
                .map(|d| {
                    if d.is_empty() {
                        Vec::new()
                    } else {
                        vec![(0.0, 0.0); len]
                    }
                })
                .collect(),
            calcium: vec![0.0; len],
            own: Vec::with_capacity(segments.len()),
            fed: Vec::with_capacity(segments.len() * n),
            synapses: n,
        };
        for w in segments.windows(2) {
            let bins = w[0]..w[1];
            let unit = |a: f64, b: f64, cai_mm: f64| ReleaseDelta {
                a,
                b,
                cai_mm,
                active: true,
            };
            let mut ca = unit(0.0, 0.0, 1.0);
            for k in bins.clone().filter(|&k| !gap[k]) {
                basis.calcium[k] = ca.fine_bin(&responses[index[k] as usize], 0.0) as f32;
            }
            let (mut rise, mut decay) = (1.0, 1.0);
            for k in bins.clone() {
                let r = &responses[index[k] as usize];
                (rise, decay) = (rise * r.rise, decay * r.decay);
            }
            basis.own.push([rise, decay, ca.cai_mm]);
            for (drive, release) in drives.iter().zip(&mut basis.release) {
                if release.is_empty() || gap[w[0]] {
                    basis.fed.push((0.0, 0.0));
                    continue;
                }
                let (mut a, mut b) = (unit(1.0, 0.0, 0.0), unit(0.0, 1.0, 0.0));
                for k in bins.clone() {
                    let (r, d) = (&responses[index[k] as usize], f64::from(drive[k]));
                    release[k] = (a.fine_bin(r, d) as f32, b.fine_bin(r, d) as f32);
                }
                basis.fed.push((a.cai_mm, b.cai_mm));
            }
        }
        basis
    }

    /// Adds to `p` the per-segment tables every walk with a difference
    /// pending reads.
    pub(super) fn prefetch(&self, p: &mut Prefetch) {
        p.add(&self.own);
        p.add(&self.fed);
    }

    /// Synapse i's difference at the end of segment k, from `start` at its
    /// start (a fine segment).
    pub(super) fn advance(&self, k: usize, i: usize, start: &ReleaseDelta) -> ReleaseDelta {
        let [rise, decay, ca] = self.own[k];
        let (fa, fb) = self.fed[k * self.synapses + i];
        let mut end = ReleaseDelta {
            a: start.a * rise,
            b: start.b * decay,
            cai_mm: start.cai_mm * ca + start.a * fa + start.b * fb,
            active: true,
        };
        end.drop_if_negligible();
        end
    }
}

/// The A and B increment of a full release (weight 1).
fn nmda_peak_factor() -> f64 {
    let mut unit = DualExp::new(NMDA_TAU_RISE_MS, NMDA_TAU_DECAY_MS);
    unit.activate(1.0);
    unit.b
}

/// One induction spike: the bin it falls in and its time.
#[derive(Debug, Clone, Copy)]
pub(super) struct InductionSpike {
    pub(super) bin: usize,
    pub(super) t_ms: f64,
}

impl InductionDraws {
    /// Adds every table to `p`.
    pub(super) fn prefetch(&self, p: &mut Prefetch) {
        p.add(&self.spikes);
        p.add(&self.use_decays);
        p.add(&self.uniforms);
        p.add(&self.since);
        p.add(&self.recorded);
        p.add(&self.states);
        p.add(&self.recovered_before);
        p.add(&self.repeats);
        p.add(&self.start);
    }
}

/// Candidate-independent draws of one connection's induction.
#[derive(Debug, Clone)]
pub(super) struct InductionDraws {
    pub(super) spikes: Vec<InductionSpike>,
    /// Per spike: exp(−Δt/τ_exp) over the interval before it, by which
    /// every synapse's Use relaxes.
    use_decays: Vec<f64>,
    /// Per (spike, synapse), spike-major: the two uniforms, what the
    /// interval before the spike does to the release state (the same for
    /// every candidate: replay keeps the recording's spike times) and the
    /// recorded release weight (with Use frozen).
    uniforms: Vec<(f64, f64)>,
    since: Vec<SinceLast>,
    recorded: Vec<f64>,
    /// Per (spike, synapse): the release state after the recorded draw.
    states: Vec<Release>,
    /// Per (spike, synapse): the recovered sites before the recorded draw,
    /// and the utilisations that release as it did from the sites then
    /// available: a redraw from the same sites within them repeats it.
    recovered_before: Vec<u32>,
    repeats: Vec<(f64, f64)>,
    /// Release states at the start of the induction.
    pub(super) start: Vec<Release>,
    synapses: usize,
}

impl InductionDraws {
    /// From the stream and release states as the baseline leaves them.
    pub(super) fn new(
        c: &ConnectionTraces,
        protocol: &InVitroProtocol,
        mut rng: ChaCha8Rng,
        start: Vec<Release>,
    ) -> InductionDraws {
        let times = induction_spike_times(protocol, c.induction_start_ms);
        let spikes = bins_of(&c.induction, c.induction_start_ms, &times);
        let n = c.synapses.len();
        let mut frozen = start.clone();
        let mut uniforms = Vec::with_capacity(times.len() * n);
        let mut since_last = Vec::with_capacity(times.len() * n);
        let mut recorded = Vec::with_capacity(times.len() * n);
        let mut states = Vec::with_capacity(times.len() * n);
        let mut recovered_before = Vec::with_capacity(times.len() * n);
        let mut repeats = Vec::with_capacity(times.len() * n);
        let mut last = c.induction_start_ms;
        let mut use_decays = Vec::with_capacity(times.len());
        for &t in &times {
            use_decays.push((-(t - std::mem::replace(&mut last, t)) / TAU_EXP_MS).exp());
            for (rel, syn) in frozen.iter_mut().zip(&c.synapses) {
                let u = (rng.gen::<f64>(), rng.gen::<f64>());
                let since = rel.since_last(t);
                recovered_before.push(rel.recovered());
                let utilisation = rel.facilitated(syn.use0, since);
                let released = rel.spike_after(t, syn.use0, since, u.0, u.1);
                let available = rel.recovered() + released;
                repeats.push(utilisation_range(available, released, u.1, utilisation));
                uniforms.push(u);
                since_last.push(since);
                recorded.push(f64::from(released) / f64::from(syn.nrrp));
                states.push(*rel);
            }
        }
        InductionDraws {
            spikes,
            use_decays,
            uniforms,
            since: since_last,
            recorded,
            states,
            recovered_before,
            repeats,
            start,
            synapses: n,
        }
    }

    /// Redraws spike k of synapse i with `use_` on `release`; returns the
    /// weight released beyond the recorded one.
    fn extra_weight(&self, k: usize, i: usize, release: &mut Release, use_: f64, nrrp: u32) -> f64 {
        let at = k * self.synapses + i;
        if release.recovered() == self.recovered_before[at] {
            // The recovery draw repeats; so does the release if u allows.
            let u = release.facilitated(use_, self.since[at]);
            let (low, high) = self.repeats[at];
            if low <= u && u <= high {
                *release = self.states[at].with_utilisation(u);
                return 0.0;
            }
        }
        let (u1, u2) = self.uniforms[at];
        let released = release.spike_after(self.spikes[k].t_ms, use_, self.since[at], u1, u2);
        f64::from(released) / f64::from(nrrp) - self.recorded[at]
    }

    /// Synapse i's release state after the recorded draw of spike k: what
    /// replay's own draw leaves while its Use is still the recording's.
    pub(super) fn recorded_state(&self, k: usize, i: usize) -> Release {
        self.states[k * self.synapses + i]
    }
}

/// Whether a synapse's releases at later spikes repeat the recording's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Releases {
    /// They may differ.
    Differ,
    /// They do while ρ is this.
    RepeatAt(f64),
    /// Replay does not redraw them.
    Irrelevant,
}

/// One synapse's Use over the induction, relaxing towards the target of
/// its ρ, and its release state under replay's own draws.
#[derive(Debug, Clone, Copy)]
pub(super) struct UseTrack {
    release: Release,
    use_: f64,
    /// ρ at the last spike.
    rho: f64,
    /// While ρ stays at ρ0 and Use0 is its target, Use stays Use0 and
    /// every draw is the recorded one.
    synced: bool,
}

impl UseTrack {
    pub(super) fn new(syn: &SynapseTraces, release: Release) -> UseTrack {
        let rho0 = f64::from(syn.rho0);
        UseTrack {
            release,
            use_: syn.use0,
            rho: rho0,
            synced: syn.use_d + rho0 * (syn.use_p - syn.use_d) == syn.use0,
        }
    }

    /// Whether later draws repeat the recorded ones: they do while ρ
    /// stays at ρ0 if every draw so far did.
    pub(super) fn releases(&self) -> Releases {
        if self.synced {
            Releases::RepeatAt(self.rho)
        } else {
            Releases::Differ
        }
    }

    /// Synapse i's draw at spike k with ρ = `rho` now: the release weight
    /// beyond the recorded one.
    pub(super) fn spike(&mut self, draws: &InductionDraws, k: usize, i: usize, rho: f64, syn: &SynapseTraces) -> f64 {
        self.synced = self.synced && rho == f64::from(syn.rho0);
        let rho_before = std::mem::replace(&mut self.rho, rho);
        if self.synced {
            self.release = draws.recorded_state(k, i);
            return 0.0;
        }
        let decay = draws.use_decays[k];
        self.use_ = relaxed_use(self.use_, 0.5 * (rho_before + rho), syn.use_d, syn.use_p, decay);
        draws.extra_weight(k, i, &mut self.release, self.use_, syn.nrrp)
    }
}

/// The bin of a timeline starting at `t0` that holds each time (times
/// ascending; a time on a bin edge belongs to the bin it starts).
pub(super) fn bins_of(timeline: &Timeline, t0: f64, times: &[f64]) -> Vec<InductionSpike> {
    let mut out = Vec::with_capacity(times.len());
    let (mut bin, mut start) = (0, t0);
    for &t in times {
        while bin + 1 < timeline.len() && start + timeline.widths_ms[bin] <= t + 1e-9 {
            start += timeline.widths_ms[bin];
            bin += 1;
        }
        out.push(InductionSpike { bin, t_ms: t });
    }
    out
}

/// Use relaxing over an interval, by `decay` = exp(−Δt/τ_exp), towards the
/// target of the mean of ρ at the interval's ends (τ_exp = 100 s, so ρ's
/// path within it hardly matters).
fn relaxed_use(use_: f64, rho_mean: f64, use_d: f64, use_p: f64, decay: f64) -> f64 {
    let target = use_d + rho_mean * (use_p - use_d);
    target + (use_ - target) * decay
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_response_matches_fine_integration() {
        // x' = −x/τ_Ca + d·(B e^{−t/τd} − A e^{−t/τr}) from x0, over 3 ms.
        let (w, d, x0) = (3.0, 2e-3, 1e-4);
        let mut delta = ReleaseDelta {
            a: 0.7,
            b: 0.9,
            cai_mm: x0,
            active: true,
        };
        let added = delta.fine_bin(&BinResponse::new(w), d);
        let (mut x, mut integral, h) = (x0, 0.0, 1e-5);
        let mut t = 0.0;
        while t < w - 1e-12 {
            let mid = t + 0.5 * h;
            let f = d * (0.9 * (-mid / NMDA_TAU_DECAY_MS).exp() - 0.7 * (-mid / NMDA_TAU_RISE_MS).exp());
            let x1 = x + h * (-(x + 0.5 * h * (-x / CAI_TAU_MS + f)) / CAI_TAU_MS + f);
            integral += 0.5 * (x + x1) * h;
            x = x1;
            t += h;
        }
        assert!(
            (delta.cai_mm - x).abs() < 1e-9 * x.abs().max(1e-6),
            "{} vs {x}",
            delta.cai_mm
        );
        assert!(
            (added - integral).abs() < 1e-8 * integral.abs(),
            "{added} vs {integral}"
        );
        assert!((delta.a - 0.7 * (-w / NMDA_TAU_RISE_MS).exp()).abs() < 1e-15);
    }

    #[test]
    fn a_difference_is_linear_in_its_state_at_each_segment_start() {
        // Bins of mixed widths with a gap, two synapses (one without a
        // drive), three segments; a difference stepped bin by bin must
        // equal the basis's products and its state at every segment end.
        let widths = [0.25, 0.25, 1.5, 6.0, 0.25, 30.0, 400.0, 0.5, 2.0, 8.0];
        let gap = [false, false, false, false, false, false, true, false, false, false];
        let drive: Vec<f32> = vec![3e-3, 8e-3, 5e-3, 1e-3, 2e-3, 4e-4, 0.0, 6e-3, 2e-3, 7e-4];
        let responses: Vec<BinResponse> = widths.iter().map(|&w| BinResponse::new(w)).collect();
        let index: Vec<u32> = (0..widths.len() as u32).collect();
        let segments = [0, 4, 6, 7, 10];
        let basis = DeltaBasis::new(&index, &gap, &segments, &responses, &[&drive, &[]]);
        assert!(basis.release[1].is_empty());
        let mut stepped = ReleaseDelta::default();
        stepped.release(0.5);
        let mut linear = stepped;
        for (k, w) in segments.windows(2).enumerate() {
            for b in w[0]..w[1] {
                if gap[b] {
                    stepped.quiet_bin(&responses[b]);
                    linear.quiet_bin(&responses[b]);
                    continue;
                }
                let at_start = linear;
                let added = stepped.fine_bin(&responses[b], f64::from(drive[b]));
                let via = at_start.added(basis.release[0][b], basis.calcium[b]);
                assert!((added - via).abs() <= 1e-6 * added.abs(), "bin {b}: {added} vs {via}");
            }
            if !gap[w[0]] {
                linear = basis.advance(k, 0, &linear);
                for (x, y) in [
                    (stepped.a, linear.a),
                    (stepped.b, linear.b),
                    (stepped.cai_mm, linear.cai_mm),
                ] {
                    assert!((x - y).abs() <= 1e-12 * x.abs().max(1e-12), "segment {k}: {x} vs {y}");
                }
            }
            stepped.release(-0.25);
            linear.release(-0.25);
        }
        assert!(stepped.cai_mm != 0.0 && stepped.b != 0.0);
    }

    #[test]
    fn spikes_fall_in_the_bins_that_hold_them() {
        let timeline = Timeline {
            widths_ms: vec![0.25, 0.25, 8.0, 0.25],
            gap: vec![false; 4],
        };
        let found = bins_of(&timeline, 100.0, &[100.0, 100.3, 100.5, 108.5, 200.0]);
        let bins: Vec<usize> = found.iter().map(|s| s.bin).collect();
        assert_eq!(bins, [0, 1, 2, 3, 3]);
    }

    #[test]
    fn use_relaxes_towards_the_target_of_rho() {
        let decay = |dt: f64| (-dt / TAU_EXP_MS).exp();
        assert_eq!(relaxed_use(0.3, 0.0, 0.3, 0.8, decay(1000.0)), 0.3);
        let up = relaxed_use(0.3, 1.0, 0.3, 0.8, decay(10_000.0));
        assert!((up - (0.8 - 0.5 * (-0.1f64).exp())).abs() < 1e-12, "{up}");
    }
}
