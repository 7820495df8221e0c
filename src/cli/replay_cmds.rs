//! `plastifit traces`, `evaluate` and `check-replay`: build a trace cache
//! for an objective, replay a candidate from it, and measure the replay
//! against the full engine on the same connections and seeds.

use super::data::{load_params, DataArgs, Datasets};
use super::output::{write_atomic, write_json};
use super::simulate::write_results;
use crate::objective::Objective;
use crate::protocol::{run_protocols, ProtocolJob, ProtocolResult, RunnerSettings};
use crate::replay::{dataset_hash, record_job, CacheIdentity, Replay, TraceCache, TraceSettings, FORMAT_VERSION};
use anyhow::{bail, Context};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CACHE_FILE: &str = "traces.json";

#[derive(Debug, Args)]
pub struct TracesArgs {
    /// Objective file (objectives/*.json): protocols, connection count, seed.
    #[arg(long)]
    pub objective: PathBuf,
    /// Output folder of the cache.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// A trace cache to read, and what to check it against.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Folder of a trace cache built by `plastifit traces` (or `import-traces`).
    #[arg(long)]
    pub traces: PathBuf,
    /// Objective to check the cache against (default: the file it was built from).
    #[arg(long)]
    pub objective: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

impl CacheArgs {
    /// The cache, checked against the objective and datasets, with the
    /// datasets and the jobs it was built for.
    fn load(&self) -> anyhow::Result<(TraceCache, Datasets, Vec<ProtocolJob>)> {
        load_checked(&self.traces, self.objective.as_deref(), &self.data)
    }
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Rule parameters: a JSON file of the 11 parameters, or "chindemi2022".
    #[arg(long, default_value = "chindemi2022")]
    pub params: String,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ExportTracesArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Output folder: manifest.json and per-connection CSV tables.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportTracesArgs {
    /// Folder with manifest.json and the CSV tables it names (see README.md,
    /// "Importing traces").
    #[arg(long)]
    pub from: PathBuf,
    /// Objective the traces were recorded for: its protocols, connections
    /// and seed must be those of the manifest.
    #[arg(long)]
    pub objective: PathBuf,
    /// Output folder of the cache (for `evaluate`, `check-replay`, `fit`).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

/// The identity a cache built now from `objective` and the datasets would have,
/// with the jobs it would run.
fn expected_identity(objective: &Objective, data: &Datasets) -> anyhow::Result<(CacheIdentity, Vec<ProtocolJob>)> {
    objective.check_protocols(&data.protocols)?;
    let protocols = data.select(&objective.protocol_ids())?;
    let jobs = data.jobs(
        &protocols,
        objective.connections_per_protocol,
        objective.sample_seed,
        None,
    )?;
    let mut datasets = BTreeMap::new();
    for (p, job) in protocols.iter().zip(&jobs) {
        let recipe = data.recipe(&p.pathway_id())?;
        datasets.insert(format!("protocol {}", p.protocol_id), dataset_hash(p));
        datasets.insert(format!("recipe {}", recipe.pathway), dataset_hash(recipe));
        let cell = crate::cell::load_cell(&recipe.post_cell)?;
        datasets.insert(format!("cell {}", recipe.post_cell), dataset_hash(&cell));
        datasets.insert(format!("connections {}", p.protocol_id), dataset_hash(&job.connections));
    }
    Ok((
        CacheIdentity {
            format_version: FORMAT_VERSION,
            objective: objective.name.clone(),
            protocols: objective.protocol_ids(),
            connections_per_protocol: objective.connections_per_protocol,
            sample_seed: objective.sample_seed,
            variant: objective.variant,
            datasets,
            settings: TraceSettings::default(),
        },
        jobs,
    ))
}

pub fn traces(args: TracesArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let objective = Objective::load(&args.objective)?;
    let data = Datasets::load(&args.data)?;
    build_cache(&objective, &args.objective, &data, &args.out)?;
    Ok(())
}

/// Simulates every connection of the objective once with plasticity frozen
/// and writes the cache (and its provenance) into `dir`.
fn build_cache(
    objective: &Objective,
    objective_file: &Path,
    data: &Datasets,
    dir: &Path,
) -> anyhow::Result<TraceCache> {
    let (identity, jobs) = expected_identity(objective, data)?;
    let runner = RunnerSettings::default();
    let total: usize = jobs.iter().map(|j| j.connections.len()).sum();
    let bar = super::progress_bar(total as u64, "connections traced");
    let mut protocols = Vec::new();
    let mut worst: f64 = 0.0;
    for job in &jobs {
        let (p, w) = record_job(job, &runner, &identity.settings, &|| bar.inc(1))?;
        worst = worst.max(w);
        protocols.push(p);
    }
    bar.finish_and_clear();
    let cache = TraceCache { identity, protocols };
    let bytes = serde_json::to_vec(&cache)?;
    write_atomic(&dir.join(CACHE_FILE), &bytes)?;
    write_json(
        &dir.join("config.json"),
        &serde_json::json!({
            "command": "traces",
            "objective_file": objective_file,
            "datasets": data.provenance(),
            "cache_bytes": bytes.len(),
            "stored_values": cache.stored_values(),
            "binning_check_max_relative_error": worst,
        }),
    )?;
    eprintln!(
        "wrote {} ({:.1} MB); binned c* vs engine c*: max relative error {worst:.2e}",
        dir.join(CACHE_FILE).display(),
        bytes.len() as f64 / 1e6
    );
    Ok(cache)
}

fn read_cache(dir: &Path) -> anyhow::Result<TraceCache> {
    let path = dir.join(CACHE_FILE);
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{}: not a trace cache", path.display()))
}

/// Refuses `cache` unless it was built from what `objective` and the
/// datasets give now, naming every difference.
fn check_identity(cache: &TraceCache, dir: &Path, objective: &Objective, data: &Datasets) -> anyhow::Result<()> {
    let (expected, _) = expected_identity(objective, data)?;
    let diff = cache.identity.differences(&expected);
    if !diff.is_empty() {
        bail!(
            "{} was built from other data than objective '{}' and the datasets now give; \
             rebuild it (delete the file, or run `plastifit traces`):\n  {}",
            dir.join(CACHE_FILE).display(),
            objective.name,
            diff.join("\n  ")
        );
    }
    cache.validate()?;
    Ok(())
}

/// The trace cache of an objective kept in `dir`: loaded and checked if
/// present, built otherwise.
pub fn cache_for(
    objective: &Objective,
    objective_file: &Path,
    data: &Datasets,
    dir: &Path,
) -> anyhow::Result<TraceCache> {
    if dir.join(CACHE_FILE).exists() {
        let cache = read_cache(dir)?;
        check_identity(&cache, dir, objective, data)?;
        eprintln!("using the trace cache in {}", dir.display());
        Ok(cache)
    } else {
        build_cache(objective, objective_file, data, dir)
    }
}

/// Loads a cache and refuses it unless it matches the objective and the
/// datasets as they are now.
fn load_checked(
    dir: &Path,
    objective: Option<&Path>,
    data: &DataArgs,
) -> anyhow::Result<(TraceCache, Datasets, Vec<ProtocolJob>)> {
    let cache = read_cache(dir)?;
    let objective_file = match objective {
        Some(p) => p.to_path_buf(),
        None => {
            let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)?;
            PathBuf::from(
                config["objective_file"]
                    .as_str()
                    .context("config.json names no objective file; pass --objective")?,
            )
        }
    };
    let objective = Objective::load(&objective_file)?;
    let datasets = Datasets::load(data)?;
    check_identity(&cache, dir, &objective, &datasets)?;
    let (_, jobs) = expected_identity(&objective, &datasets)?;
    Ok((cache, datasets, jobs))
}

pub fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let (cache, _, _) = args.cache.load()?;
    let rule = load_params(&args.params)?;
    let variant = cache.identity.variant;
    let replay = Replay::new(cache)?;
    let results = replay.evaluate(&rule, variant);
    write_results(&args.out, &results)?;
    write_json(
        &args.out.join("config.json"),
        &serde_json::json!({
            "command": "evaluate",
            "traces": args.cache.traces,
            "params": rule,
            "variant": variant,
        }),
    )?;
    eprintln!("wrote {}/summary.csv and connections.csv", args.out.display());
    Ok(())
}

fn means(results: &[ProtocolResult]) -> Vec<(String, f64, BTreeMap<usize, f64>)> {
    results
        .iter()
        .map(|r| {
            let by_id = r
                .outcomes
                .iter()
                .filter_map(|o| o.as_ref().ok())
                .map(|o| (o.connection_id, o.epsp_ratio))
                .collect();
            (r.protocol.protocol_id.clone(), r.summary().epsp_ratio_mean, by_id)
        })
        .collect()
}

pub fn check_replay(args: EvaluateArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let (cache, _, jobs) = args.cache.load()?;
    let rule = load_params(&args.params)?;
    let variant = cache.identity.variant;
    let replayed = Replay::new(cache)?.evaluate(&rule, variant);
    let settings = RunnerSettings {
        variant,
        ..RunnerSettings::default()
    };
    let total: usize = jobs.iter().map(|j| j.connections.len()).sum();
    let bar = super::progress_bar(total as u64, "connections (full engine)");
    let full = run_protocols(&jobs, &rule, &settings, &|| bar.inc(1))?;
    bar.finish_and_clear();
    write_results(&args.out.join("replay"), &replayed)?;
    write_results(&args.out.join("full"), &full)?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "protocol_id",
        "replay_mean",
        "full_mean",
        "abs_diff",
        "max_connection_abs_diff",
    ])?;
    for ((id, rm, rc), (_, fm, fc)) in means(&replayed).into_iter().zip(means(&full)) {
        let worst = rc
            .iter()
            .filter_map(|(k, r)| fc.get(k).map(|f| (r - f).abs()))
            .fold(0.0, f64::max);
        csv.write_record([
            id.clone(),
            format!("{rm}"),
            format!("{fm}"),
            format!("{}", (rm - fm).abs()),
            format!("{worst}"),
        ])?;
        println!(
            "{id:<10} replay {rm:.4} full {fm:.4} |diff| {:.4} worst connection {worst:.4}",
            (rm - fm).abs()
        );
    }
    write_atomic(&args.out.join("replay_vs_full.csv"), &csv.into_inner()?)?;
    eprintln!("wrote {}/replay_vs_full.csv", args.out.display());
    Ok(())
}

pub fn export_traces(args: ExportTracesArgs) -> anyhow::Result<()> {
    let (cache, _, _) = args.cache.load()?;
    crate::replay::export_traces(&cache, &args.out)?;
    eprintln!("wrote {}/{}", args.out.display(), crate::replay::MANIFEST_FILE);
    Ok(())
}

pub fn import_traces(args: ImportTracesArgs) -> anyhow::Result<()> {
    let objective = Objective::load(&args.objective)?;
    let data = Datasets::load(&args.data)?;
    let (identity, jobs) = expected_identity(&objective, &data)?;
    let test_spikes = RunnerSettings::default().test_spikes;
    let cache = crate::replay::import_traces(&args.from, identity, &jobs, test_spikes)?;
    let bytes = serde_json::to_vec(&cache)?;
    write_atomic(&args.out.join(CACHE_FILE), &bytes)?;
    write_json(
        &args.out.join("config.json"),
        &serde_json::json!({
            "command": "import-traces",
            "objective_file": args.objective,
            "imported_from": args.from,
            "datasets": data.provenance(),
            "cache_bytes": bytes.len(),
            "stored_values": cache.stored_values(),
        }),
    )?;
    eprintln!(
        "wrote {} ({:.1} MB)",
        args.out.join(CACHE_FILE).display(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
