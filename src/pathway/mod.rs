//! Pathway recipes and sampled connections (SPEC §4).
//!
//! - [`recipe`]: `datasets/pathways.csv` rows ([`PathwayRecipe`]), loaded and
//!   validated;
//! - [`sample`]: correlated sampling of connections from a recipe;
//! - [`file`](mod@file): connection samples written to / read from JSON and CSV.

mod contact;
pub(crate) mod dist;
pub mod file;
pub mod recipe;
pub(crate) mod rows;
pub mod sample;

pub use contact::{Connection, Contact, Tree};
pub use file::{
    load_connections, load_connections_csv, load_connections_json, parse_connections_csv, parse_connections_json,
    save_connections_csv, save_connections_json, write_connections_csv, write_connections_json, ConnectionSample,
    CONNECTIONS_CSV_COLUMNS, CONNECTIONS_FORMAT, CONNECTIONS_VERSION,
};
pub use recipe::{
    embedded_recipes, find_recipe, load_recipes, parse_recipes, save_recipes, write_recipes, Family, PathwayRecipe,
    AMPA_TAU_RISE_MS,
};
pub use sample::{sample_connections, try_sample_connections, Copula, Sampler, TreeExtent, CHINDEMI_2022_CORRELATION};
