//! Trace replay (SPEC §8): the spine calcium of every synapse under every
//! protocol does not depend on the rule parameters while plasticity is
//! frozen, so it is simulated once (`record`), stored in a versioned cache
//! (`cache`) and replayed for any candidate (`eval`): c* for any τ*, the
//! calibration peaks, thresholds, ρ over the induction, the fast-forward and
//! the test EPSPs by superposition of per-synapse somatic responses.
//!
//! Approximations, each measured by `plastifit check-replay`: the voltage
//! and VDCC calcium of the frozen recording during induction, with the
//! releases redrawn under replay's own Use and their NMDA calcium
//! differences added (`drift`); Ĝ_AMPA frozen during induction; calcium
//! binned (`bins`: exact integrals, bins merged while calcium stays within
//! a tolerance, induction bins merged further with their first moments; a
//! quiet stretch's NMDA tail binned exactly from the engine's closed form,
//! its remainder a gap decaying with τ_Ca); test EPSPs by superposition of
//! single-synapse responses scaled by released/Nrrp, each peak corrected
//! for the connection's recorded sublinear summation.
//! `import` reads and writes caches as open tables. `gate` lets a candidate
//! cross at once the stretches of the induction where its c* cannot reach a
//! threshold; `induction` advances a connection's synapses over the
//! induction for one candidate; `grid` holds the timelines as replay reads
//! them; `prefetch` asks for the next connection's tables while one is
//! replayed.

mod bins;
mod cache;
mod drift;
mod eval;
mod gate;
mod grid;
mod import;
mod induction;
mod prefetch;
mod record;

pub use bins::{bin_samples, coarsen_induction};
pub use cache::{
    dataset_hash, CacheIdentity, ConnectionTraces, ProtocolTraces, SummationPoint, SynapseTraces, Timeline, TraceCache,
    TraceSettings, FORMAT_VERSION,
};
pub use eval::{Replay, ReplayedProtocol};
pub use import::{
    export as export_traces, import as import_traces, ConnectionFiles, Manifest, ManifestConnection, ManifestProtocol,
    SynapseConstants, MANIFEST_FILE,
};
pub use record::{
    engine_induction_rho, record_connection, record_job, record_variants, replay_jobs, replay_variants, RecordCheck,
};
