//! A synthetic protocol engine, to test and benchmark the fitting machinery
//! (optimiser, run folders, checkpoints, resumption) without simulating
//! anything. Its results say nothing about synapses.

use super::engine::ProtocolEngine;
use crate::protocol::{ConnectionOutcome, InVitroProtocol, ProtocolResult};
use crate::synapse::{RuleParams, PARAM_BOUNDS};
use crate::Result;

/// A smooth, cheap, deterministic stand-in for simulation.
///
/// With `x` the 11 parameters scaled to [0, 1] over the paper's box
/// ([`PARAM_BOUNDS`]) and `d = x − x*`, where `x*` is the published best
/// ([`RuleParams::chindemi2022`]), protocol `p` has the in-silico mean
///
/// ```text
/// mean_p = in-vitro mean_p + in-vitro SEM_p · S · (Σᵢ w_pi dᵢ² + (Σᵢ u_pi dᵢ)²)
/// ```
///
/// with `S` = [`SyntheticEngine::SCALE`] and weights `w_pi ∈ [0.5, 1.5)`,
/// `u_pi ∈ [−0.5, 0.5)` drawn by hashing the protocol id and the parameter
/// index. Every protocol's error is therefore `S·(…) ≥ 0` SEM, zero at the
/// published best and only there, and the minimax optimum of any objective
/// with every parameter free is known. Each protocol reports
/// `connections` connections whose ratios spread symmetrically around the
/// mean.
#[derive(Debug, Clone)]
pub struct SyntheticEngine {
    protocols: Vec<InVitroProtocol>,
    connections: usize,
}

impl SyntheticEngine {
    /// Errors, in SEM, per unit of the quadratic form: a candidate drawn
    /// uniformly in the box is typically hundreds of SEM away, and only a
    /// small neighbourhood of the optimum is within 1 SEM on every protocol.
    pub const SCALE: f64 = 200.0;

    /// An engine for these protocols (objective order), reporting
    /// `connections` (at least 1) connections each.
    pub fn new(protocols: Vec<InVitroProtocol>, connections: usize) -> Self {
        SyntheticEngine {
            protocols,
            connections: connections.max(1),
        }
    }

    /// The parameters at which every protocol's error is zero.
    pub fn optimum() -> RuleParams {
        RuleParams::chindemi2022()
    }

    /// Distance of protocol `protocol_id`'s in-silico mean from its in-vitro
    /// mean, in SEM.
    pub fn error_sem(protocol_id: &str, params: &RuleParams) -> f64 {
        let seed = fnv1a(protocol_id.as_bytes());
        let optimum = Self::optimum().values();
        let mut squares = 0.0;
        let mut coupled = 0.0;
        for (i, ((v, o), (lo, hi))) in params.values().iter().zip(optimum).zip(PARAM_BOUNDS).enumerate() {
            let d = (v - o) / (hi - lo);
            let w = 0.5 + unit(seed, 2 * i as u64);
            let u = unit(seed, 2 * i as u64 + 1) - 0.5;
            squares += w * d * d;
            coupled += u * d;
        }
        Self::SCALE * (squares + coupled * coupled)
    }
}

impl ProtocolEngine for SyntheticEngine {
    fn run(&self, params: &RuleParams) -> Result<Vec<ProtocolResult>> {
        let n = self.connections;
        Ok(self
            .protocols
            .iter()
            .map(|p| {
                let mean = p.epsp_ratio_mean + p.epsp_ratio_sem * Self::error_sem(&p.protocol_id, params);
                let outcomes = (0..n)
                    .map(|k| {
                        let spread = (k as f64 - (n - 1) as f64 / 2.0) / n as f64;
                        let ratio = mean + p.epsp_ratio_sem * spread;
                        Ok(ConnectionOutcome {
                            connection_id: k,
                            synapses: 1,
                            apical_fraction: 0.0,
                            baseline_epsp_mv: 1.0,
                            after_epsp_mv: ratio,
                            baseline_slope_mv_per_ms: 1.0,
                            after_slope_mv_per_ms: ratio,
                            epsp_ratio: ratio,
                            flipped_up: 0,
                            flipped_down: 0,
                        })
                    })
                    .collect();
                ProtocolResult {
                    protocol: p.clone(),
                    pathway: p.pathway_id(),
                    outcomes,
                }
            })
            .collect())
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A number in [0, 1) from splitmix64 of `seed` and `index`.
fn unit(seed: u64, index: u64) -> f64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::embedded_protocols;

    fn engine(ids: &[&str], n: usize) -> SyntheticEngine {
        let table = embedded_protocols().unwrap();
        let rows = ids
            .iter()
            .map(|id| table.iter().find(|p| p.protocol_id == *id).unwrap().clone())
            .collect();
        SyntheticEngine::new(rows, n)
    }

    fn mean(r: &ProtocolResult) -> f64 {
        let x = r.ratios();
        x.iter().sum::<f64>() / x.len() as f64
    }

    #[test]
    fn zero_error_at_the_optimum_only_and_deterministic() {
        let e = engine(&["mrk97_01", "sjh06_02"], 7);
        let at = e.run(&SyntheticEngine::optimum()).unwrap();
        assert_eq!(at.len(), 2);
        for r in &at {
            assert_eq!(r.outcomes.len(), 7);
            let err = (mean(r) - r.protocol.epsp_ratio_mean).abs() / r.protocol.epsp_ratio_sem;
            assert!(err < 1e-9, "{err}");
        }
        let mut v = SyntheticEngine::optimum().values();
        v[4] += 0.4;
        let off = RuleParams::from_values(&v).unwrap();
        let a = SyntheticEngine::error_sem("mrk97_01", &off);
        let b = SyntheticEngine::error_sem("sjh06_02", &off);
        assert!(a > 0.0 && b > 0.0 && a != b, "{a} {b}");
        let r = e.run(&off).unwrap();
        assert!(((mean(&r[0]) - r[0].protocol.epsp_ratio_mean) / r[0].protocol.epsp_ratio_sem - a).abs() < 1e-9);
        assert_eq!(SyntheticEngine::error_sem("mrk97_01", &off), a);
        // Smooth: the error grows quadratically near the optimum.
        v[4] = SyntheticEngine::optimum().a01 + 0.04;
        let near = SyntheticEngine::error_sem("mrk97_01", &RuleParams::from_values(&v).unwrap());
        assert!((a / near - 100.0).abs() < 1e-6, "{}", a / near);
    }

    #[test]
    fn weights_stay_in_their_ranges() {
        for i in 0..1000 {
            let x = unit(fnv1a(b"mrk97_07"), i);
            assert!((0.0..1.0).contains(&x));
        }
    }
}
