//! Timing × frequency maps (paper Fig. 3c, Fig. 6): one template protocol
//! varied over pairing frequency and spike timing on one pathway.

use super::batch::ProtocolResult;
use super::table::InVitroProtocol;
use crate::pathway::PathwayRecipe;
use serde::Serialize;

/// The grid of protocols: the template's induction (pairs per burst,
/// bursts, burst period, measure, [Ca²⁺]o, manipulation) on `recipe`'s
/// pathway, at every frequency × Δt. Ids are `map_<f>hz_<Δt>ms`; the
/// in-vitro columns keep the template's values and mean nothing here.
pub fn grid_protocols(
    template: &InVitroProtocol,
    recipe: &PathwayRecipe,
    frequencies_hz: &[f64],
    delta_ts_ms: &[f64],
) -> Vec<InVitroProtocol> {
    let mut out = Vec::with_capacity(frequencies_hz.len() * delta_ts_ms.len());
    for &dt in delta_ts_ms {
        for &f in frequencies_hz {
            out.push(InVitroProtocol {
                protocol_id: format!("map_{f}hz_{dt:+}ms"),
                pre_type: recipe.pre_type.clone(),
                post_type: recipe.post_type.clone(),
                frequency_hz: f,
                delta_t_ms: dt,
                reference: format!("map from template {}", template.protocol_id),
                ..template.clone()
            });
        }
    }
    out
}

/// A row of map.csv.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapRow {
    pub pathway: String,
    pub frequency_hz: f64,
    pub delta_t_ms: f64,
    pub cao_mm: f64,
    pub n_connections: usize,
    pub n_excluded: usize,
    pub epsp_ratio_mean: f64,
    pub epsp_ratio_sem: f64,
}

/// The map rows of a grid's results (NaN mean when every connection was excluded).
pub fn map_rows(results: &[ProtocolResult], cao_mm: impl Fn(&InVitroProtocol) -> f64) -> Vec<MapRow> {
    results
        .iter()
        .map(|r| {
            let ratios = r.ratios();
            let n = ratios.len();
            let (mean, sem) = match n {
                0 => (f64::NAN, f64::NAN),
                1 => (ratios[0], f64::NAN),
                _ => {
                    let s = r.summary();
                    (s.epsp_ratio_mean, s.epsp_ratio_sem)
                }
            };
            MapRow {
                pathway: r.pathway.clone(),
                frequency_hz: r.protocol.frequency_hz,
                delta_t_ms: r.protocol.delta_t_ms,
                cao_mm: cao_mm(&r.protocol),
                n_connections: n,
                n_excluded: r.outcomes.len() - n,
                epsp_ratio_mean: mean,
                epsp_ratio_sem: sem,
            }
        })
        .collect()
}
