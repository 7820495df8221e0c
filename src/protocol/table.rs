//! The in-vitro protocol table (`datasets/invitro_protocols.csv`, SPEC §5).
//!
//! Errors name the file, the row (its line number as an editor shows it: the
//! header is line 1, the first data row line 2), the column and the problem.
//! Loading is all-or-nothing: any bad row fails the whole file.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::pathway::recipe::{embedded_recipes, PathwayRecipe};
use crate::pathway::rows::{self, Row, Table};

/// Text of the shipped `datasets/invitro_protocols.csv`, compiled in.
pub const EMBEDDED_PROTOCOLS_CSV: &str = include_str!("../../datasets/invitro_protocols.csv");

/// The label errors use for the compiled-in protocols.
pub const EMBEDDED_PROTOCOLS_LABEL: &str = "datasets/invitro_protocols.csv (embedded)";

/// The columns of `invitro_protocols.csv`.
pub const PROTOCOL_COLUMNS: [&str; 18] = [
    "protocol_id",
    "pre_type",
    "post_type",
    "area",
    "species",
    "age",
    "frequency_hz",
    "delta_t_ms",
    "stimuli_per_burst",
    "bursts",
    "burst_period_s",
    "epsp_ratio_mean",
    "epsp_ratio_sem",
    "n_connections",
    "measure",
    "cao_mm",
    "manipulation",
    "reference",
];

/// How the EPSP was quantified in the experiment (SPEC §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Peak amplitude.
    Amplitude,
    /// 30-75 % rise slope of the averaged EPSP.
    Slope,
}

/// A pharmacological manipulation (SPEC §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Manipulation {
    /// Control conditions.
    None,
    /// MK-801 in the presynaptic pipette (emulated by γd = 0).
    Mk801Pre,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Amplitude => "amplitude",
            Measure::Slope => "slope",
        }
    }
}

impl Manipulation {
    pub fn as_str(self) -> &'static str {
        match self {
            Manipulation::None => "none",
            Manipulation::Mk801Pre => "mk801_pre",
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Manipulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Measure {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Measure, String> {
        match s {
            "amplitude" => Ok(Measure::Amplitude),
            "slope" => Ok(Measure::Slope),
            _ => Err(format!("unknown measure '{s}' (expected amplitude or slope)")),
        }
    }
}

impl FromStr for Manipulation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Manipulation, String> {
        match s {
            "none" => Ok(Manipulation::None),
            "mk801_pre" => Ok(Manipulation::Mk801Pre),
            _ => Err(format!("unknown manipulation '{s}' (expected none or mk801_pre)")),
        }
    }
}

/// One published plasticity protocol (a row of `invitro_protocols.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InVitroProtocol {
    /// Unique id, e.g. `mrk97_01`.
    pub protocol_id: String,
    pub pre_type: String,
    pub post_type: String,
    /// Provenance: brain area, species, age.
    pub area: String,
    pub species: String,
    pub age: String,
    /// Frequency of the stimuli within a burst (Hz), > 0.
    pub frequency_hz: f64,
    /// Post spike time minus pre spike time (ms); > 0 is pre before post.
    pub delta_t_ms: f64,
    /// Pre/post pairs per burst (≥ 1).
    pub stimuli_per_burst: u32,
    /// Number of bursts (≥ 1).
    pub bursts: u32,
    /// Period of bursts and of the baseline test spikes (s), > 0.
    pub burst_period_s: f64,
    /// Published EPSP ratio (after / before): mean and SEM (> 0).
    pub epsp_ratio_mean: f64,
    pub epsp_ratio_sem: f64,
    /// Connections recorded (≥ 1).
    pub n_connections: u32,
    pub measure: Measure,
    /// Extracellular calcium (mM), > 0.
    pub cao_mm: f64,
    pub manipulation: Manipulation,
    /// Publication the row comes from.
    pub reference: String,
}

impl InVitroProtocol {
    /// The pathway this protocol is run on: `PRE-POST`, e.g. `L5TTPC-L5TTPC`.
    pub fn pathway_id(&self) -> String {
        format!("{}-{}", self.pre_type, self.post_type)
    }
}

/// Load and validate a protocols file.
pub fn load_protocols(path: impl AsRef<Path>) -> Result<Vec<InVitroProtocol>> {
    let path = path.as_ref();
    parse_protocols(rows::open(path)?, path)
}

/// Load a protocols file and check that every protocol's pathway has a recipe.
pub fn load_protocols_checked(path: impl AsRef<Path>, recipes: &[PathwayRecipe]) -> Result<Vec<InVitroProtocol>> {
    let path = path.as_ref();
    parse_protocols_checked(rows::open(path)?, path, recipes)
}

/// Parse and validate protocols from any reader; `file` labels errors.
pub fn parse_protocols<R: Read>(reader: R, file: impl AsRef<Path>) -> Result<Vec<InVitroProtocol>> {
    parse(reader, file.as_ref(), None)
}

/// [`parse_protocols`], also requiring a recipe for every protocol's pathway.
pub fn parse_protocols_checked<R: Read>(
    reader: R,
    file: impl AsRef<Path>,
    recipes: &[PathwayRecipe],
) -> Result<Vec<InVitroProtocol>> {
    parse(reader, file.as_ref(), Some(recipes))
}

/// The shipped protocols (compiled in), checked against the shipped recipes.
pub fn embedded_protocols() -> Result<Vec<InVitroProtocol>> {
    let recipes = embedded_recipes()?;
    parse_protocols_checked(EMBEDDED_PROTOCOLS_CSV.as_bytes(), EMBEDDED_PROTOCOLS_LABEL, &recipes)
}

fn parse(reader: impl Read, file: &Path, recipes: Option<&[PathwayRecipe]>) -> Result<Vec<InVitroProtocol>> {
    let table = Table::read(reader, file, &PROTOCOL_COLUMNS)?;
    if table.is_empty() {
        return Err(rows::file_error(table.file(), "contains no protocols"));
    }
    let mut protocols = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for row in table.rows() {
        let p = parse_row(&row)?;
        if let Some(line) = first_line.get(&p.protocol_id) {
            return Err(row.error(
                "protocol_id",
                format!("duplicate protocol id '{}' (already used on row {line})", p.protocol_id),
            ));
        }
        if let Some(recipes) = recipes {
            let id = p.pathway_id();
            if !recipes.iter().any(|r| r.pathway == id) {
                let known: Vec<&str> = recipes.iter().map(|r| r.pathway.as_str()).collect();
                return Err(row.error(
                    "pre_type/post_type",
                    format!("no pathway recipe for '{id}' (known: {})", known.join(", ")),
                ));
            }
        }
        first_line.insert(p.protocol_id.clone(), row.line());
        protocols.push(p);
    }
    Ok(protocols)
}

fn parse_enum<T: FromStr<Err = String>>(row: &Row<'_>, column: &str) -> Result<T> {
    row.raw(column).parse().map_err(|p| row.error(column, p))
}

fn parse_row(row: &Row<'_>) -> Result<InVitroProtocol> {
    let frequency_hz = row.positive("frequency_hz")?;
    let stimuli_per_burst = small_count(row, "stimuli_per_burst")?;
    let burst_period_s = row.positive("burst_period_s")?;
    // A burst must end before the next one starts.
    let burst_s = f64::from(stimuli_per_burst - 1) / frequency_hz;
    if burst_s >= burst_period_s {
        return Err(row.error(
            "burst_period_s",
            format!(
                "{burst_period_s} s is not longer than a burst of {stimuli_per_burst} stimuli \
                 at {frequency_hz} Hz ({burst_s} s)"
            ),
        ));
    }
    Ok(InVitroProtocol {
        protocol_id: row.id("protocol_id")?,
        pre_type: row.name("pre_type")?,
        post_type: row.name("post_type")?,
        area: row.text("area"),
        species: row.text("species"),
        age: row.text("age"),
        frequency_hz,
        delta_t_ms: row.number("delta_t_ms")?,
        stimuli_per_burst,
        bursts: small_count(row, "bursts")?,
        burst_period_s,
        epsp_ratio_mean: row.positive("epsp_ratio_mean")?,
        epsp_ratio_sem: row.positive("epsp_ratio_sem")?,
        n_connections: small_count(row, "n_connections")?,
        measure: parse_enum(row, "measure")?,
        cao_mm: row.positive("cao_mm")?,
        manipulation: parse_enum(row, "manipulation")?,
        reference: row.text("reference"),
    })
}

/// A whole number in [1, u32::MAX].
fn small_count(row: &Row<'_>, column: &str) -> Result<u32> {
    let v = row.count(column, 1)?;
    u32::try_from(v).map_err(|_| row.error(column, format!("{v} is too large")))
}
