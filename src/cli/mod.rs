//! Command-line interface: parse, run, map errors to an exit code. Each
//! command is a thin layer over the library.

mod cell_cmds;
mod data;
mod fit;
mod map;
mod output;
mod pathway_cmds;
mod replay_cmds;
mod run_folder;
mod simulate;
mod validate;

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
    /// Spine calcium transients of single synapses (EPSP, bAP, ±10 ms
    /// pairing) against Sabatini et al. 2002 → DIR/calcium_report.json
    CalciumReport(cell_cmds::CalciumReportArgs),
    /// Sample connections of a pathway (correlated synapse parameters) → FILE.json or FILE.csv
    Sample(pathway_cmds::SampleArgs),
    /// Calibrate each pathway's AMPA conductance factor to its literature EPSP → pathways CSV
    Calibrate(pathway_cmds::CalibrateArgs),
    /// Sampled connections through in-vitro protocols by full simulation →
    /// DIR/connections.csv, DIR/summary.csv, DIR/config.json
    Simulate(simulate::SimulateArgs),
    /// Multi-objective fit of the rule's parameters to an objective →
    /// RUN/config.json, checkpoint.json, history.csv, pareto.csv, best.json,
    /// log.txt
    Fit(fit::FitArgs),
    /// Continue a fit from its checkpoint (refuses a changed objective or
    /// changed data)
    Resume(fit::ResumeArgs),
    /// Print a fit's best solution, its per-protocol errors and the number
    /// of valid candidates
    Best(fit::BestArgs),
    /// Simulate every protocol and connection of an objective once with
    /// plasticity frozen and store what replay needs → DIR/traces.json
    Traces(replay_cmds::TracesArgs),
    /// Replay one candidate from a trace cache → DIR/connections.csv,
    /// DIR/summary.csv (the columns of `simulate`)
    Evaluate(replay_cmds::EvaluateArgs),
    /// Replay and full engine on the cache's connections and seeds →
    /// DIR/replay_vs_full.csv, DIR/replay/, DIR/full/
    CheckReplay(replay_cmds::EvaluateArgs),
    /// Write a trace cache as open tables → DIR/manifest.json and
    /// per-connection CSV (the format `import-traces` reads)
    ExportTraces(replay_cmds::ExportTracesArgs),
    /// Build a trace cache from traces recorded elsewhere (manifest.json and
    /// CSV tables; e.g. NEURON's GluSynapse cai_CR) → DIR/traces.json
    ImportTraces(replay_cmds::ImportTracesArgs),
    /// A rule (a run's best, or given parameters) on newly sampled
    /// connections under held-out protocols: Welch tests against the
    /// in-vitro data, figures, in-vivo calcium → DIR/validation.csv,
    /// DIR/report.html, DIR/report.md, DIR/*.svg
    Validate(validate::ValidateArgs),
    /// EPSP ratio over pairing frequency × spike timing for a pathway (or
    /// every pathway: the plasticitome) → DIR/map.csv, DIR/map_PATHWAY.svg,
    /// DIR/report.html
    Map(map::MapArgs),
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
        Command::CalciumReport(args) => cell_cmds::calcium_report(args),
        Command::Sample(args) => pathway_cmds::sample(args),
        Command::Calibrate(args) => pathway_cmds::calibrate(args),
        Command::Simulate(args) => simulate::simulate(args),
        Command::Fit(args) => fit::fit(args),
        Command::Resume(args) => fit::resume(args),
        Command::Best(args) => fit::best(args),
        Command::Traces(args) => replay_cmds::traces(args),
        Command::Evaluate(args) => replay_cmds::evaluate(args),
        Command::CheckReplay(args) => replay_cmds::check_replay(args),
        Command::ExportTraces(args) => replay_cmds::export_traces(args),
        Command::ImportTraces(args) => replay_cmds::import_traces(args),
        Command::Validate(args) => validate::validate(args),
        Command::Map(args) => map::map(args),
    }
}

/// Sizes the global thread pool (once per process).
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    }
    Ok(())
}

/// A progress bar on standard error (hidden when it is not a terminal).
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} (eta {{eta}})"
    ))
    .expect("valid template");
    bar.set_style(style);
    bar
}
