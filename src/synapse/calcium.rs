//! Spine calcium: NMDAR calcium fraction, R-type VDCC, Nernst reversal and
//! the leaky spine calcium pool (SPEC §2.3-2.5).

use super::Environment;

pub const FARADAY: f64 = 96_485.332_12;
const GAS_CONSTANT: f64 = 8.314_462_618;
/// Resting spine calcium cai₀ (mM).
pub const CAI_REST_MM: f64 = 70e-6;
/// Spine calcium extrusion time constant (ms).
pub const CAI_TAU_MS: f64 = 12.0;
/// Fraction of the calcium current that stays free (η).
pub const CALCIUM_FREE_FRACTION: f64 = 0.04;
/// Reversal potential of the NMDAR calcium current (mV).
pub const NMDA_CA_REVERSAL_MV: f64 = 40.0;
/// VDCC peak conductance density (nS/µm²).
pub const VDCC_DENSITY_NS_UM2: f64 = 0.0744;
pub const VDCC_TAU_M_MS: f64 = 1.0;
pub const VDCC_TAU_H_MS: f64 = 27.0;

pub fn vdcc_minf(v: f64) -> f64 {
    1.0 / (1.0 + ((-5.9 - v) / 9.5).exp())
}

pub fn vdcc_hinf(v: f64) -> f64 {
    1.0 / (1.0 + ((-39.0 - v) / -9.2).exp())
}

/// Nernst potential of calcium (mV).
pub fn nernst_mv(cao_mm: f64, cai_mm: f64, celsius: f64) -> f64 {
    let t_kelvin = celsius + 273.15;
    1e3 * GAS_CONSTANT * t_kelvin / (2.0 * FARADAY) * (cao_mm / cai_mm).ln()
}

/// Per-synapse constants of the calcium model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalciumConstants {
    /// Fraction of the NMDA current carried by calcium (Pf·α).
    pub pf: f64,
    /// VDCC peak conductance (nS) of the spine head.
    pub g_vdcc_ns: f64,
    /// mM/ms of free calcium per nA of inward current in this spine.
    pub mm_per_ms_per_na: f64,
}

impl CalciumConstants {
    pub fn new(volume_um3: f64, env: &Environment) -> CalciumConstants {
        let pf = 4.0 * env.cao_mm / (4.0 * env.cao_mm + 120.0 / 1.38) * 0.6;
        // Surface of a sphere of volume X.
        let area_um2 = 4.0 * std::f64::consts::PI * (3.0 * volume_um3 / (4.0 * std::f64::consts::PI)).powf(2.0 / 3.0);
        // I·1e-9 (A) · η / (2F · X·1e-15 (l)) in M/s = mM/ms.
        let mm_per_ms_per_na = 1e-9 * CALCIUM_FREE_FRACTION / (2.0 * FARADAY * volume_um3 * 1e-15);
        CalciumConstants {
            pf,
            g_vdcc_ns: VDCC_DENSITY_NS_UM2 * area_um2,
            mm_per_ms_per_na,
        }
    }

    /// Influx rate (mM/ms) produced by a calcium current (nA, inward < 0).
    pub fn influx(&self, i_ca_na: f64) -> f64 {
        -i_ca_na * self.mm_per_ms_per_na
    }

    /// Exact step of cai over h with a constant calcium current.
    pub fn step_cai(&self, cai: f64, i_ca_na: f64, h: f64) -> f64 {
        let decay = (-h / CAI_TAU_MS).exp();
        CAI_REST_MM + (cai - CAI_REST_MM) * decay + self.influx(i_ca_na) * CAI_TAU_MS * (1.0 - decay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nernst_at_rest_is_about_137_mv() {
        // RT/2F at 310.15 K = 13.363 mV; ln(2 / 70e-6) = 10.2602.
        let e = nernst_mv(2.0, CAI_REST_MM, 37.0);
        assert!((e - 137.11).abs() < 0.05, "{e}");
    }

    #[test]
    fn pf_and_vdcc_conductance_follow_the_formulas() {
        let c = CalciumConstants::new(0.1, &Environment::default());
        // 4·2/(8 + 86.957)·0.6 = 0.0505495
        assert!((c.pf - 0.050_549_5).abs() < 1e-6, "{}", c.pf);
        // radius (0.3/(4π))^(1/3) = 0.28794 µm → area 1.04187 µm² → 0.077515 nS
        assert!((c.g_vdcc_ns - 0.077_515).abs() < 1e-5, "{}", c.g_vdcc_ns);
    }

    #[test]
    fn calcium_pool_relaxes_to_the_constant_current_fixed_point() {
        let c = CalciumConstants::new(0.1, &Environment::default());
        let i = -1e-3; // 1 pA inward
        let mut cai = CAI_REST_MM;
        for _ in 0..10_000 {
            cai = c.step_cai(cai, i, 0.025);
        }
        let fixed = CAI_REST_MM + c.influx(i) * CAI_TAU_MS;
        assert!((cai - fixed).abs() / fixed < 1e-9);
        // 1 pA into 0.1 µm³ at η = 0.04: 1e-12·0.04/(2F·1e-16 l) = 2.0729 mM/s, ×12 ms = 24.874 µM
        assert!((c.influx(i) * CAI_TAU_MS - 0.024_874).abs() < 1e-6);
    }
}
