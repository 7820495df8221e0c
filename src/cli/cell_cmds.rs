//! `cell-report` and `calcium-report`.

use super::data::{DataArgs, Datasets};
use super::output::write_json;
use crate::cell::{load_cell, CellModel};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CellReportArgs {
    /// Built-in cell name (e.g. L5TTPC) or path to a cell description JSON file.
    #[arg(long)]
    pub cell: String,
    /// Output folder; receives cell_report.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Simulation temperature (°C).
    #[arg(long, default_value_t = 37.0)]
    pub celsius: f64,
}

pub fn cell_report(args: CellReportArgs) -> anyhow::Result<()> {
    let desc = load_cell(&args.cell)?;
    let cell = CellModel::build(&desc, args.celsius)?;
    let report = crate::sim::cell_report(&cell)?;
    let path = args.out.join("cell_report.json");
    write_json(&path, &report)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[derive(Debug, Args)]
pub struct CalciumReportArgs {
    /// Pathway whose recipe gives the synapses (e.g. L5TTPC-L5TTPC).
    #[arg(long)]
    pub pathway: String,
    /// Synapses per measurement.
    #[arg(long, default_value_t = 200)]
    pub synapses: usize,
    /// Seed of the synapse sample and release draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder; receives calcium_report.json.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn calcium_report(args: CalciumReportArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let data = Datasets::load(&args.data)?;
    let recipe = data.recipe(&args.pathway)?;
    let cell = data.cell(recipe)?;
    let report = crate::protocol::calcium::calcium_report(&cell, recipe, args.synapses, args.seed)?;
    let path = args.out.join("calcium_report.json");
    write_json(&path, &report)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("wrote {}", path.display());
    Ok(())
}
