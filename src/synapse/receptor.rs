//! AMPA and NMDA receptors: dual-exponential conductances and the NMDA
//! magnesium block (SPEC §2.2).

use serde::{Deserialize, Serialize};

pub const AMPA_TAU_RISE_MS: f64 = 0.2;
pub const NMDA_TAU_RISE_MS: f64 = 0.29;
pub const NMDA_TAU_DECAY_MS: f64 = 70.0;
pub const NMDA_REVERSAL_MV: f64 = -3.0;
const MG_SLOPE_PER_MV: f64 = 0.072;
const MG_SCALE_MM: f64 = 2.552;

/// Open fraction B − A of a dual-exponential receptor, scaled so a full
/// release (weight 1) peaks at exactly 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DualExp {
    pub a: f64,
    pub b: f64,
    pub tau_rise: f64,
    pub tau_decay: f64,
    factor: f64,
}

impl DualExp {
    pub fn new(tau_rise: f64, tau_decay: f64) -> DualExp {
        let t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * (tau_decay / tau_rise).ln();
        let factor = 1.0 / ((-t_peak / tau_decay).exp() - (-t_peak / tau_rise).exp());
        DualExp {
            a: 0.0,
            b: 0.0,
            tau_rise,
            tau_decay,
            factor,
        }
    }

    /// A release of `weight` = released / Nrrp.
    pub fn activate(&mut self, weight: f64) {
        self.a += weight * self.factor;
        self.b += weight * self.factor;
    }

    /// Exact decay over h ms.
    pub fn decay(&mut self, h: f64) {
        self.a *= (-h / self.tau_rise).exp();
        self.b *= (-h / self.tau_decay).exp();
    }

    /// Decay with precomputed factors exp(−h/τr), exp(−h/τd).
    #[inline]
    pub fn decay_by(&mut self, rise: f64, decay: f64) {
        self.a *= rise;
        self.b *= decay;
    }

    pub fn open(&self) -> f64 {
        self.b - self.a
    }

    pub fn is_finite(&self) -> bool {
        self.a.is_finite() && self.b.is_finite()
    }
}

/// NMDA magnesium block m(v) (Jahr–Stevens refit to neocortex).
pub fn mg_block(v: f64, mg_mm: f64) -> f64 {
    1.0 / (1.0 + (-MG_SLOPE_PER_MV * v).exp() * mg_mm / MG_SCALE_MM)
}

/// dm/dv of the magnesium block.
pub fn mg_block_slope(v: f64, mg_mm: f64) -> f64 {
    mg_block_slope_from(mg_block(v, mg_mm))
}

/// dm/dv of the magnesium block, from the block m itself.
pub fn mg_block_slope_from(m: f64) -> f64 {
    MG_SLOPE_PER_MV * m * (1.0 - m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mg_block_at_reference_voltages() {
        // 1 / (1 + exp(−0.072·v) / 2.552): 1/(1 + 317.35/2.552) at −80 mV, 1/(1 + 17.81/2.552) at −40 mV, 1/(1 + 1/2.552) at 0 mV.
        let cases = [(-80.0, 0.007_977_48), (-40.0, 0.125_305_2), (0.0, 0.718_468_5)];
        for (v, expected) in cases {
            let m = mg_block(v, 1.0);
            assert!((m - expected).abs() < 1e-5, "m({v}) = {m}, expected {expected}");
        }
    }

    #[test]
    fn mg_block_slope_matches_finite_difference() {
        for v in [-80.0, -40.0, 0.0, 20.0] {
            let fd = (mg_block(v + 1e-5, 1.0) - mg_block(v - 1e-5, 1.0)) / 2e-5;
            assert!((mg_block_slope(v, 1.0) - fd).abs() < 1e-8);
        }
    }

    #[test]
    fn full_release_peaks_at_one() {
        for (rise, decay) in [(AMPA_TAU_RISE_MS, 1.74), (NMDA_TAU_RISE_MS, NMDA_TAU_DECAY_MS)] {
            let mut r = DualExp::new(rise, decay);
            r.activate(1.0);
            let h = 1e-4;
            let mut peak: f64 = 0.0;
            for _ in 0..(200.0 / h) as usize {
                r.decay(h);
                peak = peak.max(r.open());
            }
            assert!((peak - 1.0).abs() < 1e-6, "peak {peak} for τr {rise}, τd {decay}");
        }
    }
}
