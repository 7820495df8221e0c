//! Loading the datasets, cells and rule parameters a command needs.

use crate::cell::{load_cell, CellModel};
use crate::pathway::{find_recipe, load_connections, PathwayRecipe};
use crate::protocol::{InVitroProtocol, ProtocolJob};
use crate::synapse::RuleParams;
use anyhow::{anyhow, bail, Context};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the datasets come from (default: the copies embedded at build time).
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// In-vitro protocol table (CSV); default: datasets/invitro_protocols.csv as built in.
    #[arg(long)]
    pub protocols_file: Option<PathBuf>,
    /// Pathway recipes (CSV); default: datasets/pathways.csv as built in.
    #[arg(long)]
    pub pathways_file: Option<PathBuf>,
}

pub struct Datasets {
    pub protocols: Vec<InVitroProtocol>,
    pub recipes: Vec<PathwayRecipe>,
    labels: [String; 2],
    cells: std::sync::Mutex<BTreeMap<String, Arc<CellModel>>>,
}

impl Datasets {
    pub fn load(args: &DataArgs) -> anyhow::Result<Datasets> {
        let (recipes, recipe_label) = match &args.pathways_file {
            Some(p) => (crate::pathway::load_recipes(p)?, p.display().to_string()),
            None => (
                crate::pathway::embedded_recipes()?,
                "datasets/pathways.csv (built in)".to_string(),
            ),
        };
        let (protocols, protocol_label) = match &args.protocols_file {
            Some(p) => (
                crate::protocol::load_protocols_checked(p, &recipes)?,
                p.display().to_string(),
            ),
            None => (
                crate::protocol::embedded_protocols()?,
                "datasets/invitro_protocols.csv (built in)".to_string(),
            ),
        };
        Ok(Datasets {
            protocols,
            recipes,
            labels: [protocol_label, recipe_label],
            cells: Default::default(),
        })
    }

    /// Protocols by id, in the order given; "all" selects every row.
    pub fn select(&self, ids: &[String]) -> anyhow::Result<Vec<InVitroProtocol>> {
        if ids.len() == 1 && ids[0] == "all" {
            return Ok(self.protocols.clone());
        }
        ids.iter()
            .map(|id| {
                self.protocols
                    .iter()
                    .find(|p| &p.protocol_id == id)
                    .cloned()
                    .ok_or_else(|| {
                        let known: Vec<&str> = self.protocols.iter().map(|p| p.protocol_id.as_str()).collect();
                        anyhow!("unknown protocol '{id}' (known: {})", known.join(", "))
                    })
            })
            .collect()
    }

    pub fn recipe(&self, pathway: &str) -> anyhow::Result<&PathwayRecipe> {
        find_recipe(&self.recipes, pathway).ok_or_else(|| anyhow!("no recipe for pathway '{pathway}'"))
    }

    /// The postsynaptic cell of a pathway, built once.
    pub fn cell(&self, recipe: &PathwayRecipe) -> anyhow::Result<Arc<CellModel>> {
        let mut cells = self.cells.lock().expect("cell cache lock");
        if let Some(c) = cells.get(&recipe.post_cell) {
            return Ok(c.clone());
        }
        let desc = load_cell(&recipe.post_cell).with_context(|| format!("pathway {}", recipe.pathway))?;
        let cell = Arc::new(CellModel::build(&desc, 37.0)?);
        cells.insert(recipe.post_cell.clone(), cell.clone());
        Ok(cell)
    }

    /// One job per protocol: `n` connections sampled with `seed`, or the
    /// connections of a file (which must belong to the protocol's pathway).
    pub fn jobs(
        &self,
        protocols: &[InVitroProtocol],
        n: usize,
        seed: u64,
        file: Option<&Path>,
    ) -> anyhow::Result<Vec<ProtocolJob>> {
        let given = file.map(load_connections).transpose()?;
        protocols
            .iter()
            .map(|p| {
                let recipe = self.recipe(&p.pathway_id())?;
                let cell = self.cell(recipe)?;
                match &given {
                    None => Ok(ProtocolJob::sampled(p, recipe, cell, n, seed)?),
                    Some(sample) => {
                        if sample.pathway != recipe.pathway {
                            bail!(
                                "{}: connections of pathway {} cannot run protocol {} of pathway {}",
                                file.map(|f| f.display().to_string()).unwrap_or_default(),
                                sample.pathway,
                                p.protocol_id,
                                recipe.pathway
                            );
                        }
                        Ok(ProtocolJob {
                            protocol: p.clone(),
                            pathway: recipe.pathway.clone(),
                            g_scale: recipe.g_scale,
                            cell,
                            connections: sample.connections.clone(),
                        })
                    }
                }
            })
            .collect()
    }

    pub fn provenance(&self) -> serde_json::Value {
        serde_json::json!({"protocols": self.labels[0], "pathways": self.labels[1]})
    }
}

/// Rule parameters from a JSON file (the 11 parameters, or a fit's
/// best.json) or a built-in name.
pub fn load_params(name_or_path: &str) -> anyhow::Result<RuleParams> {
    if name_or_path == "chindemi2022" {
        return Ok(RuleParams::chindemi2022());
    }
    let text = std::fs::read_to_string(name_or_path).with_context(|| {
        format!("reading rule parameters '{name_or_path}' (a JSON file, or the built-in name chindemi2022)")
    })?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{name_or_path}: not JSON"))?;
    // A fit's best.json holds the parameters under "parameters".
    if let Some(inner) = value.get_mut("parameters").filter(|v| v.is_object()) {
        value = inner.take();
    }
    let params: RuleParams = serde_json::from_value(value)
        .with_context(|| format!("{name_or_path}: not a JSON object of the 11 rule parameters"))?;
    params.validate().with_context(|| name_or_path.to_string())?;
    Ok(params)
}
