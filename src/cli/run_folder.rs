//! The files of a fit's run folder and the observer that keeps them.
//!
//! ```text
//! config.json      the resolved configuration (objective, optimiser, seed, engine, datasets)
//! checkpoint.json  everything needed to continue, replaced atomically every generation
//! history.csv      every evaluated candidate, appended every generation
//! pareto.csv       the hall of fame (non-dominated set), replaced every generation
//! best.json        the minimax best over the whole history, replaced every generation
//! log.txt          one line per generation
//! traces/          the trace cache of the replay engine (built once, checked on resume)
//! ```
//!
//! Consistency after a kill: each generation first appends its rows to
//! history.csv and its line to log.txt (flushed to disk), then replaces
//! checkpoint.json, which records how many bytes of history.csv and log.txt
//! belong to the checkpointed generations, then replaces pareto.csv and
//! best.json. Resuming truncates history.csv and log.txt to the recorded
//! lengths (dropping the rows of an unfinished generation, even a partly
//! written row) and rewrites pareto.csv and best.json from the checkpoint,
//! then runs that generation again, which, evaluation being deterministic,
//! appends exactly the rows it would have.

use super::output::{write_atomic, write_json};
use crate::objective::{max_weighted_error, EngineKind, Objective, ObjectiveEvaluator, ProtocolEngine};
use crate::optim::{minimax_best, GenerationReport, Individual, Observer, OptimiserConfig, OptimiserState};
use crate::protocol::InVitroProtocol;
use crate::synapse::{RuleParams, PARAM_NAMES};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Version of config.json and checkpoint.json.
pub const RUN_FORMAT: u32 = 1;

/// Where the datasets of a run come from (`None`: the built-in copy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFiles {
    pub protocols_file: Option<PathBuf>,
    pub pathways_file: Option<PathBuf>,
}

/// config.json: everything that defines a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub format: u32,
    /// The objective file the run was started from (resume compares it with
    /// `objective`).
    pub objective_file: PathBuf,
    pub objective: Objective,
    pub optimiser: OptimiserConfig,
    pub seed: u64,
    pub engine: EngineKind,
    /// Generations requested when the run was started (the initial
    /// population counts as one).
    pub generations: u64,
    pub datasets: DataFiles,
    /// The in-vitro rows of the training protocols, in objective order.
    pub training_protocols: Vec<InVitroProtocol>,
    /// The recipes of the training protocols' pathways (rows of the
    /// pathways table), in order of first use.
    pub pathway_recipes: Vec<serde_json::Value>,
}

/// An evaluated candidate with what the optimiser does not keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub generation: u64,
    pub individual: Individual,
    /// In-silico mean per protocol (`None` if the evaluation failed).
    pub insilico_means: Option<Vec<f64>>,
}

/// checkpoint.json: the optimiser state and the run's own records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCheckpoint {
    pub format: u32,
    /// Generation count the run is heading for.
    pub target_generations: u64,
    /// Bytes of history.csv and log.txt written by the checkpointed generations.
    pub history_bytes: u64,
    pub log_bytes: u64,
    pub history_rows: u64,
    /// Valid candidates (every error ≤ 1 SEM) over the whole history.
    pub valid_count: u64,
    /// Minimax best over the whole history (failed evaluations excluded).
    pub best: Option<Candidate>,
    /// The hall of fame with generations and means, in the state's order.
    pub front: Vec<Candidate>,
    pub state: OptimiserState,
}

impl RunCheckpoint {
    /// A run before its first generation, with the bytes already in
    /// history.csv (its header) and log.txt.
    pub fn fresh(target_generations: u64, history_bytes: u64, log_bytes: u64, state: OptimiserState) -> Self {
        RunCheckpoint {
            format: RUN_FORMAT,
            target_generations,
            history_bytes,
            log_bytes,
            history_rows: 0,
            valid_count: 0,
            best: None,
            front: Vec::new(),
            state,
        }
    }
}

/// One protocol's line of best.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestProtocol {
    pub id: String,
    pub weight: f64,
    pub error_sem: f64,
    pub weighted_error: f64,
    pub insilico_mean: Option<f64>,
    pub invitro_mean: f64,
    pub invitro_sem: f64,
}

/// best.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestReport {
    pub objective: String,
    pub generation: u64,
    pub candidate_id: u64,
    pub parameters: RuleParams,
    pub protocols: Vec<BestProtocol>,
    pub max_weighted_error: f64,
    pub valid: bool,
    /// Valid candidates over the whole history.
    pub valid_count: u64,
    pub evaluations: u64,
    pub generations: u64,
}

/// Paths of a run folder.
#[derive(Debug, Clone)]
pub struct RunFolder {
    pub dir: PathBuf,
}

impl RunFolder {
    pub fn new(dir: &Path) -> Self {
        RunFolder { dir: dir.to_path_buf() }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.json")
    }
    pub fn history(&self) -> PathBuf {
        self.dir.join("history.csv")
    }
    pub fn pareto(&self) -> PathBuf {
        self.dir.join("pareto.csv")
    }
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.json")
    }
    pub fn traces(&self) -> PathBuf {
        self.dir.join("traces")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("log.txt")
    }

    pub fn read_config(&self) -> anyhow::Result<RunConfig> {
        let path = self.config();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: not a run folder (cannot read config.json)", self.dir.display()))?;
        let config: RunConfig = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid run configuration", path.display()))?;
        if config.format != RUN_FORMAT {
            bail!(
                "{}: run format {} (this build reads format {RUN_FORMAT})",
                path.display(),
                config.format
            );
        }
        Ok(config)
    }

    /// The checkpoint, or `None` if the first generation never finished.
    pub fn read_checkpoint(&self) -> anyhow::Result<Option<RunCheckpoint>> {
        let path = self.checkpoint();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let ckpt: RunCheckpoint =
            serde_json::from_str(&text).with_context(|| format!("{}: not a valid checkpoint", path.display()))?;
        if ckpt.format != RUN_FORMAT {
            bail!(
                "{}: checkpoint format {} (this build reads format {RUN_FORMAT})",
                path.display(),
                ckpt.format
            );
        }
        Ok(Some(ckpt))
    }

    /// Cuts `path` back to `len` bytes (refusing if it is shorter).
    pub fn truncate(&self, path: &Path, len: u64) -> anyhow::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let actual = file.metadata()?.len();
        if actual < len {
            bail!(
                "{} holds {actual} bytes but the checkpoint records {len}: the run folder is damaged",
                path.display()
            );
        }
        file.set_len(len)?;
        file.sync_all()?;
        Ok(())
    }
}

/// Appends and flushes to disk; returns the bytes written.
fn append(path: &Path, bytes: &[u8]) -> anyhow::Result<u64> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    f.sync_data().with_context(|| format!("writing {}", path.display()))?;
    Ok(bytes.len() as u64)
}

/// Creates a file holding `bytes`, flushed to disk.
pub fn create_with(path: &Path, bytes: &[u8]) -> anyhow::Result<u64> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(bytes.len() as u64)
}

/// Formats history.csv and pareto.csv rows.
pub struct Table<'a> {
    pub config: &'a RunConfig,
}

impl Table<'_> {
    pub fn header(&self) -> Vec<u8> {
        let ids = self.config.objective.protocol_ids();
        let mut fields: Vec<String> = vec!["generation".into(), "candidate_id".into()];
        fields.extend(PARAM_NAMES.iter().map(|n| n.to_string()));
        fields.extend(ids.iter().map(|id| format!("error_sem_{id}")));
        fields.extend(ids.iter().map(|id| format!("insilico_mean_{id}")));
        fields.extend(["max_weighted_error".into(), "valid".into(), "failure".into()]);
        csv_bytes(std::iter::once(fields))
    }

    pub fn rows<'c>(&self, candidates: impl IntoIterator<Item = &'c Candidate>) -> anyhow::Result<Vec<u8>> {
        let weights = self.config.objective.weights();
        let records = candidates
            .into_iter()
            .map(|c| {
                let ind = &c.individual;
                let params = self.config.objective.params(&ind.values)?;
                let mut fields = vec![c.generation.to_string(), ind.id.to_string()];
                fields.extend(params.values().iter().map(|v| v.to_string()));
                fields.extend(ind.errors.iter().map(|e| e.to_string()));
                match &c.insilico_means {
                    Some(means) => fields.extend(means.iter().map(|m| m.to_string())),
                    None => fields.extend(ind.errors.iter().map(|_| String::new())),
                }
                fields.push(max_weighted_error(&ind.errors, &weights).to_string());
                fields.push(ind.is_valid().to_string());
                fields.push(ind.failure.clone().unwrap_or_default());
                Ok(fields)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(csv_bytes(records))
    }
}

fn csv_bytes(records: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(&r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// best.json's content, from a checkpoint.
pub fn best_report(config: &RunConfig, ckpt: &RunCheckpoint) -> anyhow::Result<Option<BestReport>> {
    let Some(best) = &ckpt.best else {
        return Ok(None);
    };
    let ind = &best.individual;
    let weights = config.objective.weights();
    let protocols = config
        .objective
        .protocols
        .iter()
        .zip(&config.training_protocols)
        .enumerate()
        .map(|(k, (p, row))| BestProtocol {
            id: p.id.clone(),
            weight: p.weight,
            error_sem: ind.errors[k],
            weighted_error: p.weight * ind.errors[k],
            insilico_mean: best.insilico_means.as_ref().map(|m| m[k]),
            invitro_mean: row.epsp_ratio_mean,
            invitro_sem: row.epsp_ratio_sem,
        })
        .collect();
    Ok(Some(BestReport {
        objective: config.objective.name.clone(),
        generation: best.generation,
        candidate_id: ind.id,
        parameters: config.objective.params(&ind.values)?,
        protocols,
        max_weighted_error: max_weighted_error(&ind.errors, &weights),
        valid: ind.is_valid(),
        valid_count: ckpt.valid_count,
        evaluations: ckpt.state.evaluations(),
        generations: ckpt.state.generation(),
    }))
}

/// Replaces pareto.csv and best.json with the checkpoint's.
pub fn write_summaries(folder: &RunFolder, config: &RunConfig, ckpt: &RunCheckpoint) -> anyhow::Result<()> {
    let table = Table { config };
    let mut pareto = table.header();
    pareto.extend(table.rows(&ckpt.front)?);
    write_atomic(&folder.pareto(), &pareto)?;
    if let Some(report) = best_report(config, ckpt)? {
        write_json(&folder.best(), &report)?;
    }
    Ok(())
}

/// Keeps the run folder after every generation (see the module notes for
/// the order of writes) and shows progress.
pub struct FitObserver<'a, E> {
    pub folder: &'a RunFolder,
    pub config: &'a RunConfig,
    pub evaluator: &'a ObjectiveEvaluator<E>,
    /// The records of the last checkpointed generation (its `state` is
    /// replaced by the state observed).
    pub record: RunCheckpoint,
    pub bar: indicatif::ProgressBar,
    pub started: Instant,
}

impl<E: ProtocolEngine> FitObserver<'_, E> {
    fn advance(&mut self, report: &GenerationReport, state: &OptimiserState) -> anyhow::Result<()> {
        let generation = report.summary.generation;
        let evaluated: Vec<Candidate> = report
            .evaluated
            .iter()
            .map(|ind| Candidate {
                generation,
                individual: ind.clone(),
                insilico_means: if ind.failed() {
                    None
                } else {
                    self.evaluator.insilico_means(&ind.values)
                },
            })
            .collect();
        self.evaluator.forget_means();

        let weights = self.config.objective.weights();
        let record = &mut self.record;
        record.history_bytes += append(&self.folder.history(), &Table { config: self.config }.rows(&evaluated)?)?;
        record.history_rows += evaluated.len() as u64;
        record.valid_count += evaluated.iter().filter(|c| c.individual.is_valid()).count() as u64;

        let contenders: Vec<&Candidate> = record
            .best
            .iter()
            .chain(evaluated.iter().filter(|c| !c.individual.failed()))
            .collect();
        if let Some(i) = minimax_best(contenders.iter().map(|c| c.individual.errors.as_slice()), &weights)? {
            record.best = Some(contenders[i].clone());
        }

        let front: Vec<Candidate> = state
            .hall_of_fame()
            .members()
            .iter()
            .map(|m| {
                record
                    .front
                    .iter()
                    .chain(&evaluated)
                    .find(|c| c.individual.id == m.id)
                    .cloned()
                    .expect("a hall of fame member was evaluated in this or an earlier generation")
            })
            .collect();
        record.front = front;

        let best_error = record
            .best
            .as_ref()
            .map(|b| max_weighted_error(&b.individual.errors, &weights));
        let s = &report.summary;
        let line = format!(
            "generation {generation}: {} evaluated ({} failed, {} valid), {} evaluations, hall of fame {}, \
             best max weighted error {}, {} valid in all, {:.3} s\n",
            s.evaluated,
            s.failed,
            s.valid,
            s.total_evaluations,
            s.hall_of_fame_size,
            best_error.map_or("none".to_string(), |e| format!("{e:.6}")),
            record.valid_count,
            self.started.elapsed().as_secs_f64()
        );
        record.log_bytes += append(&self.folder.log(), line.as_bytes())?;

        record.state = state.clone();
        write_json(&self.folder.checkpoint(), &*record)?;
        write_summaries(self.folder, self.config, record)?;

        self.bar.set_position(state.generation());
        self.bar.set_message(format!(
            "evaluations {}, best max error {}, valid {}",
            s.total_evaluations,
            best_error.map_or("-".to_string(), |e| format!("{e:.4}")),
            record.valid_count
        ));
        Ok(())
    }
}

impl<E: ProtocolEngine> Observer for FitObserver<'_, E> {
    fn observe(&mut self, report: &GenerationReport, state: &OptimiserState) -> crate::Result<()> {
        self.advance(report, state).map_err(|e| crate::Error::File {
            file: self.folder.dir.clone(),
            problem: format!("{e:#}"),
        })
    }
}
