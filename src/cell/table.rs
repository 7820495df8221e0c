//! Rate tables: steady states, time constants and the exponential-Euler
//! decay factors for the simulator's standard steps (the fine step and the
//! relaxation step), tabulated over the shifted voltage and linearly
//! interpolated. They replace thousands of exp() calls per step; outside
//! the table, or for any other step, the rates are computed exactly.

use super::channels::ChannelKind;

const V_MIN: f64 = -150.0;
const V_MAX: f64 = 100.0;
/// Table resolution (mV); NEURON's own tables for these channels use ~1.1 mV.
const V_STEP: f64 = 0.1;
const POINTS_PER_MV: f64 = 10.0;
/// How many steps a table carries decay factors for.
pub const TABULATED_STEPS: usize = 2;
/// Values per (interval, gate); see `RateTable::rows`.
const STRIDE: usize = 2 + 2 * TABULATED_STEPS;

#[derive(Debug, Clone)]
pub struct RateTable {
    kind: ChannelKind,
    celsius: f64,
    /// The tabulated steps (ms).
    steps: [f64; TABULATED_STEPS],
    gates: usize,
    /// Position of the last interval's start.
    last: f64,
    /// Per (interval, gate): x∞ at the interval's start and its rise over
    /// the interval, then the same pair for exp(−h/τ) of every tabulated
    /// step h, so one lookup reads one contiguous row.
    rows: Vec<[f64; STRIDE]>,
    /// Per voltage point and gate: τ (for untabulated steps).
    taus: Vec<f64>,
}

impl RateTable {
    pub fn new(kind: ChannelKind, celsius: f64, steps: [f64; TABULATED_STEPS]) -> RateTable {
        let n = ((V_MAX - V_MIN) / V_STEP).round() as usize + 1;
        let gates = kind.gate_count();
        let points: Vec<(f64, f64)> = (0..n)
            .flat_map(|i| {
                let r = kind.rates(V_MIN + i as f64 * V_STEP, celsius);
                r.into_iter().take(gates)
            })
            .collect();
        let rows = (0..(n - 1) * gates)
            .map(|k| {
                let ((inf_a, tau_a), (inf_b, tau_b)) = (points[k], points[k + gates]);
                let mut row = [0.0; STRIDE];
                (row[0], row[1]) = (inf_a, inf_b - inf_a);
                for (j, h) in steps.iter().enumerate() {
                    let (a, b) = ((-h / tau_a).exp(), (-h / tau_b).exp());
                    (row[2 + 2 * j], row[3 + 2 * j]) = (a, b - a);
                }
                row
            })
            .collect();
        RateTable {
            kind,
            celsius,
            steps,
            gates,
            last: (n - 1) as f64,
            rows,
            taus: points.iter().map(|p| p.1).collect(),
        }
    }

    /// Which tabulated step h is, if any.
    pub fn step_index(&self, h: f64) -> Option<usize> {
        self.steps.iter().position(|&s| s == h)
    }

    /// Interval index and weight of shifted voltage v, inside the table.
    #[inline(always)]
    fn locate(&self, v: f64) -> Option<(usize, f64)> {
        let pos = (v - V_MIN) * POINTS_PER_MV;
        if !(pos >= 0.0 && pos < self.last) {
            return None;
        }
        // Through i32: a single conversion instruction each way on every
        // x86-64, where usize ↔ f64 needs a multi-instruction sequence.
        let i = pos as i32;
        Some((i as usize, pos - f64::from(i)))
    }

    /// Advances the N gates over tabulated step number `step` at shifted
    /// voltage v.
    #[inline(always)]
    pub fn advance_tabulated<const N: usize>(&self, gates: &mut [f64; 3], v: f64, step: usize) {
        let Some((i, w)) = self.locate(v) else {
            return self.advance_exact(gates, v, self.steps[step]);
        };
        for (g, r) in gates.iter_mut().zip(&self.rows[i * N..(i + 1) * N]) {
            let inf = r[0] + w * r[1];
            let decay = r[2 + 2 * step] + w * r[3 + 2 * step];
            *g = inf + (*g - inf) * decay;
        }
    }

    /// Advances the gates over a step h that is not tabulated: x∞ from the
    /// table, exp(−h/τ) from the interpolated τ.
    pub fn advance_untabulated(&self, gates: &mut [f64; 3], v: f64, h: f64) {
        let Some((i, w)) = self.locate(v) else {
            return self.advance_exact(gates, v, h);
        };
        for (k, g) in gates.iter_mut().enumerate().take(self.gates) {
            let (ia, ib) = (i * self.gates + k, (i + 1) * self.gates + k);
            let r = &self.rows[ia];
            let inf = r[0] + w * r[1];
            let decay = (-h / (self.taus[ia] + w * (self.taus[ib] - self.taus[ia]))).exp();
            *g = inf + (*g - inf) * decay;
        }
    }

    /// Rates computed directly, for voltages outside the table.
    #[cold]
    fn advance_exact(&self, gates: &mut [f64; 3], v: f64, h: f64) {
        let r = self.kind.rates(v, self.celsius);
        for (g, (inf, tau)) in gates.iter_mut().zip(r).take(self.gates) {
            *g = inf + (*g - inf) * (-h / tau).exp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabulated_and_untabulated_steps_agree_with_the_exact_rates() {
        let mut worst = [0.0f64; 2];
        for kind in ChannelKind::ALL {
            let table = RateTable::new(kind, 37.0, [0.025, 0.25]);
            for i in 0..400 {
                let v = -120.0 + 0.37 * i as f64;
                for h in [0.025, 0.25] {
                    let start = [0.3, 0.6, 0.45];
                    let (mut tab, mut untab, mut exact) = (start, start, start);
                    let k = table.step_index(h).unwrap();
                    match kind.gate_count() {
                        1 => table.advance_tabulated::<1>(&mut tab, v, k),
                        2 => table.advance_tabulated::<2>(&mut tab, v, k),
                        _ => table.advance_tabulated::<3>(&mut tab, v, k),
                    }
                    table.advance_untabulated(&mut untab, v, h);
                    table.advance_exact(&mut exact, v, h);
                    for k in 0..kind.gate_count() {
                        worst[0] = worst[0].max((tab[k] - exact[k]).abs());
                        worst[1] = worst[1].max((untab[k] - exact[k]).abs());
                    }
                }
            }
        }
        // Linear interpolation over 0.1 mV: a few 1e-6 of a gate per step
        // at worst (measured 8.2e-6 tabulated, 2.3e-6 through τ).
        assert!(worst[0] < 1e-5 && worst[1] < 1e-5, "{worst:?}");
    }
}
