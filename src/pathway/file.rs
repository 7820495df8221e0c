//! Connection files: a sample of connections as JSON or CSV, so samples can
//! be kept, inspected, edited, or brought from another circuit.
//!
//! JSON (`*.json`):
//! `{"format": "plastifit-connections", "version": 1, "pathway": "...",
//!   "seed": 42, "connections": [{"id", "pathway", "post_cell",
//!   "release_seed", "contacts": [{...Contact fields...}]}]}`; `seed` may be
//! omitted (connections that were not sampled by plastifit).
//!
//! CSV (`*.csv`): one row per contact with the columns
//! [`CONNECTIONS_CSV_COLUMNS`]; the rows of one connection are consecutive
//! and agree on `pathway`, `post_cell` and `release_seed`. CSV has no place
//! for the sample's seed, so a CSV read gives `seed: None`.
//!
//! Both readers validate every value. Errors are `Error::Data`: for CSV the
//! row is the line number in the file (header = line 1) and the column the
//! CSV column; for JSON the row is the connection's 1-based position in the
//! `connections` array and the column the field's path inside that
//! connection, e.g. `contacts[2].nrrp` (contact index 0-based). Malformed
//! JSON, a wrong `format` or an unsupported `version` are `Error::File`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::contact::{Connection, Contact, Tree};
use super::recipe::AMPA_TAU_RISE_MS;
use super::rows::{self, Row, Table};
use crate::error::{Error, Result};

/// The `format` tag of a JSON connection file.
pub const CONNECTIONS_FORMAT: &str = "plastifit-connections";
/// The JSON format version this build writes and reads.
pub const CONNECTIONS_VERSION: u32 = 1;

/// Columns of the connection CSV, in the order written (units in the names).
pub const CONNECTIONS_CSV_COLUMNS: [&str; 16] = [
    "connection_id",
    "pathway",
    "post_cell",
    "release_seed",
    "tree",
    "path_distance_um",
    "use0",
    "nrrp",
    "dep_ms",
    "fac_ms",
    "g_ampa_ns",
    "ampa_tau_decay_ms",
    "nmda_ratio",
    "spine_volume_um3",
    "u_hill_k_mm",
    "rho0",
];

/// A set of connections of one pathway.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSample {
    pub pathway: String,
    /// The seed the sample was drawn with, if it was sampled by plastifit.
    pub seed: Option<u64>,
    pub connections: Vec<Connection>,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    format: &'a str,
    version: u32,
    pathway: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    connections: &'a [Connection],
}

#[derive(Deserialize)]
struct JsonIn {
    pathway: String,
    #[serde(default)]
    seed: Option<u64>,
    connections: Vec<Connection>,
}

/// Write a sample as (pretty-printed) JSON.
pub fn write_connections_json<W: Write>(writer: W, sample: &ConnectionSample) -> std::io::Result<()> {
    let out = JsonOut {
        format: CONNECTIONS_FORMAT,
        version: CONNECTIONS_VERSION,
        pathway: &sample.pathway,
        seed: sample.seed,
        connections: &sample.connections,
    };
    let mut writer = writer;
    serde_json::to_writer_pretty(&mut writer, &out)?;
    writer.write_all(b"\n")?;
    writer.flush()
}

/// Write a sample as CSV, one row per contact.
pub fn write_connections_csv<W: Write>(writer: W, sample: &ConnectionSample) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(writer);
    w.write_record(CONNECTIONS_CSV_COLUMNS)?;
    for c in &sample.connections {
        if c.contacts.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("connection {} has no contacts and cannot be written as CSV", c.id),
            ));
        }
        for s in &c.contacts {
            let tree = match s.tree {
                Tree::Basal => "basal",
                Tree::Apical => "apical",
            };
            w.write_record([
                c.id.to_string(),
                c.pathway.clone(),
                c.post_cell.clone(),
                c.release_seed.to_string(),
                tree.to_string(),
                s.path_distance_um.to_string(),
                s.use0.to_string(),
                s.nrrp.to_string(),
                s.dep_ms.to_string(),
                s.fac_ms.to_string(),
                s.g_ampa_ns.to_string(),
                s.ampa_tau_decay_ms.to_string(),
                s.nmda_ratio.to_string(),
                s.spine_volume_um3.to_string(),
                s.u_hill_k_mm.to_string(),
                s.rho0.to_string(),
            ])?;
        }
    }
    w.flush()
}

/// Write a sample to `path` as JSON.
pub fn save_connections_json(path: impl AsRef<Path>, sample: &ConnectionSample) -> Result<()> {
    save_with(path.as_ref(), sample, |w, s| write_connections_json(w, s))
}

/// Write a sample to `path` as CSV.
pub fn save_connections_csv(path: impl AsRef<Path>, sample: &ConnectionSample) -> Result<()> {
    save_with(path.as_ref(), sample, |w, s| write_connections_csv(w, s))
}

fn save_with(
    path: &Path,
    sample: &ConnectionSample,
    write: fn(&mut Vec<u8>, &ConnectionSample) -> std::io::Result<()>,
) -> Result<()> {
    let mut bytes = Vec::new();
    write(&mut bytes, sample).map_err(|e| Error::io(path, e))?;
    crate::files::write_atomic(path, &bytes)
}

/// Read a connection file, choosing the format by extension (`.json` or `.csv`).
pub fn load_connections(path: impl AsRef<Path>) -> Result<ConnectionSample> {
    let path = path.as_ref();
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => load_connections_json(path),
        Some(e) if e.eq_ignore_ascii_case("csv") => load_connections_csv(path),
        _ => Err(rows::file_error(
            path,
            "unknown connection file type (expected a .json or .csv file)",
        )),
    }
}

/// Read and validate a JSON connection file.
pub fn load_connections_json(path: impl AsRef<Path>) -> Result<ConnectionSample> {
    let path = path.as_ref();
    parse_connections_json(rows::open(path)?, path)
}

/// Read and validate a CSV connection file.
pub fn load_connections_csv(path: impl AsRef<Path>) -> Result<ConnectionSample> {
    let path = path.as_ref();
    parse_connections_csv(rows::open(path)?, path)
}

/// Parse and validate JSON connections from a reader; `file` labels errors.
pub fn parse_connections_json<R: Read>(mut reader: R, file: impl AsRef<Path>) -> Result<ConnectionSample> {
    let file = file.as_ref();
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|e| Error::io(file, e))?;
    let json_error = |e: serde_json::Error| {
        rows::file_error(
            file,
            format!(
                "invalid connection file at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    };
    // Check the tag and version before the structure, which may differ in
    // other versions.
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json_error)?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(CONNECTIONS_FORMAT) => {}
        other => {
            return Err(rows::file_error(
                file,
                format!(
                    "not a plastifit connection file: \"format\" is {} (expected \"{CONNECTIONS_FORMAT}\")",
                    other.map_or("missing".to_string(), |s| format!("\"{s}\""))
                ),
            ))
        }
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(CONNECTIONS_VERSION) => {}
        Some(v) => {
            return Err(rows::file_error(
                file,
                format!("unsupported version {v} (this build reads version {CONNECTIONS_VERSION})"),
            ))
        }
        None => return Err(rows::file_error(file, "\"version\" is missing or not a whole number")),
    }
    let parsed: JsonIn = serde_json::from_str(&text).map_err(json_error)?;
    if parsed.pathway.is_empty() {
        return Err(rows::file_error(file, "\"pathway\" is empty"));
    }
    if parsed.connections.is_empty() {
        return Err(rows::file_error(file, "contains no connections"));
    }
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for (i, c) in parsed.connections.iter().enumerate() {
        let row = i + 1;
        let err = |column: String, problem: String| Error::Data {
            file: file.to_path_buf(),
            row,
            column,
            problem,
        };
        if let Some(first) = seen.insert(c.id, row) {
            return Err(err(
                "id".into(),
                format!("duplicate connection id {} (also connection {first})", c.id),
            ));
        }
        if c.pathway != parsed.pathway {
            return Err(err(
                "pathway".into(),
                format!("'{}' differs from the file's pathway '{}'", c.pathway, parsed.pathway),
            ));
        }
        if c.post_cell.is_empty() {
            return Err(err("post_cell".into(), "is empty".into()));
        }
        if c.contacts.is_empty() {
            return Err(err("contacts".into(), "a connection needs at least one contact".into()));
        }
        for (j, contact) in c.contacts.iter().enumerate() {
            if let Err((field, problem)) = check_contact(contact) {
                return Err(err(format!("contacts[{j}].{field}"), problem));
            }
        }
    }
    Ok(ConnectionSample {
        pathway: parsed.pathway,
        seed: parsed.seed,
        connections: parsed.connections,
    })
}

/// Parse and validate CSV connections from a reader; `file` labels errors.
pub fn parse_connections_csv<R: Read>(reader: R, file: impl AsRef<Path>) -> Result<ConnectionSample> {
    let table = Table::read(reader, file.as_ref(), &CONNECTIONS_CSV_COLUMNS)?;
    if table.is_empty() {
        return Err(rows::file_error(table.file(), "contains no connections"));
    }
    let mut pathway: Option<String> = None;
    let mut connections: Vec<Connection> = Vec::new();
    // connection id -> line of its first row
    let mut first_line: HashMap<usize, usize> = HashMap::new();
    for row in table.rows() {
        let id =
            usize::try_from(row.count("connection_id", 0)?).map_err(|_| row.error("connection_id", "is too large"))?;
        let row_pathway = row.id("pathway")?;
        match &pathway {
            None => pathway = Some(row_pathway.clone()),
            Some(p) if *p != row_pathway => {
                return Err(row.error(
                    "pathway",
                    format!("'{row_pathway}' differs from the file's first pathway '{p}'"),
                ))
            }
            Some(_) => {}
        }
        let post_cell = row.id("post_cell")?;
        let release_seed = row.count("release_seed", 0)?;
        let contact = parse_contact_row(&row)?;

        let continues = connections.last().is_some_and(|c| c.id == id);
        if continues {
            let last = connections.last_mut().expect("checked above");
            if last.post_cell != post_cell {
                return Err(row.error(
                    "post_cell",
                    format!(
                        "'{post_cell}' differs from '{}' on the earlier rows of connection {id}",
                        last.post_cell
                    ),
                ));
            }
            if last.release_seed != release_seed {
                return Err(row.error(
                    "release_seed",
                    format!(
                        "{release_seed} differs from {} on the earlier rows of connection {id}",
                        last.release_seed
                    ),
                ));
            }
            last.contacts.push(contact);
        } else {
            if let Some(line) = first_line.get(&id) {
                return Err(row.error(
                    "connection_id",
                    format!(
                        "connection {id} already appeared on row {line}; \
                         the rows of one connection must be consecutive"
                    ),
                ));
            }
            first_line.insert(id, row.line());
            connections.push(Connection {
                id,
                pathway: row_pathway,
                post_cell,
                release_seed,
                contacts: vec![contact],
            });
        }
    }
    Ok(ConnectionSample {
        pathway: pathway.expect("the table has rows"),
        seed: None,
        connections,
    })
}

fn parse_contact_row(row: &Row<'_>) -> Result<Contact> {
    let tree = match row.raw("tree") {
        "basal" => Tree::Basal,
        "apical" => Tree::Apical,
        other => return Err(row.error("tree", format!("unknown tree '{other}' (expected basal or apical)"))),
    };
    let nrrp = row.count("nrrp", 1)?;
    let nrrp = u32::try_from(nrrp).map_err(|_| row.error("nrrp", format!("{nrrp} is too large")))?;
    let rho0 = row.count("rho0", 0)?;
    if rho0 > 1 {
        return Err(row.error("rho0", format!("{rho0} must be 0 or 1")));
    }
    let contact = Contact {
        tree,
        path_distance_um: row.number("path_distance_um")?,
        use0: row.number("use0")?,
        nrrp,
        dep_ms: row.number("dep_ms")?,
        fac_ms: row.number("fac_ms")?,
        g_ampa_ns: row.number("g_ampa_ns")?,
        ampa_tau_decay_ms: row.number("ampa_tau_decay_ms")?,
        nmda_ratio: row.number("nmda_ratio")?,
        spine_volume_um3: row.number("spine_volume_um3")?,
        u_hill_k_mm: row.number("u_hill_k_mm")?,
        rho0: rho0 as u8,
    };
    check_contact(&contact).map_err(|(field, problem)| row.error(field, problem))?;
    Ok(contact)
}

/// The value ranges the engine relies on; returns the offending field.
fn check_contact(c: &Contact) -> std::result::Result<(), (&'static str, String)> {
    fn finite(field: &'static str, v: f64) -> std::result::Result<f64, (&'static str, String)> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err((field, format!("{v} is not a finite number")))
        }
    }
    let positive = |field: &'static str, v: f64| {
        if finite(field, v)? > 0.0 {
            Ok(())
        } else {
            Err((field, format!("{v} must be > 0")))
        }
    };
    let non_negative = |field: &'static str, v: f64| {
        if finite(field, v)? >= 0.0 {
            Ok(())
        } else {
            Err((field, format!("{v} must be >= 0")))
        }
    };
    non_negative("path_distance_um", c.path_distance_um)?;
    let u = finite("use0", c.use0)?;
    if !(u > 0.0 && u <= 1.0) {
        return Err(("use0", format!("{u} must lie in (0, 1]")));
    }
    if c.nrrp < 1 {
        return Err(("nrrp", format!("{} must be >= 1", c.nrrp)));
    }
    positive("dep_ms", c.dep_ms)?;
    positive("fac_ms", c.fac_ms)?;
    non_negative("g_ampa_ns", c.g_ampa_ns)?;
    if finite("ampa_tau_decay_ms", c.ampa_tau_decay_ms)? <= AMPA_TAU_RISE_MS {
        return Err((
            "ampa_tau_decay_ms",
            format!(
                "{} must exceed the AMPA rise time {AMPA_TAU_RISE_MS} ms",
                c.ampa_tau_decay_ms
            ),
        ));
    }
    non_negative("nmda_ratio", c.nmda_ratio)?;
    positive("spine_volume_um3", c.spine_volume_um3)?;
    positive("u_hill_k_mm", c.u_hill_k_mm)?;
    if c.rho0 > 1 {
        return Err(("rho0", format!("{} must be 0 or 1", c.rho0)));
    }
    Ok(())
}
