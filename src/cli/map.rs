//! `plastifit map`: the EPSP ratio over pairing frequency × spike timing
//! for one pathway or every pathway (the plasticitome), as CSV, SVG heat
//! maps and a report.

use super::data::{load_params, DataArgs, Datasets};
use super::output::{write_atomic, write_json};
use super::simulate::VariantArg;
use crate::protocol::map::{grid_protocols, map_rows, MapRow};
use crate::protocol::{run_protocols, ProtocolJob, ProtocolResult, RunnerSettings};
use crate::replay::replay_variants;
use crate::report::{heatmap, Align, Frame, HeatmapOptions, Page, Plot, Table};
use crate::synapse::{RuleParams, RuleVariant};
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Rule parameters: a JSON file of the 11 parameters (or a best.json), or "chindemi2022".
    #[arg(long, default_value = "chindemi2022")]
    pub params: String,
    /// Pathway (e.g. L5TTPC-L5TTPC), or "all" for every pathway of the pathway table.
    #[arg(long)]
    pub pathway: String,
    /// Pairing frequencies (Hz), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,5,10,20,40")]
    pub frequencies: Vec<f64>,
    /// Spike timings Δt = t_post − t_pre (ms), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        default_value = "-50,-40,-30,-20,-10,-5,5,10,20,30,40,50"
    )]
    pub delta_t: Vec<f64>,
    /// Protocol row whose induction the map varies (pairs per burst, bursts,
    /// burst period, measure, [Ca²⁺]o, manipulation).
    #[arg(long, default_value = "mrk97_07")]
    pub template: String,
    /// Extracellular calcium (mM) instead of the template's (1.2 predicts in vivo).
    #[arg(long)]
    pub cao: Option<f64>,
    /// Connections sampled per pathway (the same connections in every cell of the map).
    #[arg(long, default_value_t = 10)]
    pub connections: usize,
    /// Seed of the connection sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Full simulation of every cell instead of trace replay (slower).
    #[arg(long)]
    pub full: bool,
    /// Depression term.
    #[arg(long, value_enum, default_value = "paper")]
    pub variant: VariantArg,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn map(args: MapArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    if args.frequencies.is_empty() || args.delta_t.is_empty() {
        bail!("give at least one frequency and one Δt");
    }
    if let Some(f) = args.frequencies.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
        bail!("--frequencies: {f} is not a positive frequency in Hz");
    }
    if let Some(dt) = args.delta_t.iter().find(|d| !d.is_finite()) {
        bail!("--delta-t: {dt} is not a number of ms");
    }
    if let Some(c) = args.cao.filter(|c| !(c.is_finite() && *c > 0.0)) {
        bail!("--cao: {c} is not a positive concentration in mM");
    }
    let data = Datasets::load(&args.data)?;
    let rule = load_params(&args.params)?;
    let template = data.select(std::slice::from_ref(&args.template))?.remove(0);
    let pathways: Vec<String> = if args.pathway == "all" {
        data.recipes.iter().map(|r| r.pathway.clone()).collect()
    } else {
        vec![data.recipe(&args.pathway)?.pathway.clone()]
    };
    let settings = RunnerSettings {
        variant: args.variant.into(),
        cao_override_mm: args.cao,
        ..RunnerSettings::default()
    };
    let cells = args.frequencies.len() * args.delta_t.len();
    let bar = super::progress_bar(
        (pathways.len() * cells * args.connections) as u64,
        "cells × connections",
    );
    let mut rows: Vec<MapRow> = Vec::new();
    let mut all_results: Vec<ProtocolResult> = Vec::new();
    for pathway in &pathways {
        let recipe = data.recipe(pathway)?;
        let protocols = grid_protocols(&template, recipe, &args.frequencies, &args.delta_t);
        let job = ProtocolJob::sampled(&protocols[0], recipe, data.cell(recipe)?, args.connections, args.seed)?;
        let results = if args.full {
            let jobs: Vec<ProtocolJob> = protocols
                .iter()
                .map(|p| ProtocolJob {
                    protocol: p.clone(),
                    ..job.clone()
                })
                .collect();
            run_protocols(&jobs, &rule, &settings, &|| bar.inc(1))?
        } else {
            replay_variants(&job, &protocols, &rule, &settings, &|| bar.inc(1))?
        };
        rows.extend(map_rows(&results, |p| args.cao.unwrap_or(p.cao_mm)));
        all_results.extend(results);
    }
    bar.finish_and_clear();

    let mut csv = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        csv.serialize(r)?;
    }
    write_atomic(&args.out.join("map.csv"), &csv.into_inner()?)?;
    let mut conns = csv::Writer::from_writer(Vec::new());
    for r in &all_results {
        for row in r.connection_rows() {
            conns.serialize(row)?;
        }
    }
    write_atomic(&args.out.join("connections.csv"), &conns.into_inner()?)?;
    let provenance = serde_json::json!({
        "command": "map",
        "params": rule,
        "pathways": pathways,
        "frequencies_hz": args.frequencies,
        "delta_t_ms": args.delta_t,
        "template": template,
        "cao_mm_override": args.cao,
        "connections": args.connections,
        "seed": args.seed,
        "engine": if args.full { "full simulation" } else { "trace replay" },
        "variant": RuleVariant::from(args.variant),
        "datasets": data.provenance(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    write_json(&args.out.join("config.json"), &provenance)?;
    let page = map_page(&rule, &provenance, &pathways, &rows, &args)?;
    for (name, svg) in page.figures() {
        write_atomic(&args.out.join(name), svg.as_bytes())?;
    }
    write_atomic(&args.out.join("report.md"), page.to_markdown().as_bytes())?;
    write_atomic(&args.out.join("report.html"), page.to_html().as_bytes())?;
    eprintln!(
        "wrote {}/map.csv, connections.csv, report.md, report.html and one heat map per pathway",
        args.out.display()
    );
    Ok(())
}

/// Rows of one pathway as a Δt × frequency matrix (rows follow `delta_t`).
fn matrix(rows: &[&MapRow], frequencies: &[f64], delta_t: &[f64]) -> Vec<Vec<f64>> {
    delta_t
        .iter()
        .map(|&dt| {
            frequencies
                .iter()
                .map(|&f| {
                    rows.iter()
                        .find(|r| r.frequency_hz == f && r.delta_t_ms == dt)
                        .map_or(f64::NAN, |r| r.epsp_ratio_mean)
                })
                .collect()
        })
        .collect()
}

fn map_figure(pathway: &str, z: &[Vec<f64>], args: &MapArgs) -> anyhow::Result<Plot> {
    let frame = Frame::new(
        format!("{pathway}: EPSP ratio"),
        "pairing frequency (Hz)",
        "Δt = t_post − t_pre (ms)",
    );
    let options = HeatmapOptions {
        annotate: Some(2),
        ..HeatmapOptions::default()
    };
    Ok(heatmap(&frame, &args.frequencies, &args.delta_t, z, &options)?)
}

fn map_page(
    rule: &RuleParams,
    provenance: &serde_json::Value,
    pathways: &[String],
    rows: &[MapRow],
    args: &MapArgs,
) -> anyhow::Result<Page> {
    let mut page = Page::new("EPSP ratio over pairing frequency and spike timing");
    page.subtitle = Some(format!(
        "template {} · {} · {} connections per pathway, seed {}",
        args.template,
        provenance["engine"].as_str().unwrap_or_default(),
        args.connections,
        args.seed
    ));
    let mut params = Table::new(["parameter", "value"]).with_align(&[Align::Left, Align::Right])?;
    for (name, value) in crate::synapse::PARAM_NAMES.iter().zip(rule.values()) {
        params.push_row([name.to_string(), format!("{value:.6}")])?;
    }
    page.section("Rule").table(params, None);
    for pathway in pathways {
        let mine: Vec<&MapRow> = rows.iter().filter(|r| &r.pathway == pathway).collect();
        let z = matrix(&mine, &args.frequencies, &args.delta_t);
        let mut headers = vec!["Δt (ms)".to_string()];
        headers.extend(args.frequencies.iter().map(|f| format!("{f} Hz")));
        let mut table = Table::new(headers)
            .with_align(&std::iter::repeat_n(Align::Right, args.frequencies.len() + 1).collect::<Vec<_>>())?;
        for (dt, line) in args.delta_t.iter().zip(&z) {
            let mut cells = vec![format!("{dt:+}")];
            cells.extend(
                line.iter()
                    .map(|v| if v.is_finite() { format!("{v:.3}") } else { "–".into() }),
            );
            table.push_row(cells)?;
        }
        page.section(pathway.clone())
            .figure(
                format!("map_{pathway}.svg"),
                &map_figure(pathway, &z, args)?,
                format!("{pathway}: mean EPSP ratio over the sampled connections; 1 = no change."),
            )
            .table(table, Some(format!("{pathway}: mean EPSP ratio (after/before).")));
    }
    page.section("Provenance")
        .code(serde_json::to_string_pretty(provenance)?);
    Ok(page)
}
