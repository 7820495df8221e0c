//! `plastifit fit`, `resume` and `best`: a multi-objective fit of an
//! objective, kept in a run folder (see [`super::run_folder`]).

use super::data::{DataArgs, Datasets};
use super::output::write_json;
use super::run_folder::{
    best_report, create_with, write_summaries, DataFiles, FitObserver, RunCheckpoint, RunConfig, RunFolder, Table,
    RUN_FORMAT,
};
use crate::objective::{
    training_protocols, EngineKind, FullEngine, Objective, ObjectiveEvaluator, ProtocolEngine, SyntheticEngine,
};
use crate::optim::{run, OptimiserConfig, OptimiserState, SelectorKind};
use crate::protocol::{InVitroProtocol, RunnerSettings};
use crate::synapse::PARAM_NAMES;
use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Objective file (see objectives/README.md).
    #[arg(long)]
    pub objective: PathBuf,
    /// Run folder to create (e.g. runs/NAME).
    #[arg(long)]
    pub run: PathBuf,
    /// Generations in all, the initial population included.
    #[arg(long, default_value_t = 100)]
    pub generations: u64,
    /// Offspring per generation (also the population size).
    #[arg(long, default_value_t = 128)]
    pub offspring: usize,
    /// Probability that a pair of parents is crossed over.
    #[arg(long, default_value_t = 0.3)]
    pub cxpb: f64,
    /// Probability that an offspring is mutated.
    #[arg(long, default_value_t = 0.7)]
    pub mutpb: f64,
    /// Selection scheme.
    #[arg(long, value_enum, default_value = "ibea")]
    pub algorithm: AlgorithmArg,
    /// Seed of the optimiser's random generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataArgs,
    /// Worker threads (default: all cores); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AlgorithmArg {
    Ibea,
    IbeaBluepyopt,
    Nsga2,
}

impl From<AlgorithmArg> for SelectorKind {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Ibea => SelectorKind::Ibea,
            AlgorithmArg::IbeaBluepyopt => SelectorKind::IbeaBluepyopt,
            AlgorithmArg::Nsga2 => SelectorKind::Nsga2,
        }
    }
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run folder made by `plastifit fit`.
    #[arg(long)]
    pub run: PathBuf,
    /// Generations to run beyond the checkpoint (default: up to the run's
    /// target, e.g. after an interruption).
    #[arg(long)]
    pub generations: Option<u64>,
    /// The objective file, if it moved (default: the path the run was started with).
    #[arg(long)]
    pub objective: Option<PathBuf>,
    /// Worker threads (default: all cores); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BestArgs {
    /// Run folder made by `plastifit fit`.
    #[arg(long)]
    pub run: PathBuf,
}

pub fn fit(args: FitArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let objective = Objective::load(&args.objective)?;
    let data_files = DataFiles {
        protocols_file: args.data.protocols_file.clone(),
        pathways_file: args.data.pathways_file.clone(),
    };
    let data = Datasets::load(&args.data)?;
    let optimiser = OptimiserConfig {
        offspring_size: args.offspring,
        cxpb: args.cxpb,
        mutpb: args.mutpb,
        selector: args.algorithm.into(),
        ..OptimiserConfig::default()
    };
    optimiser.validate()?;
    if args.generations == 0 {
        bail!("--generations must be at least 1");
    }
    let training = training_protocols(&objective, &data.protocols)?;
    let config = RunConfig {
        format: RUN_FORMAT,
        objective_file: args.objective.clone(),
        pathway_recipes: pathway_recipes(&data, &training)?,
        training_protocols: training,
        engine: objective.engine,
        objective,
        optimiser,
        seed: args.seed,
        generations: args.generations,
        datasets: data_files,
    };
    let folder = RunFolder::new(&args.run);
    if folder.config().exists() || folder.checkpoint().exists() {
        bail!(
            "{} already holds a run; continue it with `plastifit resume --run {}` or choose another folder",
            args.run.display(),
            args.run.display()
        );
    }
    let evaluator = build_evaluator(&config, &data, &folder)?;
    let state = OptimiserState::new(config.optimiser.clone(), &evaluator, config.seed)?;

    write_json(&folder.config(), &config)?;
    let history_bytes = create_with(&folder.history(), &Table { config: &config }.header())?;
    let log_bytes = create_with(&folder.log(), start_line(&config, "fit").as_bytes())?;
    let record = RunCheckpoint::fresh(args.generations, history_bytes, log_bytes, state);
    drive(&folder, &config, &evaluator, record)
}

pub fn resume(args: ResumeArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let folder = RunFolder::new(&args.run);
    let config = folder.read_config()?;
    let objective_file = args.objective.clone().unwrap_or_else(|| config.objective_file.clone());
    let current = Objective::load(&objective_file)?;
    if let Some(diff) = first_difference(
        "",
        &serde_json::to_value(&config.objective)?,
        &serde_json::to_value(&current)?,
    ) {
        bail!(
            "refusing to resume {}: the objective changed since the run started: field '{diff}' (in {})",
            args.run.display(),
            objective_file.display()
        );
    }
    let data = Datasets::load(&DataArgs {
        protocols_file: config.datasets.protocols_file.clone(),
        pathways_file: config.datasets.pathways_file.clone(),
    })?;
    let training = training_protocols(&current, &data.protocols)?;
    if let Some(diff) = first_difference(
        "",
        &serde_json::to_value(&config.training_protocols)?,
        &serde_json::to_value(&training)?,
    ) {
        bail!(
            "refusing to resume {}: the in-vitro data of the training protocols changed: \
             training_protocols field '{diff}'",
            args.run.display()
        );
    }
    let recipes = Value::Array(pathway_recipes(&data, &training)?);
    if let Some(diff) = first_difference("", &Value::Array(config.pathway_recipes.clone()), &recipes) {
        bail!(
            "refusing to resume {}: the pathway recipes of the training protocols changed: \
             pathway_recipes field '{diff}'",
            args.run.display()
        );
    }
    let evaluator = build_evaluator(&config, &data, &folder)?;

    let mut record = match folder.read_checkpoint()? {
        Some(ckpt) => {
            let saved = serde_json::to_value(ckpt.state.config())?;
            if let Some(diff) = first_difference("", &serde_json::to_value(&config.optimiser)?, &saved) {
                bail!(
                    "refusing to resume {}: config.json's optimiser settings differ from the checkpoint's: \
                     field 'optimiser.{diff}'",
                    args.run.display()
                );
            }
            folder.truncate(&folder.history(), ckpt.history_bytes)?;
            folder.truncate(&folder.log(), ckpt.log_bytes)?;
            write_summaries(&folder, &config, &ckpt)?;
            ckpt
        }
        None => {
            // Interrupted before the first generation finished: start again.
            let history_bytes = create_with(&folder.history(), &Table { config: &config }.header())?;
            let log_bytes = std::fs::metadata(folder.log()).map_or(0, |m| m.len());
            let state = OptimiserState::new(config.optimiser.clone(), &evaluator, config.seed)?;
            RunCheckpoint::fresh(config.generations, history_bytes, log_bytes, state)
        }
    };
    let at = record.state.generation();
    if let Some(more) = args.generations {
        record.target_generations = at + more;
    }
    if at >= record.target_generations {
        println!(
            "{} is at generation {at} of {}: nothing to do (pass --generations G to run G more)",
            args.run.display(),
            record.target_generations
        );
        return Ok(());
    }
    let line = format!(
        "resume at generation {at}, target {} generations\n",
        record.target_generations
    );
    record.log_bytes += append_line(&folder.log(), &line)?;
    drive(&folder, &config, &evaluator, record)
}

pub fn best(args: BestArgs) -> anyhow::Result<()> {
    let folder = RunFolder::new(&args.run);
    let config = folder.read_config()?;
    let Some(ckpt) = folder.read_checkpoint()? else {
        bail!("{}: no generation has finished yet", args.run.display());
    };
    let Some(best) = best_report(&config, &ckpt)? else {
        bail!(
            "{}: no successful evaluation in {} evaluations",
            args.run.display(),
            ckpt.state.evaluations()
        );
    };
    println!(
        "run {}: objective {} ({} engine), {} generations, {} evaluations",
        args.run.display(),
        config.objective.name,
        config.engine.name(),
        ckpt.state.generation(),
        ckpt.state.evaluations()
    );
    println!(
        "best (minimax over every evaluation): candidate {} of generation {}, max weighted error {}",
        best.candidate_id, best.generation, best.max_weighted_error
    );
    println!("parameters:");
    for (name, value) in PARAM_NAMES.iter().zip(best.parameters.values()) {
        println!("  {name:<12} {value}");
    }
    println!(
        "{:<10} {:>7} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "protocol", "weight", "error_sem", "weighted", "insilico", "invitro", "invitro_sem"
    );
    for p in &best.protocols {
        println!(
            "{:<10} {:>7} {:>12.6} {:>12.6} {:>12} {:>12.6} {:>12.6}",
            p.id,
            p.weight,
            p.error_sem,
            p.weighted_error,
            p.insilico_mean.map_or("-".to_string(), |m| format!("{m:.6}")),
            p.invitro_mean,
            p.invitro_sem
        );
    }
    println!("best is valid: {}", best.valid);
    println!(
        "valid candidates (every training error <= 1 SEM): {} of {} evaluated",
        best.valid_count,
        ckpt.state.evaluations()
    );
    Ok(())
}

/// The recipes of the protocols' pathways, each once, as JSON.
fn pathway_recipes(data: &Datasets, protocols: &[InVitroProtocol]) -> anyhow::Result<Vec<Value>> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for p in protocols {
        let pathway = p.pathway_id();
        if !seen.contains(&pathway) {
            out.push(serde_json::to_value(data.recipe(&pathway)?)?);
            seen.push(pathway);
        }
    }
    Ok(out)
}

/// The run's objective as an optimisation problem, on the engine it asks for.
fn build_evaluator(
    config: &RunConfig,
    data: &Datasets,
    folder: &RunFolder,
) -> anyhow::Result<ObjectiveEvaluator<Box<dyn ProtocolEngine>>> {
    let engine = build_engine(config, data, folder)?;
    Ok(ObjectiveEvaluator::new(&config.objective, &data.protocols, engine)?)
}

/// The engine an objective asks for.
fn build_engine(config: &RunConfig, data: &Datasets, folder: &RunFolder) -> anyhow::Result<Box<dyn ProtocolEngine>> {
    let o = &config.objective;
    Ok(match config.engine {
        EngineKind::Replay => {
            let cache = super::replay_cmds::cache_for(o, &config.objective_file, data, &folder.traces())?;
            let (lo, hi) = o.tau_star_range();
            Box::new(crate::replay::Replay::new(cache)?.gating_tau(lo, hi))
        }
        EngineKind::Full => {
            let jobs = data.jobs(
                &config.training_protocols,
                o.connections_per_protocol,
                o.sample_seed,
                None,
            )?;
            let settings = RunnerSettings {
                variant: o.variant,
                ..RunnerSettings::default()
            };
            Box::new(FullEngine::new(jobs, settings))
        }
        EngineKind::Synthetic => Box::new(SyntheticEngine::new(
            config.training_protocols.clone(),
            o.connections_per_protocol,
        )),
    })
}

/// Runs up to the record's target, keeping the run folder.
fn drive<E: ProtocolEngine>(
    folder: &RunFolder,
    config: &RunConfig,
    evaluator: &ObjectiveEvaluator<E>,
    record: RunCheckpoint,
) -> anyhow::Result<()> {
    let target = record.target_generations;
    let mut state = record.state.clone();
    let bar = indicatif::ProgressBar::new(target);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] generation {pos}/{len} {msg}")
            .expect("valid template"),
    );
    bar.set_position(state.generation());
    let mut observer = FitObserver {
        folder,
        config,
        evaluator,
        record,
        bar: bar.clone(),
        started: Instant::now(),
    };
    run(&mut state, evaluator, &mut observer, target)
        .with_context(|| format!("fitting in {}", folder.dir.display()))?;
    bar.finish_and_clear();
    let record = &observer.record;
    match &record.best {
        Some(best) => eprintln!(
            "{}: {} generations, {} evaluations, {} valid; best candidate {} (generation {}), max weighted error {}",
            folder.dir.display(),
            state.generation(),
            state.evaluations(),
            record.valid_count,
            best.individual.id,
            best.generation,
            crate::objective::max_weighted_error(&best.individual.errors, &config.objective.weights())
        ),
        None => eprintln!(
            "{}: {} generations, {} evaluations, none successful",
            folder.dir.display(),
            state.generation(),
            state.evaluations()
        ),
    }
    Ok(())
}

fn start_line(config: &RunConfig, command: &str) -> String {
    format!(
        "{command}: objective {} ({}), engine {}, selector {}, offspring {}, cxpb {}, mutpb {}, seed {}, target {} generations\n",
        config.objective.name,
        config.objective_file.display(),
        config.engine.name(),
        config.optimiser.selector,
        config.optimiser.offspring_size,
        config.optimiser.cxpb,
        config.optimiser.mutpb,
        config.seed,
        config.generations
    )
}

fn append_line(path: &Path, line: &str) -> anyhow::Result<u64> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(line.as_bytes())?;
    f.sync_data()?;
    Ok(line.len() as u64)
}

/// The first place where two JSON values differ, as a dotted path with the
/// two values (`"a.b[2]: 1 in the run, 2 now"`); `None` if equal.
pub fn first_difference(path: &str, run: &Value, now: &Value) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (run, now) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => first_difference(&join(k), x, y),
                (Some(x), None) => Some(format!("{}: {x} in the run, absent now", join(k))),
                (None, Some(y)) => Some(format!("{}: absent in the run, {y} now", join(k))),
                (None, None) => None,
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(&format!("{path}[{i}]"), x, y)),
        _ if run == now => None,
        _ => Some(format!("{path}: {run} in the run, {now} now")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_the_first_changed_field() {
        let a = json!({"x": 1, "p": {"a00": {"lower": 1.0, "upper": 5.0}}, "l": [1, 2]});
        assert_eq!(first_difference("", &a, &a.clone()), None);
        let mut b = a.clone();
        b["p"]["a00"]["upper"] = json!(6.0);
        assert_eq!(
            first_difference("", &a, &b).unwrap(),
            "p.a00.upper: 5.0 in the run, 6.0 now"
        );
        let mut b = a.clone();
        b["l"] = json!([1, 3]);
        assert_eq!(first_difference("", &a, &b).unwrap(), "l[1]: 2 in the run, 3 now");
        let mut b = a.clone();
        b["l"] = json!([1]);
        assert!(first_difference("", &a, &b).unwrap().starts_with("l: [1,2] in the run"));
        let mut b = a.clone();
        b.as_object_mut().unwrap().remove("x");
        assert_eq!(first_difference("", &a, &b).unwrap(), "x: 1 in the run, absent now");
    }
}
