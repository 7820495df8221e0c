//! Pathway conductance calibration (SPEC §4 [assumption]): one scale factor
//! on the sampled AMPA conductances per pathway, chosen so the sampled mean
//! somatic EPSP matches the literature amplitude of the recipe.

use super::batch::tree_extent;
use super::runner::{mean_test_epsp, protocol_seed};
use crate::cell::CellModel;
use crate::pathway::{try_sample_connections, PathwayRecipe};
use crate::{Error, Result};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationSettings {
    pub connections: usize,
    pub seed: u64,
    pub test_spikes: usize,
    pub period_ms: f64,
    /// Stop when the mean EPSP is within this relative distance of the target.
    pub tolerance: f64,
    pub max_iterations: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationResult {
    pub pathway: String,
    pub target_epsp_mv: f64,
    pub g_scale: f64,
    pub mean_epsp_mv: f64,
    pub connections_used: usize,
    pub excluded: Vec<String>,
    /// (g_scale, mean EPSP mV) of every iteration.
    pub iterations: Vec<(f64, f64)>,
}

impl CalibrationResult {
    /// The note stored with the factor in pathways.csv.
    pub fn note(&self, s: &CalibrationSettings) -> String {
        format!(
            "calibrated: mean somatic EPSP {:.3} mV vs {:.3} mV target over {} connections (seed {}, {} test spikes every {} ms); \
             plastifit calibrate --pathways {} --connections {} --seed {} --test-spikes {}",
            self.mean_epsp_mv,
            self.target_epsp_mv,
            self.connections_used,
            s.seed,
            s.test_spikes,
            s.period_ms,
            self.pathway,
            s.connections,
            s.seed,
            s.test_spikes
        )
    }
}

/// Mean EPSP (mV) of the sample at a scale factor, with the same release
/// draws at every factor (common random numbers keep the search smooth).
fn sample_mean(
    cell: &CellModel,
    recipe: &PathwayRecipe,
    g: f64,
    s: &CalibrationSettings,
) -> Result<(f64, usize, Vec<String>)> {
    let conns = try_sample_connections(recipe, tree_extent(cell), s.connections, s.seed)?;
    let results: Vec<_> = conns
        .par_iter()
        .map(|c| {
            let seed = protocol_seed(c.release_seed, "calibration");
            mean_test_epsp(cell, c, g, s.period_ms, s.test_spikes, seed).map(|r| (c.id, r))
        })
        .collect::<Result<_>>()?;
    let epsps: Vec<f64> = results.iter().filter_map(|(_, r)| r.as_ref().ok().copied()).collect();
    let excluded = results
        .iter()
        .filter_map(|(id, r)| r.as_ref().err().map(|e| format!("connection {id}: {e}")))
        .collect();
    if epsps.is_empty() {
        return Err(Error::Config(format!(
            "pathway {}: no connection gave a test EPSP",
            recipe.pathway
        )));
    }
    Ok((epsps.iter().sum::<f64>() / epsps.len() as f64, epsps.len(), excluded))
}

/// Finds the factor by a secant search on log EPSP against log factor.
pub fn calibrate_g_scale(
    cell: &CellModel,
    recipe: &PathwayRecipe,
    s: &CalibrationSettings,
) -> Result<CalibrationResult> {
    let target = recipe.epsp_mv_mean;
    let mut g = recipe.g_scale;
    let mut iterations = Vec::new();
    let mut last: Option<(f64, f64)> = None;
    for _ in 0..s.max_iterations {
        let (mean, used, excluded) = sample_mean(cell, recipe, g, s)?;
        iterations.push((g, mean));
        if (mean - target).abs() <= s.tolerance * target {
            return Ok(CalibrationResult {
                pathway: recipe.pathway.clone(),
                target_epsp_mv: target,
                g_scale: g,
                mean_epsp_mv: mean,
                connections_used: used,
                excluded,
                iterations,
            });
        }
        // EPSP ∝ g^α locally; α = 1 until two points give a slope.
        let alpha = match last {
            Some((g0, e0)) if (g - g0).abs() > 1e-12 => ((mean / e0).ln() / (g / g0).ln()).clamp(0.3, 3.0),
            _ => 1.0,
        };
        last = Some((g, mean));
        g *= (target / mean).powf(1.0 / alpha);
    }
    Err(Error::Config(format!(
        "pathway {}: calibration did not reach {:.1} % of {target} mV in {} iterations ({iterations:?})",
        recipe.pathway,
        100.0 * s.tolerance,
        s.max_iterations
    )))
}
