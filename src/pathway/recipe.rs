//! Pathway recipes: the distributions a pathway's connections are sampled
//! from (`datasets/pathways.csv`, SPEC §4).
//!
//! Errors name the file, the row (its line number as an editor shows it: the
//! header is line 1, the first data row line 2), the column and the problem.
//! Loading is all-or-nothing: any bad row fails the whole file.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use super::rows::{self, Row, Table};
use crate::error::{Error, Result};

/// The AMPA rise time constant (ms, SPEC §2.2); the AMPA decay must exceed it.
pub const AMPA_TAU_RISE_MS: f64 = 0.2;

/// Text of the shipped `datasets/pathways.csv`, compiled in.
pub const EMBEDDED_RECIPES_CSV: &str = include_str!("../../datasets/pathways.csv");

/// The label errors use for the compiled-in recipes.
pub const EMBEDDED_RECIPES_LABEL: &str = "datasets/pathways.csv (embedded)";

/// A distribution family named in a recipe's `*_dist` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Gamma,
    Poisson,
    Beta,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Gamma => "gamma",
            Family::Poisson => "poisson",
            Family::Beta => "beta",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Family, String> {
        match s {
            "gamma" => Ok(Family::Gamma),
            "poisson" => Ok(Family::Poisson),
            "beta" => Ok(Family::Beta),
            _ => Err(format!("unknown distribution '{s}' (known: gamma, poisson, beta)")),
        }
    }
}

/// One row of `pathways.csv`. Units are in the field names; SDs are of the
/// named marginal. See `datasets/README.md` for every column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathwayRecipe {
    /// `PRE-POST`, e.g. `L5TTPC-L5TTPC`.
    pub pathway: String,
    pub pre_type: String,
    pub post_type: String,
    /// Postsynaptic cell model name (a cell description in `datasets/`).
    pub post_cell: String,
    /// AMPA peak conductance G0 per synapse (nS): mean, SD, family (gamma).
    pub ampa_gmax_ns_mean: f64,
    pub ampa_gmax_ns_sd: f64,
    pub ampa_gmax_dist: Family,
    /// Release sites: mean of `1 + Poisson(nrrp_mean − 1)`; family (poisson).
    pub nrrp_mean: f64,
    pub nrrp_dist: Family,
    /// Release probability U0 at 2 mM [Ca2+]o: mean, SD, family (beta).
    pub use_mean: f64,
    pub use_sd: f64,
    pub use_dist: Family,
    /// Depression time constant D (ms), gamma.
    pub dep_ms_mean: f64,
    pub dep_ms_sd: f64,
    /// Facilitation time constant F (ms), gamma.
    pub fac_ms_mean: f64,
    pub fac_ms_sd: f64,
    /// AMPA decay time constant (ms), normal truncated below at the rise time.
    pub ampa_tau_decay_ms_mean: f64,
    pub ampa_tau_decay_ms_sd: f64,
    /// NMDA/AMPA peak conductance ratio (fixed per pathway).
    pub nmda_ratio: f64,
    /// Hill constant K of the [Ca2+]o scaling of U (mM).
    pub u_hill_k_mm: f64,
    /// Spine head volume X (µm³), gamma.
    pub spine_volume_um3_mean: f64,
    pub spine_volume_um3_sd: f64,
    /// Contacts per connection (normal rounded, at least 1).
    pub contacts_mean: f64,
    pub contacts_sd: f64,
    /// Probability that a contact is on the apical tree.
    pub apical_fraction: f64,
    /// Path distance from the soma of basal / apical contacts (µm), normal
    /// truncated to the tree's extent.
    pub basal_path_um_mean: f64,
    pub basal_path_um_sd: f64,
    pub apical_path_um_mean: f64,
    pub apical_path_um_sd: f64,
    /// Literature somatic unitary EPSP (mV) used to check / calibrate.
    pub epsp_mv_mean: f64,
    pub epsp_mv_sd: f64,
    /// Provenance of the contacts and EPSP numbers.
    pub epsp_source: String,
    /// Pathway-level scale factor on G_AMPA for the reduced cells; the
    /// engine multiplies each contact's `g_ampa_ns` by it (the sampler does not).
    pub g_scale: f64,
    /// How `g_scale` was obtained.
    pub g_scale_note: String,
}

/// The columns of `pathways.csv`, in the order they are written.
pub const RECIPE_COLUMNS: [&str; 34] = [
    "pathway",
    "pre_type",
    "post_type",
    "post_cell",
    "ampa_gmax_ns_mean",
    "ampa_gmax_ns_sd",
    "ampa_gmax_dist",
    "nrrp_mean",
    "nrrp_dist",
    "use_mean",
    "use_sd",
    "use_dist",
    "dep_ms_mean",
    "dep_ms_sd",
    "fac_ms_mean",
    "fac_ms_sd",
    "ampa_tau_decay_ms_mean",
    "ampa_tau_decay_ms_sd",
    "nmda_ratio",
    "u_hill_k_mm",
    "spine_volume_um3_mean",
    "spine_volume_um3_sd",
    "contacts_mean",
    "contacts_sd",
    "apical_fraction",
    "basal_path_um_mean",
    "basal_path_um_sd",
    "apical_path_um_mean",
    "apical_path_um_sd",
    "epsp_mv_mean",
    "epsp_mv_sd",
    "epsp_source",
    "g_scale",
    "g_scale_note",
];

impl PathwayRecipe {
    /// The identifier protocols refer to: `PRE-POST`.
    pub fn pathway_id(&self) -> &str {
        &self.pathway
    }

    /// Mean and SD of the sampled release-site count `1 + Poisson(nrrp_mean − 1)`.
    pub fn nrrp_mean_sd(&self) -> (f64, f64) {
        (self.nrrp_mean, (self.nrrp_mean - 1.0).sqrt())
    }

    fn values(&self) -> Vec<String> {
        let n = |v: f64| v.to_string();
        vec![
            self.pathway.clone(),
            self.pre_type.clone(),
            self.post_type.clone(),
            self.post_cell.clone(),
            n(self.ampa_gmax_ns_mean),
            n(self.ampa_gmax_ns_sd),
            self.ampa_gmax_dist.to_string(),
            n(self.nrrp_mean),
            self.nrrp_dist.to_string(),
            n(self.use_mean),
            n(self.use_sd),
            self.use_dist.to_string(),
            n(self.dep_ms_mean),
            n(self.dep_ms_sd),
            n(self.fac_ms_mean),
            n(self.fac_ms_sd),
            n(self.ampa_tau_decay_ms_mean),
            n(self.ampa_tau_decay_ms_sd),
            n(self.nmda_ratio),
            n(self.u_hill_k_mm),
            n(self.spine_volume_um3_mean),
            n(self.spine_volume_um3_sd),
            n(self.contacts_mean),
            n(self.contacts_sd),
            n(self.apical_fraction),
            n(self.basal_path_um_mean),
            n(self.basal_path_um_sd),
            n(self.apical_path_um_mean),
            n(self.apical_path_um_sd),
            n(self.epsp_mv_mean),
            n(self.epsp_mv_sd),
            self.epsp_source.clone(),
            n(self.g_scale),
            self.g_scale_note.clone(),
        ]
    }
}

/// Load and validate a recipes file.
pub fn load_recipes(path: impl AsRef<Path>) -> Result<Vec<PathwayRecipe>> {
    let path = path.as_ref();
    parse_recipes(rows::open(path)?, path)
}

/// Parse and validate recipes from any reader; `file` labels errors.
pub fn parse_recipes<R: Read>(reader: R, file: impl AsRef<Path>) -> Result<Vec<PathwayRecipe>> {
    let table = Table::read(reader, file.as_ref(), &RECIPE_COLUMNS)?;
    if table.is_empty() {
        return Err(rows::file_error(table.file(), "contains no pathways"));
    }
    let mut recipes: Vec<PathwayRecipe> = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for row in table.rows() {
        let recipe = parse_row(&row)?;
        if let Some(line) = first_line.get(&recipe.pathway) {
            return Err(row.error(
                "pathway",
                format!("duplicate pathway '{}' (already defined on row {line})", recipe.pathway),
            ));
        }
        first_line.insert(recipe.pathway.clone(), row.line());
        recipes.push(recipe);
    }
    Ok(recipes)
}

/// The recipes shipped in `datasets/pathways.csv`, compiled into the library.
pub fn embedded_recipes() -> Result<Vec<PathwayRecipe>> {
    parse_recipes(EMBEDDED_RECIPES_CSV.as_bytes(), EMBEDDED_RECIPES_LABEL)
}

/// The recipe of a pathway by its id (`PRE-POST`).
pub fn find_recipe<'a>(recipes: &'a [PathwayRecipe], pathway: &str) -> Option<&'a PathwayRecipe> {
    recipes.iter().find(|r| r.pathway == pathway)
}

/// Write recipes in the `pathways.csv` format (e.g. after calibrating `g_scale`).
pub fn write_recipes<W: Write>(writer: W, recipes: &[PathwayRecipe]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(writer);
    w.write_record(RECIPE_COLUMNS)?;
    for r in recipes {
        w.write_record(r.values())?;
    }
    w.flush()
}

/// Write recipes to a file.
pub fn save_recipes(path: impl AsRef<Path>, recipes: &[PathwayRecipe]) -> Result<()> {
    let path = path.as_ref();
    let mut bytes = Vec::new();
    write_recipes(&mut bytes, recipes).map_err(|e| Error::io(path, e))?;
    crate::files::write_atomic(path, &bytes)
}

fn family(row: &Row<'_>, column: &str, allowed: Family) -> Result<Family> {
    let raw = row.raw(column);
    let f: Family = raw.parse().map_err(|p: String| row.error(column, p))?;
    if f != allowed {
        return Err(row.error(
            column,
            format!("distribution '{f}' is not supported here (supported: {allowed})"),
        ));
    }
    Ok(f)
}

fn parse_row(row: &Row<'_>) -> Result<PathwayRecipe> {
    let pathway = row.id("pathway")?;
    let pre_type = row.name("pre_type")?;
    let post_type = row.name("post_type")?;
    let expected = format!("{pre_type}-{post_type}");
    if pathway != expected {
        return Err(row.error(
            "pathway",
            format!("'{pathway}' must be '{expected}' (pre_type-post_type)"),
        ));
    }
    let post_cell = row.id("post_cell")?;

    let use_mean = row.number("use_mean")?;
    if !(use_mean > 0.0 && use_mean < 1.0) {
        return Err(row.error("use_mean", format!("{use_mean} must lie in (0, 1)")));
    }
    let use_sd = row.positive("use_sd")?;
    let limit = use_mean * (1.0 - use_mean);
    if use_sd * use_sd >= limit {
        return Err(row.error(
            "use_sd",
            format!(
                "{use_sd} is too large for a beta distribution with mean {use_mean}: \
                 sd² must be < mean·(1 − mean) = {limit:.6}"
            ),
        ));
    }
    let nrrp_mean = row.number("nrrp_mean")?;
    if nrrp_mean < 1.0 {
        return Err(row.error(
            "nrrp_mean",
            format!("{nrrp_mean} must be >= 1 (every synapse has at least one release site)"),
        ));
    }
    let contacts_mean = row.number("contacts_mean")?;
    if contacts_mean < 1.0 {
        return Err(row.error(
            "contacts_mean",
            format!("{contacts_mean} must be >= 1 (a connection has at least one contact)"),
        ));
    }
    let tau_mean = row.number("ampa_tau_decay_ms_mean")?;
    if tau_mean <= AMPA_TAU_RISE_MS {
        return Err(row.error(
            "ampa_tau_decay_ms_mean",
            format!("{tau_mean} must exceed the AMPA rise time {AMPA_TAU_RISE_MS} ms"),
        ));
    }

    Ok(PathwayRecipe {
        pathway,
        pre_type,
        post_type,
        post_cell,
        ampa_gmax_ns_mean: row.positive("ampa_gmax_ns_mean")?,
        ampa_gmax_ns_sd: row.positive("ampa_gmax_ns_sd")?,
        ampa_gmax_dist: family(row, "ampa_gmax_dist", Family::Gamma)?,
        nrrp_mean,
        nrrp_dist: family(row, "nrrp_dist", Family::Poisson)?,
        use_mean,
        use_sd,
        use_dist: family(row, "use_dist", Family::Beta)?,
        dep_ms_mean: row.positive("dep_ms_mean")?,
        dep_ms_sd: row.positive("dep_ms_sd")?,
        fac_ms_mean: row.positive("fac_ms_mean")?,
        fac_ms_sd: row.positive("fac_ms_sd")?,
        ampa_tau_decay_ms_mean: tau_mean,
        ampa_tau_decay_ms_sd: row.non_negative("ampa_tau_decay_ms_sd")?,
        nmda_ratio: row.non_negative("nmda_ratio")?,
        u_hill_k_mm: row.positive("u_hill_k_mm")?,
        spine_volume_um3_mean: row.positive("spine_volume_um3_mean")?,
        spine_volume_um3_sd: row.positive("spine_volume_um3_sd")?,
        contacts_mean,
        contacts_sd: row.non_negative("contacts_sd")?,
        apical_fraction: row.fraction("apical_fraction")?,
        basal_path_um_mean: row.non_negative("basal_path_um_mean")?,
        basal_path_um_sd: row.non_negative("basal_path_um_sd")?,
        apical_path_um_mean: row.non_negative("apical_path_um_mean")?,
        apical_path_um_sd: row.non_negative("apical_path_um_sd")?,
        epsp_mv_mean: row.positive("epsp_mv_mean")?,
        epsp_mv_sd: row.non_negative("epsp_mv_sd")?,
        epsp_source: row.text("epsp_source"),
        g_scale: row.positive("g_scale")?,
        g_scale_note: row.text("g_scale_note"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_recipes_load() {
        let r = embedded_recipes().unwrap();
        assert_eq!(r.len(), 5);
        assert!(find_recipe(&r, "L5TTPC-L5TTPC").is_some());
    }

    #[test]
    fn write_then_parse_is_identity() {
        let r = embedded_recipes().unwrap();
        let mut buf = Vec::new();
        write_recipes(&mut buf, &r).unwrap();
        let back = parse_recipes(buf.as_slice(), "mem.csv").unwrap();
        assert_eq!(back, r);
    }
}
