//! Many connections through many protocols, in parallel, with the
//! per-protocol summary of SPEC §6.

use super::runner::{run_connection, ConnectionOutcome, Exclusion, RunnerSettings};
use super::stimulus::{find_spike_stimulus, AmplitudeGrid, SpikeStimulus};
use super::table::InVitroProtocol;
use crate::cell::{CellModel, SectionTree};
use crate::pathway::{try_sample_connections, Connection, PathwayRecipe, TreeExtent};
use crate::synapse::RuleParams;
use crate::Result;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

/// One protocol with the connections to run it on.
#[derive(Debug, Clone)]
pub struct ProtocolJob {
    pub protocol: InVitroProtocol,
    pub pathway: String,
    pub g_scale: f64,
    pub cell: Arc<CellModel>,
    pub connections: Vec<Connection>,
}

/// Path-distance extent of a cell's trees, for placing sampled contacts.
pub fn tree_extent(cell: &CellModel) -> TreeExtent {
    let basal = cell.tree_extent(SectionTree::Basal).map_or(0.0, |e| e.1);
    match cell.tree_extent(SectionTree::Apical) {
        Some((lo, hi)) => TreeExtent {
            basal_max_um: basal,
            apical_min_um: lo,
            apical_max_um: hi,
        },
        None => TreeExtent::without_apical(basal),
    }
}

impl ProtocolJob {
    /// A job on `n` connections sampled from the recipe with `seed`.
    pub fn sampled(
        protocol: &InVitroProtocol,
        recipe: &PathwayRecipe,
        cell: Arc<CellModel>,
        n: usize,
        seed: u64,
    ) -> Result<Self> {
        let connections = try_sample_connections(recipe, tree_extent(&cell), n, seed)?;
        Ok(ProtocolJob {
            protocol: protocol.clone(),
            pathway: recipe.pathway.clone(),
            g_scale: recipe.g_scale,
            cell,
            connections,
        })
    }
}

/// Per-connection results of one protocol.
#[derive(Debug, Clone)]
pub struct ProtocolResult {
    pub protocol: InVitroProtocol,
    pub pathway: String,
    pub outcomes: Vec<std::result::Result<ConnectionOutcome, Exclusion>>,
}

/// A row of connections.csv.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRow<'a> {
    pub protocol_id: &'a str,
    pub pathway: &'a str,
    pub connection_id: usize,
    pub synapses: Option<usize>,
    pub apical_fraction: Option<f64>,
    pub baseline_epsp_mv: Option<f64>,
    pub after_epsp_mv: Option<f64>,
    pub baseline_slope_mv_per_ms: Option<f64>,
    pub after_slope_mv_per_ms: Option<f64>,
    pub epsp_ratio: Option<f64>,
    pub flipped_up: Option<usize>,
    pub flipped_down: Option<usize>,
    pub excluded_reason: Option<&'a str>,
}

/// A row of summary.csv.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub protocol_id: String,
    pub pathway: String,
    pub n_connections: usize,
    pub n_excluded: usize,
    pub epsp_ratio_mean: f64,
    pub epsp_ratio_sem: f64,
    pub invitro_mean: f64,
    pub invitro_sem: f64,
    pub error_sem: f64,
}

impl ProtocolResult {
    pub fn ratios(&self) -> Vec<f64> {
        self.outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|o| o.epsp_ratio)
            .collect()
    }

    pub fn summary(&self) -> SummaryRow {
        let r = self.ratios();
        let n = r.len();
        let mean = r.iter().sum::<f64>() / n as f64;
        let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt();
        SummaryRow {
            protocol_id: self.protocol.protocol_id.clone(),
            pathway: self.pathway.clone(),
            n_connections: n,
            n_excluded: self.outcomes.len() - n,
            epsp_ratio_mean: mean,
            epsp_ratio_sem: sd / (n as f64).sqrt(),
            invitro_mean: self.protocol.epsp_ratio_mean,
            invitro_sem: self.protocol.epsp_ratio_sem,
            error_sem: (mean - self.protocol.epsp_ratio_mean).abs() / self.protocol.epsp_ratio_sem,
        }
    }

    pub fn connection_rows(&self) -> Vec<ConnectionRow<'_>> {
        self.outcomes
            .iter()
            .map(|o| {
                let base = ConnectionRow {
                    protocol_id: &self.protocol.protocol_id,
                    pathway: &self.pathway,
                    connection_id: 0,
                    synapses: None,
                    apical_fraction: None,
                    baseline_epsp_mv: None,
                    after_epsp_mv: None,
                    baseline_slope_mv_per_ms: None,
                    after_slope_mv_per_ms: None,
                    epsp_ratio: None,
                    flipped_up: None,
                    flipped_down: None,
                    excluded_reason: None,
                };
                match o {
                    Ok(c) => ConnectionRow {
                        connection_id: c.connection_id,
                        synapses: Some(c.synapses),
                        apical_fraction: Some(c.apical_fraction),
                        baseline_epsp_mv: Some(c.baseline_epsp_mv),
                        after_epsp_mv: Some(c.after_epsp_mv),
                        baseline_slope_mv_per_ms: Some(c.baseline_slope_mv_per_ms),
                        after_slope_mv_per_ms: Some(c.after_slope_mv_per_ms),
                        epsp_ratio: Some(c.epsp_ratio),
                        flipped_up: Some(c.flipped_up),
                        flipped_down: Some(c.flipped_down),
                        ..base
                    },
                    Err(e) => ConnectionRow {
                        connection_id: e.connection_id,
                        excluded_reason: Some(&e.reason),
                        ..base
                    },
                }
            })
            .collect()
    }
}

/// Stimuli of a job: the burst's train and a lone spike; an error string
/// when the cell cannot be made to fire as the protocol needs.
fn job_stimuli(job: &ProtocolJob) -> Result<std::result::Result<(SpikeStimulus, SpikeStimulus), String>> {
    let rest = job.cell.resting_state()?;
    let grid = AmplitudeGrid::default();
    let p = &job.protocol;
    let found = find_spike_stimulus(&job.cell, &rest, p.stimuli_per_burst as usize, p.frequency_hz, &grid)
        .and_then(|train| Ok((train, find_spike_stimulus(&job.cell, &rest, 1, p.frequency_hz, &grid)?)));
    Ok(found.map_err(|e| e.to_string()))
}

/// Runs every connection of every job in parallel; `tick` is called once
/// per finished connection. Results keep the jobs' and connections' order.
pub fn run_protocols(
    jobs: &[ProtocolJob],
    rule: &RuleParams,
    settings: &RunnerSettings,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<ProtocolResult>> {
    let stimuli: Vec<_> = jobs.par_iter().map(job_stimuli).collect::<Result<_>>()?;
    let tasks: Vec<(usize, &Connection)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| job.connections.iter().map(move |c| (j, c)))
        .collect();
    let outcomes: Vec<_> = tasks
        .par_iter()
        .map(|&(j, conn)| {
            let job = &jobs[j];
            let out = match &stimuli[j] {
                Ok((train, single)) => run_connection(
                    &job.cell,
                    conn,
                    job.g_scale,
                    &job.protocol,
                    rule,
                    train,
                    single,
                    settings,
                ),
                Err(reason) => Ok(Err(Exclusion {
                    connection_id: conn.id,
                    reason: format!("postsynaptic stimulus: {reason}"),
                })),
            };
            tick();
            out
        })
        .collect::<Result<_>>()?;
    let mut outcomes = outcomes.into_iter();
    Ok(jobs
        .iter()
        .map(|job| ProtocolResult {
            protocol: job.protocol.clone(),
            pathway: job.pathway.clone(),
            outcomes: outcomes.by_ref().take(job.connections.len()).collect(),
        })
        .collect())
}
