//! Selection: which evaluated candidates survive into the next pool, and
//! which become the parents of the next offspring.
//!
//! Each generation the loop forms a *pool* (the surviving population followed
//! by the new offspring, in that order) and asks the selector for a
//! [`Selection`] of indices into it. All selectors minimise every objective
//! and break every tie by pool index, so a selection is a deterministic
//! function of the pool and the generator.

mod ibea;
mod nsga2;

pub use ibea::{ibea_fitness, Ibea, IbeaBluepyopt, IbeaFitness};
pub use nsga2::{crowding_distance, non_dominated_sort, Nsga2};

use rand::RngCore;

use super::config::{OptimiserConfig, SelectorKind};

/// The outcome of a selection, as indices into the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Who stays in the population that the next offspring join (in pool
    /// order unless the selector documents otherwise; may repeat an index).
    pub survivors: Vec<usize>,
    /// The parents of the next offspring, in mating order (may repeat).
    pub parents: Vec<usize>,
}

/// A selection scheme over error vectors (one slice per pool member, all of
/// the same length, all finite).
pub trait Selector {
    /// Selects `mu` survivors and `mu` parents from the pool of a generation.
    fn select(&self, pool: &[&[f64]], mu: usize, rng: &mut dyn RngCore) -> Selection;

    /// Selection on the evaluated initial population (the pool holds exactly
    /// `mu` candidates). By default the same as [`Selector::select`].
    fn select_initial(&self, pool: &[&[f64]], mu: usize, rng: &mut dyn RngCore) -> Selection {
        self.select(pool, mu, rng)
    }
}

/// The selector a configuration asks for.
pub fn selector_for(config: &OptimiserConfig) -> Box<dyn Selector> {
    match config.selector {
        SelectorKind::Ibea => Box::new(Ibea {
            kappa: config.kappa,
            tournament_size: config.tournament_size,
        }),
        SelectorKind::IbeaBluepyopt => Box::new(IbeaBluepyopt {
            kappa: config.kappa,
            tournament_size: config.tournament_size,
        }),
        SelectorKind::Nsga2 => Box::new(Nsga2),
    }
}
