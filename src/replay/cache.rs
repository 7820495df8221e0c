//! The trace cache: what one frozen simulation of each connection under each
//! protocol leaves for replay, and the identity of the data it was built from.

use crate::pathway::{Connection, Tree};
use crate::protocol::InVitroProtocol;
use crate::synapse::RuleVariant;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the cache layout, raised too whenever the engine would record
/// different numbers (3: release draws by CDF inversion, relaxation steps;
/// 4: induction bins merged for replay, with their first moments);
/// a cache of another version is refused.
pub const FORMAT_VERSION: u32 = 4;

/// Resolution of the stored traces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TraceSettings {
    /// Base width (ms) of the calcium bins during activity.
    pub bin_ms: f64,
    /// Neighbouring bins are merged while every synapse's mean
    /// cai − cai₀ stays within this distance (mM) of the first bin's.
    pub merge_tolerance_mm: f64,
    /// Widest merged bin (ms).
    pub max_bin_ms: f64,
    /// Sampling interval (ms) of the somatic EPSP waveforms.
    pub waveform_dt_ms: f64,
    /// Test EPSP window (ms).
    pub epsp_window_ms: f64,
    /// Widest induction bin (ms) for replay (see `bins::coarsen`).
    pub induction_max_bin_ms: f64,
    /// Largest departure of an induction bin's running calcium integral
    /// from a straight ramp, as a fraction of the synapse's single-spike
    /// calcium integral.
    pub induction_ramp_tolerance: f64,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            bin_ms: 0.25,
            merge_tolerance_mm: 2e-6,
            max_bin_ms: 8.0,
            waveform_dt_ms: 0.025,
            epsp_window_ms: 100.0,
            induction_max_bin_ms: 32.0,
            induction_ramp_tolerance: 7e-4,
        }
    }
}

/// What a cache was built from. Two identities must be equal for a cache
/// to be used; `differences` says what differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheIdentity {
    pub format_version: u32,
    pub objective: String,
    pub protocols: Vec<String>,
    pub connections_per_protocol: usize,
    pub sample_seed: u64,
    pub variant: RuleVariant,
    /// Hash of every dataset item used: `protocol ID`, `recipe PATHWAY`,
    /// `cell NAME`, `connections ID` (the sampled connections).
    pub datasets: BTreeMap<String, String>,
    pub settings: TraceSettings,
}

impl CacheIdentity {
    /// Human-readable differences from `expected` (empty: same data).
    pub fn differences(&self, expected: &CacheIdentity) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |what: &str, have: String, want: String| {
            if have != want {
                d.push(format!("{what}: cache has {have}, now {want}"));
            }
        };
        cmp(
            "format version",
            self.format_version.to_string(),
            expected.format_version.to_string(),
        );
        cmp("objective", self.objective.clone(), expected.objective.clone());
        cmp("protocols", self.protocols.join(","), expected.protocols.join(","));
        cmp(
            "connections per protocol",
            self.connections_per_protocol.to_string(),
            expected.connections_per_protocol.to_string(),
        );
        cmp(
            "sample seed",
            self.sample_seed.to_string(),
            expected.sample_seed.to_string(),
        );
        cmp(
            "rule variant",
            format!("{:?}", self.variant),
            format!("{:?}", expected.variant),
        );
        for key in self.datasets.keys().chain(expected.datasets.keys()) {
            let (a, b) = (self.datasets.get(key), expected.datasets.get(key));
            if a != b && !d.iter().any(|x| x.starts_with(&format!("dataset {key}:"))) {
                let show = |h: Option<&String>| h.cloned().unwrap_or_else(|| "nothing".into());
                d.push(format!("dataset {key}: cache hash {}, now {}", show(a), show(b)));
            }
        }
        if self.settings != expected.settings {
            d.push(format!(
                "trace settings: cache {:?}, now {:?}",
                self.settings, expected.settings
            ));
        }
        d
    }
}

/// 64-bit FNV-1a of the canonical JSON of a dataset item, in hex. It detects
/// accidental changes of the data a cache was built from; it is not meant
/// to resist deliberate collisions.
pub fn dataset_hash<T: Serialize>(item: &T) -> String {
    let bytes = serde_json::to_vec(item).expect("dataset items serialise");
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// A shared time axis of bins. A fine bin holds, per synapse, the exact
/// integral of cai − cai₀ over it (mM·ms); a gap (a quiet stretch the
/// engine advanced in closed form) holds the calcium excess over rest at its
/// start (mM), which decays with τ_Ca.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub widths_ms: Vec<f64>,
    pub gap: Vec<bool>,
}

impl Timeline {
    pub fn len(&self) -> usize {
        self.widths_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.widths_ms.is_empty()
    }

    pub fn duration_ms(&self) -> f64 {
        self.widths_ms.iter().sum()
    }
}

/// One synapse's stored traces and constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynapseTraces {
    pub tree: Tree,
    pub rho0: u8,
    pub nrrp: u32,
    pub dep_ms: f64,
    pub fac_ms: f64,
    /// Use at the start and its bounds, already scaled for [Ca2+]o (§5.4).
    pub use0: f64,
    pub use_d: f64,
    pub use_p: f64,
    pub g_d_ns: f64,
    pub g_p_ns: f64,
    /// Resting cai − cai₀ (mM): the resting VDCC current keeps cai above cai₀.
    pub rest_excess_mm: f64,
    /// Values over the connection's timelines (see `Timeline`).
    pub calib_pre: Vec<f32>,
    pub calib_post: Vec<f32>,
    pub induction: Vec<f32>,
    /// First moment of each induction bin's calcium about the bin's
    /// midpoint (mM·ms²): c* gains (value + moment/τ*) times `grid::gain_factor`.
    pub induction_moment: Vec<f32>,
    /// Mean NMDA calcium influx per unit open fraction B − A over each
    /// induction bin (mM/ms): what one more or one fewer vesicle adds to
    /// the calcium, as replay's releases depart from the recorded ones.
    /// Empty for traces recorded without it (releases then as recorded).
    #[serde(default)]
    pub nmda_drive: Vec<f32>,
    /// cai − cai_rest at the end of the induction (mM).
    pub end_excess_mm: f64,
    /// Somatic voltage above rest (mV) after a full release (weight 1) at
    /// Ĝ_AMPA = G_d and G_p, every `waveform_dt_ms` from the release.
    pub epsp_depressed: Vec<f32>,
    pub epsp_potentiated: Vec<f32>,
}

/// The somatic peak of the connection's synapses releasing together
/// against the linear sum of their single-synapse waveforms: driving
/// force and NMDA's voltage dependence make the sum nonlinear, and replay
/// corrects its superposed test EPSPs by these points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SummationPoint {
    pub linear_peak_mv: f64,
    pub peak_mv: f64,
}

/// One connection under one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionTraces {
    pub connection: Connection,
    /// Set when the frozen simulation excluded the connection.
    pub excluded: Option<String>,
    pub soma_rest_mv: f64,
    /// First baseline test spike, start and end of induction (ms).
    pub c01_start_ms: f64,
    pub induction_start_ms: f64,
    pub induction_end_ms: f64,
    pub calib_pre: Timeline,
    pub calib_post: Timeline,
    pub induction: Timeline,
    pub synapses: Vec<SynapseTraces>,
    /// Empty: test EPSPs summed linearly.
    pub summation: Vec<SummationPoint>,
}

/// One protocol's connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolTraces {
    pub protocol: InVitroProtocol,
    pub pathway: String,
    pub g_scale: f64,
    pub block_depression: bool,
    pub test_spikes: usize,
    pub connections: Vec<ConnectionTraces>,
}

/// The whole cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceCache {
    pub identity: CacheIdentity,
    pub protocols: Vec<ProtocolTraces>,
}

impl TraceCache {
    /// Structural checks: version and consistent lengths.
    pub fn validate(&self) -> Result<()> {
        let bad = |p: String| Err(Error::Config(format!("trace cache: {p}")));
        if self.identity.format_version != FORMAT_VERSION {
            return bad(format!(
                "format version {} (this program reads {FORMAT_VERSION})",
                self.identity.format_version
            ));
        }
        for p in &self.protocols {
            for c in &p.connections {
                if c.excluded.is_some() {
                    continue;
                }
                let where_ = format!("protocol {}, connection {}", p.protocol.protocol_id, c.connection.id);
                for t in [&c.calib_pre, &c.calib_post, &c.induction] {
                    if t.gap.len() != t.widths_ms.len() || t.widths_ms.iter().any(|w| !(*w > 0.0 && w.is_finite())) {
                        return bad(format!("{where_}: malformed timeline"));
                    }
                }
                if c.summation
                    .iter()
                    .any(|p| !(p.linear_peak_mv > 0.0 && p.linear_peak_mv.is_finite() && p.peak_mv.is_finite()))
                {
                    return bad(format!(
                        "{where_}: summation points need finite peaks, the linear one > 0"
                    ));
                }
                if c.synapses.len() != c.connection.contacts.len() {
                    return bad(format!("{where_}: synapse count differs from contacts"));
                }
                for (i, s) in c.synapses.iter().enumerate() {
                    if s.calib_pre.len() != c.calib_pre.len()
                        || s.calib_post.len() != c.calib_post.len()
                        || s.induction.len() != c.induction.len()
                        || s.induction_moment.len() != c.induction.len()
                        || !(s.nmda_drive.is_empty() || s.nmda_drive.len() == c.induction.len())
                        || s.epsp_depressed.len() != s.epsp_potentiated.len()
                        || s.epsp_depressed.is_empty()
                        || s.nrrp == 0
                    {
                        return bad(format!("{where_}, synapse {i}: lengths do not match the timelines"));
                    }
                }
                if c.synapses
                    .iter()
                    .any(|s| s.epsp_depressed.len() != c.synapses[0].epsp_depressed.len())
                {
                    return bad(format!("{where_}: EPSP waveforms differ in length"));
                }
            }
        }
        Ok(())
    }

    /// Total stored values (for size reports).
    pub fn stored_values(&self) -> usize {
        self.protocols
            .iter()
            .flat_map(|p| &p.connections)
            .flat_map(|c| &c.synapses)
            .map(|s| {
                s.calib_pre.len()
                    + s.calib_post.len()
                    + 2 * s.induction.len()
                    + s.nmda_drive.len()
                    + 2 * s.epsp_depressed.len()
            })
            .sum()
    }
}
