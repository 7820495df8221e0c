//! Binning of spine calcium for replay: the calcium of every synapse is
//! stored as integrals of cai − cai₀ over bins shared by the synapses of a
//! connection, from which c* follows for any τ* (SPEC §8).

use super::cache::{ConnectionTraces, Timeline, TraceSettings};
use crate::protocol::{induction_spike_times, InVitroProtocol};
use crate::synapse::CAI_REST_MM;

/// Merges neighbouring fine bins whose mean calcium stays within the
/// tolerance of the run's first bin, up to the widest bin; gaps stay.
/// `carried` integrals are summed over the merged bins without deciding.
pub(super) fn merge_bins(
    widths_in: &[f64],
    gap_in: &[bool],
    values_in: &[Vec<f64>],
    carried_in: &[Vec<f64>],
    settings: &TraceSettings,
) -> (Timeline, Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (tol, max_w) = (settings.merge_tolerance_mm, settings.max_bin_ms);
    let mut widths = Vec::new();
    let mut gap = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); values_in.len()];
    let mut carried: Vec<Vec<f64>> = vec![Vec::new(); carried_in.len()];
    let mut i = 0;
    while i < widths_in.len() {
        let mut w = widths_in[i];
        let mut sums: Vec<f64> = values_in.iter().map(|v| v[i]).collect();
        let mut j = i + 1;
        if !gap_in[i] {
            let rates: Vec<f64> = sums.iter().map(|s| s / w).collect();
            while j < widths_in.len()
                && !gap_in[j]
                && w + widths_in[j] <= max_w + 1e-12
                && values_in
                    .iter()
                    .zip(&rates)
                    .all(|(v, r)| (v[j] / widths_in[j] - r).abs() <= tol)
            {
                w += widths_in[j];
                for (s, v) in sums.iter_mut().zip(values_in) {
                    *s += v[j];
                }
                j += 1;
            }
        }
        widths.push(w);
        gap.push(gap_in[i]);
        for (out, s) in values.iter_mut().zip(sums) {
            out.push(s);
        }
        for (out, c) in carried.iter_mut().zip(carried_in) {
            out.push(c[i..j].iter().sum());
        }
        i = j;
    }
    (Timeline { widths_ms: widths, gap }, values, carried)
}

/// Bins calcium recorded elsewhere on a uniform grid (e.g. NEURON's
/// GluSynapse `cai_CR` every `dt_ms`): `cai_mm[i][k]` is synapse i's cai at
/// k·dt. Each interval contributes its trapezoid integral of cai − cai₀ (the
/// engine's own c* drive), split at bin edges, then bins are merged as for
/// recorded traces. Returns the timeline and per-synapse values for a
/// `ConnectionTraces`.
pub fn bin_samples(dt_ms: f64, cai_mm: &[Vec<f64>], settings: &TraceSettings) -> (Timeline, Vec<Vec<f32>>) {
    let n = cai_mm.len();
    let len = cai_mm.first().map_or(0, Vec::len);
    let per_bin = (settings.bin_ms / dt_ms).round().max(1.0) as usize;
    let mut widths = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut k = 0;
    while k + 1 < len {
        let end = (k + per_bin).min(len - 1);
        widths.push((end - k) as f64 * dt_ms);
        for (v, c) in values.iter_mut().zip(cai_mm) {
            v.push((k..end).map(|j| (0.5 * (c[j] + c[j + 1]) - CAI_REST_MM) * dt_ms).sum());
        }
        k = end;
    }
    let gap = vec![false; widths.len()];
    let (t, v, _) = merge_bins(&widths, &gap, &values, &[], settings);
    (t, v.iter().map(|x| x.iter().map(|&y| y as f32).collect()).collect())
}

/// Induction bins as replay reads them, per synapse: the calcium integral
/// (mM·ms), its first moment about the bin's midpoint (mM·ms²) and a
/// carried integral (the NMDA drive, summed).
pub(super) struct Coarse {
    pub(super) timeline: Timeline,
    pub(super) values: Vec<Vec<f64>>,
    pub(super) moments: Vec<Vec<f64>>,
    pub(super) carried: Vec<Vec<f64>>,
}

/// Merges fine induction bins into wider ones for replay. Over a bin of
/// width w, c* gains ∫(cai − cai₀)·exp(−(w − s)/τ*) ds, which the integral V
/// and first moment M give as h·(V + M/τ*), h = `gain_factor`, to within
/// V·w²/8τ*² (2e-3 of V at w = 32 ms, τ* = 250 ms). Within a bin replay
/// takes calcium as linear (from V and M) to find where c* crosses a
/// threshold, so a run of fine bins is merged only while, for every
/// synapse, the running integral departs from a straight ramp by
/// at most `induction_ramp_tolerance` of that synapse's `scale` (its
/// calcium integral over a single presynaptic spike's transient), and while
/// the bin stays within `induction_max_bin_ms`. Gaps stay as they are and
/// a bin flagged in `starts` (a presynaptic spike falls in it) always
/// starts a new bin, so replay's release differences start where the
/// recording's did.
pub(super) fn coarsen(
    fine: &Timeline,
    values: &[Vec<f64>],
    carried: &[Vec<f64>],
    starts: &[bool],
    scale: &[f64],
    settings: &TraceSettings,
) -> Coarse {
    let n = values.len();
    let mut out = Coarse {
        timeline: Timeline {
            widths_ms: Vec::new(),
            gap: Vec::new(),
        },
        values: vec![Vec::new(); n],
        moments: vec![Vec::new(); n],
        carried: vec![Vec::new(); carried.len()],
    };
    let limit: Vec<f64> = scale.iter().map(|s| s * settings.induction_ramp_tolerance).collect();
    let mut i = 0;
    while i < fine.len() {
        let mut j = i + 1;
        if !fine.gap[i] {
            let mut w = fine.widths_ms[i];
            while j < fine.len()
                && !fine.gap[j]
                && !starts[j]
                && w + fine.widths_ms[j] <= settings.induction_max_bin_ms + 1e-12
                && ramp_within(&fine.widths_ms[i..=j], values, i, &limit)
            {
                w += fine.widths_ms[j];
                j += 1;
            }
        }
        push_merged(&mut out, fine, values, carried, i..j);
        i = j;
    }
    out
}

/// Whether every synapse's running integral over fine bins `widths`
/// (starting at bin `first`) stays within its limit of a straight ramp.
fn ramp_within(widths: &[f64], values: &[Vec<f64>], first: usize, limit: &[f64]) -> bool {
    let total: f64 = widths.iter().sum();
    values.iter().zip(limit).all(|(v, &lim)| {
        let run = &v[first..first + widths.len()];
        let sum: f64 = run.iter().sum();
        let (mut t, mut cum) = (0.0, 0.0);
        widths[..widths.len() - 1].iter().zip(run).all(|(w, x)| {
            t += w;
            cum += x;
            (cum - sum * t / total).abs() <= lim
        })
    })
}

/// Appends fine bins `range` as one bin (a gap is always alone).
fn push_merged(
    out: &mut Coarse,
    fine: &Timeline,
    values: &[Vec<f64>],
    carried: &[Vec<f64>],
    range: std::ops::Range<usize>,
) {
    let widths = &fine.widths_ms[range.clone()];
    let total: f64 = widths.iter().sum();
    out.timeline.widths_ms.push(total);
    out.timeline.gap.push(fine.gap[range.start]);
    for ((v, m), fine_v) in out.values.iter_mut().zip(&mut out.moments).zip(values) {
        let run = &fine_v[range.clone()];
        let mut start = 0.0;
        let mut moment = 0.0;
        for (w, x) in widths.iter().zip(run) {
            moment += x * (start + 0.5 * w - 0.5 * total);
            start += w;
        }
        v.push(run.iter().sum());
        m.push(moment);
    }
    for (c, fine_c) in out.carried.iter_mut().zip(carried) {
        c.push(fine_c[range.clone()].iter().sum());
    }
}

/// Merges a connection's induction bins for replay (see `coarsen`), in
/// place. Its moments are taken as zero before merging: the bins must be
/// fine (as recorded, or as `bin_samples` makes them).
pub fn coarsen_induction(c: &mut ConnectionTraces, protocol: &InVitroProtocol, settings: &TraceSettings) {
    if c.excluded.is_some() {
        return;
    }
    let times = induction_spike_times(protocol, c.induction_start_ms);
    let mut starts = vec![false; c.induction.len()];
    for s in super::drift::bins_of(&c.induction, c.induction_start_ms, &times) {
        starts[s.bin] = true;
    }
    let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let values: Vec<Vec<f64>> = c.synapses.iter().map(|s| f64s(&s.induction)).collect();
    // A synapse without a recorded drive carries zeros and keeps none.
    let drive: Vec<Vec<f64>> = c
        .synapses
        .iter()
        .map(|s| {
            if s.nmda_drive.is_empty() {
                vec![0.0; c.induction.len()]
            } else {
                s.nmda_drive
                    .iter()
                    .zip(&c.induction.widths_ms)
                    .map(|(&d, w)| f64::from(d) * w)
                    .collect()
            }
        })
        .collect();
    let scale: Vec<f64> = c
        .synapses
        .iter()
        .map(|s| transient_integral(&c.calib_pre, &s.calib_pre))
        .collect();
    let merged = coarsen(&c.induction, &values, &drive, &starts, &scale, settings);
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    for (k, s) in c.synapses.iter_mut().enumerate() {
        s.induction = f32s(&merged.values[k]);
        s.induction_moment = f32s(&merged.moments[k]);
        if !s.nmda_drive.is_empty() {
            s.nmda_drive = merged.carried[k]
                .iter()
                .zip(&merged.timeline.widths_ms)
                .map(|(x, w)| (x / w) as f32)
                .collect();
        }
    }
    c.induction = merged.timeline;
}

/// ∫(cai − cai₀) over the binned part of a calibration transient (mM·ms).
fn transient_integral(t: &Timeline, values: &[f32]) -> f64 {
    t.gap
        .iter()
        .zip(values)
        .filter(|(g, _)| !**g)
        .map(|(_, &v)| f64::from(v))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synapse::CAI_TAU_MS;

    /// c* at every bin end, with moments if given.
    fn cstar(t: &Timeline, values: &[f64], moments: Option<&[f64]>, tau: f64) -> Vec<f64> {
        let mut c = 0.0;
        (0..t.len())
            .map(|b| {
                let w = t.widths_ms[b];
                let m = moments.map_or(0.0, |m| m[b]);
                c = c * (-w / tau).exp() + (values[b] + m / tau) * super::super::grid::gain_factor(w, tau);
                c
            })
            .collect()
    }

    #[test]
    fn merged_bins_keep_cstar_for_any_tau() {
        // Two synapses, calcium transients (τ_Ca) every 100 ms for 1 s in
        // 0.25 ms bins; a presynaptic spike at 500 ms.
        let (w, n) = (0.25, 4000);
        let fine = Timeline {
            widths_ms: vec![w; n],
            gap: vec![false; n],
        };
        let transient = |t: f64, amp: f64| {
            let since = t % 100.0;
            amp * CAI_TAU_MS * ((-since / CAI_TAU_MS).exp() - (-(since + w).min(100.0) / CAI_TAU_MS).exp())
        };
        let values: Vec<Vec<f64>> = [1e-3, 4e-4]
            .iter()
            .map(|&amp| (0..n).map(|b| transient(b as f64 * w, amp)).collect())
            .collect();
        let mut starts = vec![false; n];
        starts[2000] = true;
        let scale: Vec<f64> = values.iter().map(|v| v[..400].iter().sum()).collect();
        let settings = TraceSettings::default();
        let merged = coarsen(&fine, &values, &[], &starts, &scale, &settings);
        let t = &merged.timeline;
        assert!(t.len() * 5 < n, "too few merged: {} bins", t.len());
        assert!(t.widths_ms.iter().all(|&x| x <= settings.induction_max_bin_ms + 1e-12));
        // The spike's bin starts a merged bin.
        let ends: Vec<f64> = t
            .widths_ms
            .iter()
            .scan(0.0, |e, x| {
                *e += x;
                Some(*e)
            })
            .collect();
        assert!(ends.iter().any(|e| (e - 500.0).abs() < 1e-9));
        for tau in [150.0, 250.0, 350.0] {
            for (k, v) in values.iter().enumerate() {
                let exact = cstar(&fine, v, None, tau);
                let peak = exact.iter().copied().fold(0.0, f64::max);
                let with = cstar(t, &merged.values[k], Some(&merged.moments[k]), tau);
                let without = cstar(t, &merged.values[k], None, tau);
                let err = |got: &[f64]| {
                    got.iter()
                        .zip(&ends)
                        .map(|(c, e)| (c - exact[(e / w).round() as usize - 1]).abs() / peak)
                        .fold(0.0, f64::max)
                };
                // The moment is what makes wide bins exact to second order.
                assert!(err(&with) < 2e-5, "τ* {tau}, synapse {k}: {}", err(&with));
                assert!(err(&without) > 10.0 * err(&with), "τ* {tau}: moments changed nothing");
            }
        }
    }
}
