//! Cell models shipped in `datasets/cells/`, embedded in the binary.

use super::CellDescription;
use crate::{Error, Result};
use std::path::Path;

const BUILTIN: [(&str, &str); 4] = [
    ("L5TTPC", include_str!("../../datasets/cells/L5TTPC.json")),
    ("L23PC", include_str!("../../datasets/cells/L23PC.json")),
    ("L4PC", include_str!("../../datasets/cells/L4PC.json")),
    ("L4SSC", include_str!("../../datasets/cells/L4SSC.json")),
];

/// Names of the built-in cells.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A built-in cell by name, or a cell description file by path.
pub fn load_cell(name_or_path: &str) -> Result<CellDescription> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return CellDescription::from_json_str(text, &format!("datasets/cells/{name}.json"));
    }
    let path = Path::new(name_or_path);
    if path.exists() {
        return CellDescription::load(path);
    }
    Err(Error::Config(format!(
        "unknown cell '{name_or_path}': neither a built-in cell ({}) nor an existing file",
        builtin_names().join(", ")
    )))
}
