//! Cells as data: the JSON cell description (SPEC §3).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Which part of the neuron a section belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionTree {
    Soma,
    Basal,
    Apical,
    Axon,
}

/// Channel density (pS/µm²) as a function of path distance d (µm) from the
/// soma centre to the segment centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "lowercase")]
pub enum Density {
    Uniform {
        value: f64,
    },
    /// at_soma·exp(−d/decay_um)
    Exponential {
        at_soma: f64,
        decay_um: f64,
    },
    /// at_soma + (at_distance − at_soma)·d/distance_um
    Linear {
        at_soma: f64,
        at_distance: f64,
        distance_um: f64,
    },
}

impl Density {
    pub fn at(&self, d_um: f64) -> f64 {
        match *self {
            Density::Uniform { value } => value,
            Density::Exponential { at_soma, decay_um } => at_soma * (-d_um / decay_um).exp(),
            Density::Linear {
                at_soma,
                at_distance,
                distance_um,
            } => at_soma + (at_distance - at_soma) * d_um / distance_um,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub gbar: Density,
    #[serde(default)]
    pub vshift_mv: f64,
    #[serde(default)]
    pub vshift2_mv: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionSpec {
    pub name: String,
    pub parent: Option<String>,
    /// Where on the parent (0..1) this section's 0 end attaches.
    #[serde(default)]
    pub parent_x: f64,
    pub tree: SectionTree,
    pub length_um: f64,
    /// Diameter at the 0 and 1 ends (linear taper).
    pub diam_um: [f64; 2],
    pub nseg: usize,
    pub ra_ohm_cm: f64,
    pub cm_uf_cm2: f64,
    pub g_pas_s_cm2: f64,
    pub e_pas_mv: f64,
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellDescription {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    pub ena_mv: f64,
    pub ek_mv: f64,
    pub eh_mv: f64,
    pub sections: Vec<SectionSpec>,
}

/// Channel names the engine implements (Bahl et al. 2012 kinetics).
pub const CHANNEL_NAMES: [&str; 6] = ["nat", "kfast", "kslow", "nap", "km", "ih"];

impl CellDescription {
    pub fn from_json_str(text: &str, label: &str) -> Result<CellDescription> {
        let desc: CellDescription = serde_json::from_str(text).map_err(|e| Error::File {
            file: label.into(),
            problem: format!("not a valid cell description: {e}"),
        })?;
        desc.validate().map_err(|problem| Error::File {
            file: label.into(),
            problem,
        })?;
        Ok(desc)
    }

    pub fn load(path: &Path) -> Result<CellDescription> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Structural checks; the message names the section and field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut seen: Vec<&str> = Vec::new();
        for (i, s) in self.sections.iter().enumerate() {
            let at = format!("section '{}'", s.name);
            match (&s.parent, i) {
                (None, 0) if s.tree == SectionTree::Soma => {}
                (None, 0) => return Err(format!("{at}: the first section must be the soma (tree \"soma\")")),
                (None, _) => return Err(format!("{at}: only the first section may have no parent")),
                (Some(p), _) if !seen.contains(&p.as_str()) => {
                    return Err(format!("{at}: parent '{p}' is not listed before it"))
                }
                _ => {}
            }
            if seen.contains(&s.name.as_str()) {
                return Err(format!("{at}: duplicate section name"));
            }
            let positive = [
                ("length_um", s.length_um),
                ("diam_um[0]", s.diam_um[0]),
                ("diam_um[1]", s.diam_um[1]),
                ("ra_ohm_cm", s.ra_ohm_cm),
                ("cm_uf_cm2", s.cm_uf_cm2),
            ];
            for (field, v) in positive {
                if !(v > 0.0 && v.is_finite()) {
                    return Err(format!("{at}: {field} must be a positive number, got {v}"));
                }
            }
            if s.nseg == 0 {
                return Err(format!("{at}: nseg must be at least 1"));
            }
            if !(0.0..=1.0).contains(&s.parent_x) {
                return Err(format!("{at}: parent_x must lie in [0, 1], got {}", s.parent_x));
            }
            if s.g_pas_s_cm2 < 0.0 || !s.e_pas_mv.is_finite() {
                return Err(format!("{at}: g_pas_s_cm2 must be ≥ 0 and e_pas_mv finite"));
            }
            for name in s.channels.keys() {
                if !CHANNEL_NAMES.contains(&name.as_str()) {
                    return Err(format!(
                        "{at}: unknown channel '{name}' (known: {})",
                        CHANNEL_NAMES.join(", ")
                    ));
                }
            }
            seen.push(&s.name);
        }
        if self.sections.is_empty() {
            return Err("no sections".into());
        }
        Ok(())
    }
}
