//! Spine calcium transients of single synapses (SPEC §3 checks against
//! Sabatini et al. 2002): EPSP-evoked, bAP-evoked and pre/post pairings.
//!
//! Each synapse is simulated alone on the cell, as an imaged spine under
//! minimal stimulation; presynaptic transients are taken from successful
//! releases only (failures carry no calcium and are not what was imaged).

use super::runner::{build_simulation, RunnerSettings};
use super::stimulus::{SpikeStimulus, PULSE_MS};
use crate::cell::CellModel;
use crate::pathway::{Connection, Contact};
use crate::sim::{NoObserver, Pulse};
use crate::synapse::{Environment, RuleParams, CAI_REST_MM};
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// What drives the spine in one measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CalciumStimulus {
    /// One presynaptic spike.
    Epsp,
    /// One postsynaptic spike, no presynaptic input.
    Bap,
    /// One presynaptic spike and a postsynaptic spike Δt ms later.
    Pairing { delta_t_ms: f64 },
}

/// Attempts before a synapse that never releases is reported.
const MAX_RELEASE_ATTEMPTS: usize = 1000;

/// Peak spine calcium above rest (µM) of one synapse alone on the cell.
pub fn spine_calcium_peak(
    cell: &CellModel,
    contact: &Contact,
    g_scale: f64,
    stimulus: CalciumStimulus,
    post: &SpikeStimulus,
    seed: u64,
) -> Result<f64> {
    let connection = Connection {
        id: 0,
        pathway: String::new(),
        post_cell: cell.name.clone(),
        release_seed: seed,
        contacts: vec![contact.clone()],
    };
    let settings = RunnerSettings::default();
    let base = build_simulation(
        cell,
        &connection,
        g_scale,
        Environment::default(),
        RuleParams::chindemi2022(),
        &settings,
        false,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..MAX_RELEASE_ATTEMPTS {
        let mut sim = base.fork();
        sim.rule_settings.plasticity = false;
        let t0 = sim.t + 20.0;
        let pre = !matches!(stimulus, CalciumStimulus::Bap);
        if pre {
            sim.add_presynaptic_spikes(&[t0]);
        }
        let post_at = match stimulus {
            CalciumStimulus::Epsp => None,
            CalciumStimulus::Bap => Some(t0),
            CalciumStimulus::Pairing { delta_t_ms } => Some(t0 + delta_t_ms),
        };
        if let Some(t_spike) = post_at {
            let start = t_spike - post.latency_ms;
            sim.add_pulse(Pulse {
                start_ms: start,
                duration_ms: PULSE_MS,
                amplitude_na: post.amplitude_na,
            });
        }
        sim.reset_peaks();
        sim.run(t0 + 200.0, &mut rng, &mut NoObserver)?;
        let released = sim.synapses[0].fast.nmda.b > 0.0;
        if !pre || released {
            return Ok((sim.synapses[0].peak_cai - CAI_REST_MM) * 1e3);
        }
    }
    Err(crate::Error::Config(format!(
        "synapse never released in {MAX_RELEASE_ATTEMPTS} attempts (U = {})",
        contact.use0
    )))
}

/// Mean and sample SD.
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// Peaks of many synapses in parallel; synapse i uses seed + i.
pub fn calcium_peaks(
    cell: &CellModel,
    contacts: &[Contact],
    g_scale: f64,
    stimulus: CalciumStimulus,
    post: &SpikeStimulus,
    seed: u64,
) -> Result<Vec<f64>> {
    contacts
        .par_iter()
        .enumerate()
        .map(|(i, c)| spine_calcium_peak(cell, c, g_scale, stimulus, post, seed.wrapping_add(i as u64)))
        .collect()
}

/// `plastifit calcium-report` results.
#[derive(Debug, Clone, Serialize)]
pub struct CalciumReport {
    pub pathway: String,
    pub cell: String,
    pub seed: u64,
    pub epsp_synapses: usize,
    pub epsp_ca_peak_um_mean: f64,
    pub epsp_ca_peak_um_sd: f64,
    pub bap_synapses: usize,
    pub bap_ca_peak_um_mean: f64,
    pub bap_ca_peak_um_sd: f64,
    pub pairing_ca_peak_um_plus10: f64,
    pub pairing_ca_peak_um_minus10: f64,
    pub definitions: Vec<String>,
    pub sabatini2002_epsp_ca_um: [f64; 2],
    pub sabatini2002_bap_ca_um: [f64; 2],
}

/// Basal contacts of a pathway within `max_path_um` of the soma, from
/// connections sampled with `seed` (connection k does not depend on how
/// many are drawn), until `n` are found.
pub fn basal_contacts(
    recipe: &crate::pathway::PathwayRecipe,
    cell: &CellModel,
    max_path_um: f64,
    n: usize,
    seed: u64,
) -> Result<Vec<Contact>> {
    let sampler = crate::pathway::Sampler::new(
        recipe,
        super::tree_extent(cell),
        crate::pathway::Copula::chindemi_2022(),
    )?;
    let mut out = Vec::with_capacity(n);
    for k in 0..(1000 * n.max(1)) {
        let conn = sampler.connection(k, seed);
        out.extend(
            conn.contacts
                .into_iter()
                .filter(|c| c.tree == crate::pathway::Tree::Basal && c.path_distance_um <= max_path_um),
        );
        if out.len() >= n {
            out.truncate(n);
            return Ok(out);
        }
    }
    Err(crate::Error::Config(format!(
        "pathway {}: too few basal contacts within {max_path_um} µm of the soma",
        recipe.pathway
    )))
}

/// The SPEC §3 spine calcium checks for a pathway: EPSP-evoked (basal
/// ≤ 150 µm), bAP-evoked (basal ≤ 60 µm) and ±10 ms pairings (basal ≤ 150 µm).
pub fn calcium_report(
    cell: &CellModel,
    recipe: &crate::pathway::PathwayRecipe,
    n: usize,
    seed: u64,
) -> Result<CalciumReport> {
    let rest = cell.resting_state()?;
    let single = super::find_spike_stimulus(cell, &rest, 1, 1.0, &super::AmplitudeGrid::default())?;
    let near = basal_contacts(recipe, cell, 150.0, n, seed)?;
    let proximal = basal_contacts(recipe, cell, 60.0, n, seed)?;
    let g = recipe.g_scale;
    let epsp = calcium_peaks(cell, &near, g, CalciumStimulus::Epsp, &single, seed)?;
    let bap = calcium_peaks(cell, &proximal, g, CalciumStimulus::Bap, &single, seed)?;
    let plus = calcium_peaks(
        cell,
        &near,
        g,
        CalciumStimulus::Pairing { delta_t_ms: 10.0 },
        &single,
        seed,
    )?;
    let minus = calcium_peaks(
        cell,
        &near,
        g,
        CalciumStimulus::Pairing { delta_t_ms: -10.0 },
        &single,
        seed,
    )?;
    let (em, es) = mean_sd(&epsp);
    let (bm, bs) = mean_sd(&bap);
    Ok(CalciumReport {
        pathway: recipe.pathway.clone(),
        cell: cell.name.clone(),
        seed,
        epsp_synapses: epsp.len(),
        epsp_ca_peak_um_mean: em,
        epsp_ca_peak_um_sd: es,
        bap_synapses: bap.len(),
        bap_ca_peak_um_mean: bm,
        bap_ca_peak_um_sd: bs,
        pairing_ca_peak_um_plus10: mean_sd(&plus).0,
        pairing_ca_peak_um_minus10: mean_sd(&minus).0,
        definitions: vec![
            "peak spine calcium above rest (µM), each synapse alone on the cell".into(),
            "EPSP: one presynaptic spike from rest, successful releases only, basal synapses ≤ 150 µm".into(),
            "bAP: one somatic 3 ms pulse at the smallest grid amplitude that fires one spike, basal synapses ≤ 60 µm".into(),
            "pairing: presynaptic spike and postsynaptic spike (−30 mV crossing) Δt = ±10 ms apart, successful releases only, basal ≤ 150 µm".into(),
        ],
        sabatini2002_epsp_ca_um: [0.7, 0.4],
        sabatini2002_bap_ca_um: [1.7, 0.6],
    })
}
