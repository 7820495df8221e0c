//! `cell-report` and `calcium-report`.

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
