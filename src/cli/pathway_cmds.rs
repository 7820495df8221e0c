//! `sample` and `calibrate`: connection samples and pathway conductance factors.

use super::data::{DataArgs, Datasets};
use super::output::{write_atomic, write_json};
use crate::pathway::{try_sample_connections, write_connections_csv, write_connections_json, ConnectionSample};
use crate::protocol::calibrate::{calibrate_g_scale, CalibrationSettings};
use crate::protocol::tree_extent;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Pathway to sample (e.g. L5TTPC-L5TTPC).
    #[arg(long)]
    pub pathway: String,
    #[arg(long, default_value_t = 100)]
    pub connections: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file: .json or .csv (format documented in datasets/README.md).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

pub fn sample(args: SampleArgs) -> anyhow::Result<()> {
    let data = Datasets::load(&args.data)?;
    let recipe = data.recipe(&args.pathway)?;
    let cell = data.cell(recipe)?;
    let connections = try_sample_connections(recipe, tree_extent(&cell), args.connections, args.seed)?;
    let sample = ConnectionSample {
        pathway: recipe.pathway.clone(),
        seed: Some(args.seed),
        connections,
    };
    let mut bytes = Vec::new();
    match args.out.extension().and_then(|e| e.to_str()) {
        Some("json") => write_connections_json(&mut bytes, &sample)?,
        Some("csv") => write_connections_csv(&mut bytes, &sample)?,
        _ => bail!("{}: the output file must end in .json or .csv", args.out.display()),
    }
    write_atomic(&args.out, &bytes)?;
    let synapses: usize = sample.connections.iter().map(|c| c.contacts.len()).sum();
    eprintln!(
        "wrote {} connections ({synapses} synapses) to {}",
        sample.connections.len(),
        args.out.display()
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Pathways to calibrate, comma-separated, or "all".
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub pathways: Vec<String>,
    #[arg(long, default_value_t = 100)]
    pub connections: usize,
    #[arg(long, default_value_t = 2022)]
    pub seed: u64,
    /// Test spikes per connection (one per shortest burst period of the pathway's protocols).
    #[arg(long, default_value_t = 30)]
    pub test_spikes: usize,
    /// Relative tolerance on the mean EPSP.
    #[arg(long, default_value_t = 0.02)]
    pub tolerance: f64,
    /// Output: the pathway table with the new factors (CSV), e.g. datasets/pathways.csv.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let data = Datasets::load(&args.data)?;
    let names: Vec<String> = if args.pathways == ["all"] {
        data.recipes.iter().map(|r| r.pathway.clone()).collect()
    } else {
        args.pathways.clone()
    };
    let mut recipes = data.recipes.clone();
    let mut results = Vec::new();
    for name in &names {
        let recipe = data.recipe(name)?;
        let cell = data.cell(recipe)?;
        let period_s = data
            .protocols
            .iter()
            .filter(|p| &p.pathway_id() == name)
            .map(|p| p.burst_period_s)
            .fold(f64::INFINITY, f64::min);
        let settings = CalibrationSettings {
            connections: args.connections,
            seed: args.seed,
            test_spikes: args.test_spikes,
            period_ms: if period_s.is_finite() {
                period_s * 1000.0
            } else {
                5000.0
            },
            tolerance: args.tolerance,
            max_iterations: 8,
        };
        let r = calibrate_g_scale(&cell, recipe, &settings)?;
        eprintln!(
            "{name}: g_scale {:.4} → mean EPSP {:.3} mV (target {:.3} mV, {} iterations)",
            r.g_scale,
            r.mean_epsp_mv,
            r.target_epsp_mv,
            r.iterations.len()
        );
        let row = recipes.iter_mut().find(|x| &x.pathway == name).expect("recipe exists");
        row.g_scale = r.g_scale;
        row.g_scale_note = r.note(&settings);
        results.push(r);
    }
    let mut bytes = Vec::new();
    crate::pathway::write_recipes(&mut bytes, &recipes)?;
    write_atomic(&args.out, &bytes)?;
    write_json(&args.out.with_extension("calibration.json"), &results)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
