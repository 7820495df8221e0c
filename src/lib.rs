//! plastifit: refit calcium-based synaptic plasticity rules to in-vitro data.
//!
//! The engine (`synapse`, `cell`, `sim`) implements the model of Chindemi et
//! al. (2022); `pathway` samples connections, `protocol` runs the in-vitro
//! protocols, `optim` searches the rule's parameters and `report` turns results
//! into statistics and figures. Simulation code does no I/O; files are read and
//! written by `cli`, `report` and `replay`'s cache import/export, every write
//! through `files::write_atomic`.

pub mod cell;
pub mod cli;
pub mod error;
pub mod files;
pub mod objective;
pub mod optim;
pub mod pathway;
pub mod protocol;
pub mod replay;
pub mod report;
pub mod sim;
pub mod synapse;

pub use error::{Error, Result};
