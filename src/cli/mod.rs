//! Command-line interface: parse, run, map errors to an exit code. Each
//! command is a thin layer over the library.

mod cell_cmds;
mod output;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "plastifit",
    version,
    about = "Refit calcium-based synaptic plasticity rules (Chindemi et al. 2022) to in-vitro data",
    long_about = "plastifit simulates the calcium-based plasticity model of Chindemi et al. (2022) on \
reduced pyramidal cells, runs the published in-vitro induction protocols on sampled connections, \
fits the rule's 11 parameters and validates them on held-out protocols. Every command writes its \
results into the folder given with --out or --run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Passive and active properties of a cell model (input resistance,
    /// time constant, rheobase, spike, bAP attenuation) → DIR/cell_report.json
    CellReport(cell_cmds::CellReportArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::CellReport(args) => cell_cmds::cell_report(args),
    }
}
