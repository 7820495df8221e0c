//! Writing results: every file goes to a temporary name first and is
//! flushed to disk and renamed into place, so an interruption leaves the
//! last good version.

use serde::Serialize;
use std::path::Path;

/// Writes bytes atomically (see `files::write_atomic`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(crate::files::write_atomic(path, bytes)?)
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}
