//! One sampled synaptic contact: everything the engine needs to build a synapse.

use serde::{Deserialize, Serialize};

/// Which dendritic tree a contact sits on; it selects the threshold
/// coefficients (basal a00..a11, apical a20..a31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tree {
    Basal,
    Apical,
}

/// Sampled parameters of one contact at [Ca2+]o = 2 mM (SPEC §2, §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub tree: Tree,
    /// Path distance from the soma centre along the dendrite (µm).
    pub path_distance_um: f64,
    /// Release probability U0 at 2 mM [Ca2+]o.
    pub use0: f64,
    /// Number of release sites (≥ 1).
    pub nrrp: u32,
    /// Depression and facilitation time constants (ms).
    pub dep_ms: f64,
    pub fac_ms: f64,
    /// AMPA peak conductance G0 (nS), before any pathway scale factor.
    pub g_ampa_ns: f64,
    /// AMPA decay time constant (ms).
    pub ampa_tau_decay_ms: f64,
    /// NMDA/AMPA peak conductance ratio.
    pub nmda_ratio: f64,
    /// Spine head volume X (µm³).
    pub spine_volume_um3: f64,
    /// Hill constant K of the [Ca2+]o scaling of U (mM).
    pub u_hill_k_mm: f64,
    /// Initial efficacy state ρ0 (0 or 1).
    pub rho0: u8,
}

/// A connection: one presynaptic neuron's contacts on one postsynaptic cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: usize,
    pub pathway: String,
    /// Postsynaptic cell model name (a file in `datasets/cells/`).
    pub post_cell: String,
    /// Seed for this connection's stochastic release.
    pub release_seed: u64,
    pub contacts: Vec<Contact>,
}
