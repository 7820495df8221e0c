//! In-vitro protocols on one connection (SPEC §5).

mod stimulus;

pub use stimulus::{find_spike_stimulus, AmplitudeGrid, SpikeStimulus, PULSE_MS};
