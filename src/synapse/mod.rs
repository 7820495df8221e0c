//! The plastic glutamatergic synapse of SPEC §2: stochastic multivesicular
//! release, AMPA/NMDA receptors, spine calcium with an R-type VDCC, the
//! calcium integrator c*, the bistable efficacy ρ and its expression.
//!
//! Units: ms, mV, nS for conductances, nA for currents, mM for calcium, µm³
//! for volumes. Inward current is negative.

mod calcium;
mod plasticity;
mod receptor;
mod release;
mod rule;

pub use calcium::{nernst_mv, vdcc_hinf, vdcc_minf, CalciumConstants, CAI_REST_MM, CAI_TAU_MS, FARADAY};
pub use plasticity::IndicatorWeights;
pub use plasticity::{Efficacy, Expression, InitialState, RHO_STAR, TAU_EXP_MS, TAU_IND_MS};
pub use receptor::{mg_block, mg_block_slope, DualExp, AMPA_TAU_RISE_MS, NMDA_TAU_DECAY_MS, NMDA_TAU_RISE_MS};
pub use release::{utilisation_range, Release, SinceLast};
pub use rule::{RuleParams, RuleVariant, PARAM_BOUNDS, PARAM_NAMES};

use crate::pathway::{Contact, Tree};
use serde::{Deserialize, Serialize};

/// Conditions shared by every synapse of a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Extracellular calcium (mM): sets Pf, the Nernst potential and U.
    pub cao_mm: f64,
    /// Temperature (°C) of the Nernst potential and the cell's channels.
    pub celsius: f64,
    /// Extracellular magnesium (mM) of the NMDA block.
    pub mg_mm: f64,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            cao_mm: 2.0,
            celsius: 37.0,
            mg_mm: 1.0,
        }
    }
}

/// How the rule runs in a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RuleSettings {
    /// Off: c* still integrates, but ρ, Use and Ĝ_AMPA stay frozen.
    pub plasticity: bool,
    pub variant: RuleVariant,
    /// MK-801 in the presynaptic pipette is emulated by γd = 0 (SPEC §5.4).
    pub block_depression: bool,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            plasticity: true,
            variant: RuleVariant::Paper,
            block_depression: false,
        }
    }
}

/// [Ca2+]o scaling of the release probability, normalised at 2 mM
/// (SPEC §5.4): h(c) = c⁴ / (K⁴ + c⁴).
pub fn use_calcium_factor(cao_mm: f64, hill_k_mm: f64) -> f64 {
    let h = |c: f64| c.powi(4) / (hill_k_mm.powi(4) + c.powi(4));
    h(cao_mm) / h(2.0)
}

/// Fast state of one synapse: receptors, VDCC gates, spine calcium, c*.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastState {
    pub ampa: DualExp,
    pub nmda: DualExp,
    pub vdcc_m: f64,
    pub vdcc_h: f64,
    /// Spine calcium (mM).
    pub cai: f64,
    /// Calcium integrator c* (mM·ms).
    pub cstar: f64,
}

/// One synaptic contact, placed on compartment `compartment`.
#[derive(Debug, Clone, PartialEq)]
pub struct Synapse {
    pub compartment: usize,
    pub tree: Tree,
    pub path_distance_um: f64,
    pub release: Release,
    pub expression: Expression,
    pub efficacy: Efficacy,
    pub fast: FastState,
    pub ca: CalciumConstants,
    /// NMDA peak conductance (nS), fixed at nmda_ratio·G0.
    pub g_nmda_ns: f64,
    pub ampa_tau_decay_ms: f64,
    /// Thresholds on c* (mM·ms); +∞ until calibrated.
    pub theta_d: f64,
    pub theta_p: f64,
    /// Largest cai and c* since the last `reset_peaks`.
    pub peak_cai: f64,
    pub peak_cstar: f64,
    decay: DecayCache,
}

/// exp(−h/τ) of every exponential in a step, kept for the last (h, τ*):
/// almost every step has the standard h.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DecayCache {
    h: f64,
    tau_star: f64,
    /// AMPA rise, AMPA decay, NMDA rise, NMDA decay, VDCC m, VDCC h,
    /// spine calcium, c*, expression.
    f: [f64; 9],
}

impl DecayCache {
    fn empty() -> Self {
        DecayCache {
            h: f64::NAN,
            tau_star: f64::NAN,
            f: [0.0; 9],
        }
    }
}

/// The membrane current of a synapse at voltage v, with its slope.
#[derive(Debug, Clone, Copy, Default)]
pub struct SynapticCurrent {
    /// Total membrane current (nA): AMPA + NMDA + VDCC.
    pub i_na: f64,
    /// d i / d v (µS).
    pub di_dv_us: f64,
}

impl Synapse {
    /// Builds the synapse of a sampled contact. `g_scale` multiplies the
    /// sampled AMPA conductance (pathway calibration, SPEC §4).
    pub fn from_contact(
        contact: &Contact,
        compartment: usize,
        g_scale: f64,
        env: &Environment,
        v_rest: f64,
    ) -> Synapse {
        let g0 = contact.g_ampa_ns * g_scale;
        let init = InitialState::new(contact.use0, g0, contact.rho0 == 1);
        let u_factor = use_calcium_factor(env.cao_mm, contact.u_hill_k_mm);
        let expression = init.expression(u_factor);
        let ca = CalciumConstants::new(contact.spine_volume_um3, env);
        Synapse {
            compartment,
            tree: contact.tree,
            path_distance_um: contact.path_distance_um,
            release: Release::new(contact.nrrp, contact.dep_ms, contact.fac_ms),
            efficacy: Efficacy { rho: init.rho0() },
            expression,
            fast: FastState {
                ampa: DualExp::new(AMPA_TAU_RISE_MS, contact.ampa_tau_decay_ms),
                nmda: DualExp::new(NMDA_TAU_RISE_MS, NMDA_TAU_DECAY_MS),
                vdcc_m: vdcc_minf(v_rest),
                vdcc_h: vdcc_hinf(v_rest),
                cai: CAI_REST_MM,
                cstar: 0.0,
            },
            ca,
            g_nmda_ns: contact.nmda_ratio * g0,
            ampa_tau_decay_ms: contact.ampa_tau_decay_ms,
            theta_d: f64::INFINITY,
            theta_p: f64::INFINITY,
            peak_cai: CAI_REST_MM,
            peak_cstar: 0.0,
            decay: DecayCache::empty(),
        }
    }

    fn decay_factors(&mut self, h: f64, tau_star: f64) -> [f64; 9] {
        if self.decay.h != h || self.decay.tau_star != tau_star {
            let f = &self.fast;
            let taus = [
                f.ampa.tau_rise,
                f.ampa.tau_decay,
                f.nmda.tau_rise,
                f.nmda.tau_decay,
                calcium::VDCC_TAU_M_MS,
                calcium::VDCC_TAU_H_MS,
                CAI_TAU_MS,
                tau_star,
                TAU_EXP_MS,
            ];
            self.decay = DecayCache {
                h,
                tau_star,
                f: taus.map(|tau| (-h / tau).exp()),
            };
        }
        self.decay.f
    }

    /// A presynaptic spike at time t: stochastic release into both receptors.
    /// Returns the number of vesicles released.
    pub fn presynaptic_spike<R: rand::Rng + ?Sized>(&mut self, t: f64, rng: &mut R) -> u32 {
        let released = self.release.spike(t, self.expression.use_, rng);
        if released > 0 {
            let w = f64::from(released) / f64::from(self.release.nrrp());
            self.fast.ampa.activate(w);
            self.fast.nmda.activate(w);
        }
        released
    }

    /// Membrane current and its slope at voltage v (for the implicit solve).
    pub fn current(&self, v: f64, env: &Environment) -> SynapticCurrent {
        let g_ampa_us = 1e-3 * self.expression.g_ampa_ns * self.fast.ampa.open();
        let g_nmda_open_us = 1e-3 * self.g_nmda_ns * self.fast.nmda.open();
        let mg = mg_block(v, env.mg_mm);
        let dmg = receptor::mg_block_slope_from(mg);
        let e_nmda = receptor::NMDA_REVERSAL_MV;
        let g_vdcc_us = self.vdcc_conductance_us();
        let e_ca = nernst_mv(env.cao_mm, self.fast.cai, env.celsius);
        SynapticCurrent {
            i_na: g_ampa_us * v + g_nmda_open_us * mg * (v - e_nmda) + g_vdcc_us * (v - e_ca),
            di_dv_us: g_ampa_us + g_nmda_open_us * (mg + dmg * (v - e_nmda)) + g_vdcc_us,
        }
    }

    fn vdcc_conductance_us(&self) -> f64 {
        1e-3 * self.ca.g_vdcc_ns * self.fast.vdcc_m * self.fast.vdcc_m * self.fast.vdcc_h
    }

    /// Upper bound (nA) on the AMPA + NMDA current at voltage v from now on:
    /// B ≥ B − A, and B only decays until the next release.
    pub fn receptor_current_bound(&self, v: f64, env: &Environment) -> f64 {
        let ampa = self.expression.g_ampa_ns * self.fast.ampa.b * v.abs();
        let nmda = self.g_nmda_ns * self.fast.nmda.b * mg_block(v, env.mg_mm) * (v - receptor::NMDA_REVERSAL_MV).abs();
        1e-3 * (ampa + nmda)
    }

    /// Calcium current (nA) through NMDA receptors and the VDCC at voltage v.
    pub fn calcium_current(&self, v: f64, env: &Environment) -> f64 {
        let e_ca = nernst_mv(env.cao_mm, self.fast.cai, env.celsius);
        self.calcium_current_with(v, mg_block(v, env.mg_mm), e_ca)
    }

    /// Calcium influx (mM/ms) through the NMDA receptors per unit of open
    /// fraction B − A at voltage v (replay scales it by release changes).
    pub fn nmda_influx_per_open(&self, v: f64, env: &Environment) -> f64 {
        self.ca
            .influx(self.nmda_calcium_current(v, mg_block(v, env.mg_mm), 1.0))
    }

    /// Calcium current (nA) through the NMDA receptors at open fraction `open`.
    fn nmda_calcium_current(&self, v: f64, mg_block: f64, open: f64) -> f64 {
        let g_us = 1e-3 * self.g_nmda_ns * open * mg_block;
        self.ca.pf * g_us * (v - calcium::NMDA_CA_REVERSAL_MV)
    }

    fn calcium_current_with(&self, v: f64, mg_block: f64, e_ca: f64) -> f64 {
        let i_nmda = self.nmda_calcium_current(v, mg_block, self.fast.nmda.open());
        i_nmda + self.vdcc_conductance_us() * (v - e_ca)
    }

    /// Advances every state by h ms with the compartment at voltage v (the
    /// voltage at the end of the step, as in a staggered implicit scheme).
    pub fn advance(&mut self, h: f64, v: f64, env: &Environment, rule: &RuleParams, settings: &RuleSettings) {
        let k = self.decay_factors(h, rule.tau_star_ms);
        let f = &mut self.fast;
        f.ampa.decay_by(k[0], k[1]);
        f.nmda.decay_by(k[2], k[3]);
        let (m_inf, h_inf) = (vdcc_minf(v), vdcc_hinf(v));
        f.vdcc_m = m_inf + (f.vdcc_m - m_inf) * k[4];
        f.vdcc_h = h_inf + (f.vdcc_h - h_inf) * k[5];
        let mg = mg_block(v, env.mg_mm);
        let cai_old = self.fast.cai;
        let i_ca = self.calcium_current_with(v, mg, nernst_mv(env.cao_mm, cai_old, env.celsius));
        let influx = self.ca.influx(i_ca);
        let cai_new = CAI_REST_MM + (cai_old - CAI_REST_MM) * k[6] + influx * CAI_TAU_MS * (1.0 - k[6]);
        let cstar_old = self.fast.cstar;
        // c*' = −c*/τ* + (cai − cai₀), with cai taken at the step's midpoint.
        let drive = 0.5 * (cai_old + cai_new) - CAI_REST_MM;
        let cstar_new = cstar_old * k[7] + drive * rule.tau_star_ms * (1.0 - k[7]);
        self.fast.cai = cai_new;
        self.fast.cstar = cstar_new;
        self.peak_cai = self.peak_cai.max(cai_new);
        self.peak_cstar = self.peak_cstar.max(cstar_new);
        if settings.plasticity {
            let (gd, gp) = self.gammas(rule, settings);
            let rho_old = self.efficacy.rho;
            let weights = plasticity::IndicatorWeights::over_step(
                cstar_old,
                cstar_new,
                self.theta_d,
                self.theta_p,
                settings.variant,
            );
            self.efficacy.midpoint_step(h, gd, gp, weights);
            let rho_mid = 0.5 * (rho_old + self.efficacy.rho);
            self.expression.relax_by(rho_mid, k[8]);
        }
    }

    /// γd and γp as this simulation applies them (MK-801 zeroes γd).
    pub fn gammas(&self, rule: &RuleParams, settings: &RuleSettings) -> (f64, f64) {
        let gd = if settings.block_depression { 0.0 } else { rule.gamma_d };
        (gd, rule.gamma_p)
    }

    /// Sets θd and θp from the calibration peaks Cpre and Cpost (SPEC §2.7).
    pub fn set_thresholds(&mut self, rule: &RuleParams, c_pre: f64, c_post: f64) {
        let (d, p) = rule.thresholds(self.tree, c_pre, c_post);
        self.theta_d = d;
        self.theta_p = p;
    }

    pub fn reset_peaks(&mut self) {
        self.peak_cai = self.fast.cai;
        self.peak_cstar = self.fast.cstar;
    }

    /// Whether every state is finite.
    pub fn is_finite(&self) -> bool {
        let f = &self.fast;
        [
            f.cai,
            f.cstar,
            f.vdcc_m,
            f.vdcc_h,
            self.efficacy.rho,
            self.expression.g_ampa_ns,
            self.expression.use_,
        ]
        .iter()
        .all(|x| x.is_finite())
            && f.ampa.is_finite()
            && f.nmda.is_finite()
    }
}

/// Exponential relaxation of x towards x_inf with time constant tau over h.
pub fn relax(x: f64, x_inf: f64, h: f64, tau: f64) -> f64 {
    x_inf + (x - x_inf) * (-h / tau).exp()
}
