//! Rate tables: steady states, time constants and the exponential-Euler
//! decay factor for the standard step, tabulated over the shifted voltage
//! and linearly interpolated. They replace thousands of exp() calls per
//! step; outside the table the rates are computed exactly.

use super::channels::ChannelKind;

const V_MIN: f64 = -150.0;
const V_MAX: f64 = 100.0;
/// Table resolution (mV); NEURON's own tables for these channels use ~1.1 mV.
const V_STEP: f64 = 0.1;

#[derive(Debug, Clone)]
pub struct RateTable {
    kind: ChannelKind,
    celsius: f64,
    dt_ref: f64,
    gates: usize,
    /// Position of the last interval's start.
    last: f64,
    /// Per voltage point and gate: (x∞, exp(−dt_ref/τ)).
    rows: Vec<[f64; 2]>,
    /// Per voltage point and gate: τ (for steps other than dt_ref).
    taus: Vec<f64>,
}

impl RateTable {
    pub fn new(kind: ChannelKind, celsius: f64, dt_ref: f64) -> RateTable {
        let n = ((V_MAX - V_MIN) / V_STEP).round() as usize + 1;
        let gates = kind.gate_count();
        let mut rows = Vec::with_capacity(n * gates);
        let mut taus = Vec::with_capacity(n * gates);
        for i in 0..n {
            let r = kind.rates(V_MIN + i as f64 * V_STEP, celsius);
            for &(inf, tau) in r.iter().take(gates) {
                rows.push([inf, (-dt_ref / tau).exp()]);
                taus.push(tau);
            }
        }
        RateTable {
            kind,
            celsius,
            dt_ref,
            gates,
            last: (n - 1) as f64,
            rows,
            taus,
        }
    }

    /// Advances the gates over h at shifted voltage v.
    #[inline]
    pub fn advance(&self, gates: &mut [f64; 3], v: f64, h: f64) {
        let pos = (v - V_MIN) / V_STEP;
        if !(pos >= 0.0 && pos < self.last) {
            let r = self.kind.rates(v, self.celsius);
            for (g, (inf, tau)) in gates.iter_mut().zip(r).take(self.gates) {
                *g = inf + (*g - inf) * (-h / tau).exp();
            }
            return;
        }
        let i = pos as usize;
        let w = pos - i as f64;
        let same_step = h == self.dt_ref;
        for (k, g) in gates.iter_mut().enumerate().take(self.gates) {
            let (ia, ib) = (i * self.gates + k, (i + 1) * self.gates + k);
            let (a, b) = (&self.rows[ia], &self.rows[ib]);
            let inf = a[0] + w * (b[0] - a[0]);
            let decay = if same_step {
                a[1] + w * (b[1] - a[1])
            } else {
                (-h / (self.taus[ia] + w * (self.taus[ib] - self.taus[ia]))).exp()
            };
            *g = inf + (*g - inf) * decay;
        }
    }
}
