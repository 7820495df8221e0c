//! The library's error type: every failure names what it concerns.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file row or field is malformed.
    #[error("{file}: row {row}, column '{column}': {problem}")]
    Data {
        file: PathBuf,
        row: usize,
        column: String,
        problem: String,
    },
    /// A file-level problem (missing file, unreadable, wrong header).
    #[error("{file}: {problem}")]
    File { file: PathBuf, problem: String },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The numerical integration produced NaN or diverged.
    #[error("numerical failure in {context} at t = {time_ms} ms: {problem}")]
    Numerical {
        context: String,
        time_ms: f64,
        problem: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
