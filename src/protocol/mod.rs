//! In-vitro protocols (SPEC §5): the published table, the postsynaptic
//! stimulus, the runner of one connection through one protocol, batches of
//! connections, timing × frequency maps, and single-spine calcium
//! measurements.

mod batch;
pub mod calcium;
pub mod calibrate;
pub mod map;
mod runner;
mod stimulus;
pub mod table;

pub use batch::{run_protocols, tree_extent, ConnectionRow, ProtocolJob, ProtocolResult, SummaryRow};
pub(crate) use runner::calibration_run;
pub use runner::{
    after_seed, build_simulation, calibration_peaks, induction_schedule, induction_spike_times, mean_test_epsp,
    protocol_environment, protocol_seed, rise_slope, run_connection, ConnectionOutcome, Exclusion, RunnerSettings,
};
pub use stimulus::{find_spike_stimulus, AmplitudeGrid, SpikeStimulus, PULSE_MS};
pub use table::{
    embedded_protocols, load_protocols, load_protocols_checked, parse_protocols, parse_protocols_checked,
    InVitroProtocol, Manipulation, Measure, PROTOCOL_COLUMNS,
};
