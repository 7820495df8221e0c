//! Postsynaptic cells: JSON descriptions, channels and the cable solver
//! (SPEC §3).

mod builtin;
mod channels;
mod description;
mod model;
mod table;

pub use builtin::{builtin_names, load_cell};
pub use channels::{Channel, ChannelKind};
pub use description::{CellDescription, ChannelSpec, Density, SectionSpec, SectionTree, CHANNEL_NAMES};
pub use model::{CellModel, CellState, Compartment, Workspace, RELAX_DT_MS, STANDARD_DT_MS};
