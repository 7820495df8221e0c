//! `plastifit simulate`: sampled connections through in-vitro protocols by
//! full simulation → connections.csv and summary.csv.

use super::data::{load_params, Datasets};
use super::output::{write_atomic, write_json};
use crate::protocol::{run_protocols, ProtocolResult, RunnerSettings};
use crate::synapse::RuleVariant;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Protocol ids, comma-separated (e.g. mrk97_07,mrk97_08), or "all".
    #[arg(long, value_delimiter = ',', required = true)]
    pub protocols: Vec<String>,
    /// Connections sampled per protocol.
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// Seed of the connection sample and of every release draw.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Rule parameters: a JSON file of the 11 parameters, or "chindemi2022".
    #[arg(long, default_value = "chindemi2022")]
    pub params: String,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Extracellular calcium (mM) for every protocol instead of each row's own.
    #[arg(long)]
    pub cao: Option<f64>,
    /// Use these connections (JSON or CSV from `plastifit sample`) instead of sampling.
    #[arg(long)]
    pub connections_file: Option<PathBuf>,
    #[command(flatten)]
    pub data: super::data::DataArgs,
    /// Depression term: paper ([c* > θd]) or exclusive ([θd < c* ≤ θp]).
    #[arg(long, value_enum, default_value = "paper")]
    pub variant: VariantArg,
    /// Simulate the slow settling of ρ after induction instead of jumping to it.
    #[arg(long)]
    pub no_fast_forward: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum VariantArg {
    Paper,
    Exclusive,
}

impl From<VariantArg> for RuleVariant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Paper => RuleVariant::Paper,
            VariantArg::Exclusive => RuleVariant::Exclusive,
        }
    }
}

pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let data = Datasets::load(&args.data)?;
    let protocols = data.select(&args.protocols)?;
    let rule = load_params(&args.params)?;
    let settings = RunnerSettings {
        variant: args.variant.into(),
        fast_forward: !args.no_fast_forward,
        cao_override_mm: args.cao,
        ..RunnerSettings::default()
    };
    let jobs = data.jobs(
        &protocols,
        args.connections,
        args.seed,
        args.connections_file.as_deref(),
    )?;
    let total: usize = jobs.iter().map(|j| j.connections.len()).sum();
    let bar = super::progress_bar(total as u64, "connections");
    let results = run_protocols(&jobs, &rule, &settings, &|| bar.inc(1))?;
    bar.finish_and_clear();
    write_results(&args.out, &results)?;
    write_json(
        &args.out.join("config.json"),
        &serde_json::json!({
            "command": "simulate",
            "protocols": protocols.iter().map(|p| &p.protocol_id).collect::<Vec<_>>(),
            "connections": args.connections,
            "seed": args.seed,
            "params": rule,
            "cao_mm_override": args.cao,
            "connections_file": args.connections_file,
            "variant": RuleVariant::from(args.variant),
            "fast_forward": !args.no_fast_forward,
            "datasets": data.provenance(),
        }),
    )?;
    print_summary(&results);
    eprintln!("wrote {}/summary.csv and connections.csv", args.out.display());
    Ok(())
}

/// Writes connections.csv and summary.csv.
pub fn write_results(out: &std::path::Path, results: &[ProtocolResult]) -> anyhow::Result<()> {
    let mut conns = csv::Writer::from_writer(Vec::new());
    let mut summary = csv::Writer::from_writer(Vec::new());
    for r in results {
        for row in r.connection_rows() {
            conns.serialize(row)?;
        }
        summary.serialize(r.summary())?;
    }
    write_atomic(&out.join("connections.csv"), &conns.into_inner()?)?;
    write_atomic(&out.join("summary.csv"), &summary.into_inner()?)?;
    Ok(())
}

fn print_summary(results: &[ProtocolResult]) {
    println!(
        "{:<10} {:<16} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "protocol", "pathway", "n", "mean", "sem", "invitro", "sem", "err_sem"
    );
    for r in results {
        let s = r.summary();
        println!(
            "{:<10} {:<16} {:>4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.3}",
            s.protocol_id,
            s.pathway,
            s.n_connections,
            s.epsp_ratio_mean,
            s.epsp_ratio_sem,
            s.invitro_mean,
            s.invitro_sem,
            s.error_sem
        );
    }
}
