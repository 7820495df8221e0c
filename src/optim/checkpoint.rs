//! Checkpoint files: the [`OptimiserState`] as JSON, replaced atomically.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::files::write_atomic;

use super::state::OptimiserState;

/// Writes `state` as JSON to `path` through a temporary file in the same
/// directory that is flushed to disk and then renamed over `path`, so an
/// interrupted write never leaves a truncated checkpoint.
pub fn write_checkpoint(path: &Path, state: &OptimiserState) -> Result<()> {
    let json = serde_json::to_string(state).map_err(|e| Error::File {
        file: path.to_path_buf(),
        problem: format!("cannot serialise the optimiser state: {e}"),
    })?;
    write_atomic(path, json.as_bytes())
}

/// Reads a checkpoint written by [`write_checkpoint`].
pub fn read_checkpoint(path: &Path) -> Result<OptimiserState> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::File {
        file: path.to_path_buf(),
        problem: format!("not a valid optimiser checkpoint: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::benchmarks::{Zdt, ZdtProblem};
    use crate::optim::config::OptimiserConfig;
    use crate::optim::state::step;

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let zdt = Zdt::new(ZdtProblem::Zdt1, 4);
        let cfg = OptimiserConfig {
            offspring_size: 8,
            ..OptimiserConfig::default()
        };
        let mut state = OptimiserState::new(cfg, &zdt, 9).unwrap();
        step(&mut state, &zdt, &mut ()).unwrap();
        write_checkpoint(&path, &state).unwrap();
        step(&mut state, &zdt, &mut ()).unwrap();
        write_checkpoint(&path, &state).unwrap();
        assert!(!crate::files::temporary_path(&path).exists());
        assert_eq!(read_checkpoint(&path).unwrap(), state);

        fs::write(&path, "{\"generation\": 3}").unwrap();
        assert!(matches!(read_checkpoint(&path), Err(Error::File { .. })));
        assert!(matches!(
            read_checkpoint(&dir.path().join("missing.json")),
            Err(Error::Io { .. })
        ));
    }
}
