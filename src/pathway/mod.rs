//! Pathway recipes and sampled connections (SPEC §4).

mod contact;

pub use contact::{Connection, Contact, Tree};
