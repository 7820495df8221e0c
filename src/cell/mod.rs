//! Postsynaptic cells: JSON descriptions, channels and the cable solver
//! (SPEC §3).

mod channels;
mod description;
mod model;

pub use channels::{Channel, ChannelKind};
pub use description::{
    CellDescription, ChannelSpec, Density, SectionSpec, SectionTree, CHANNEL_NAMES,
};
pub use model::{CellModel, CellState, Compartment, Workspace};
