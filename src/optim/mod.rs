//! Multi-objective evolutionary search over a parameter box.
//!
//! The optimiser sees only an [`Evaluator`]: bounds, objective names and a
//! function from parameter values to errors. A run is an [`OptimiserState`]
//! (serialisable, and everything needed to continue) advanced one generation
//! at a time by [`step`]; an [`Observer`] receives every evaluated candidate
//! and a summary per generation, and is where history files, progress
//! displays and checkpoints ([`write_checkpoint`]) are written from.
//!
//! The loop follows BluePyOpt's `eaAlphaMuPlusLambdaCheckpoint`: variation
//! as DEAP's `varAnd` with bounded simulated binary crossover and bounded
//! polynomial mutation ([`variation`]), and a selector ([`selection`]): IBEA
//! after Zitzler & Künzli, IBEA as BluePyOpt runs it, or NSGA-II.
//!
//! ```
//! use plastifit::optim::{
//!     benchmarks::{Zdt, ZdtProblem}, hypervolume, run, OptimiserConfig, OptimiserState, Recorder,
//! };
//!
//! let zdt = Zdt::new(ZdtProblem::Zdt1, 5);
//! let config = OptimiserConfig { offspring_size: 16, ..OptimiserConfig::default() };
//! let mut state = OptimiserState::new(config, &zdt, 42)?;
//! let mut recorder = Recorder::default();
//! run(&mut state, &zdt, &mut recorder, 10)?;
//! let front: Vec<&[f64]> = state.hall_of_fame().members().iter().map(|m| m.errors.as_slice()).collect();
//! assert!(hypervolume(&front, &[1.1, 11.0]) > 0.0);
//! assert_eq!(recorder.reports.len(), 10);
//! # Ok::<(), plastifit::Error>(())
//! ```

mod archive;
pub mod benchmarks;
mod checkpoint;
mod config;
mod evaluator;
mod individual;
mod metrics;
pub mod selection;
mod state;
pub mod variation;

pub use archive::HallOfFame;
pub use checkpoint::{read_checkpoint, write_checkpoint};
pub use config::{validate_bounds, OptimiserConfig, SelectorKind};
pub use evaluator::Evaluator;
pub use individual::{dominates, is_valid, Individual};
pub use metrics::{hypervolume, hypervolume_2d, minimax_best, minimax_score};
pub use selection::{Selection, Selector};
pub use state::{run, step, GenerationReport, GenerationSummary, Observer, OptimiserState, Recorder};
