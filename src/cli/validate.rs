//! `plastifit validate`: a rule on freshly sampled connections under
//! held-out (or any) protocols, judged by Welch tests, with a report.

use super::data::{load_params, DataArgs, Datasets};
use super::output::{write_atomic, write_json};
use super::run_folder::RunFolder;
use super::simulate::{write_results, VariantArg};
use crate::objective::Objective;
use crate::protocol::{run_protocols, ProtocolJob, ProtocolResult, RunnerSettings};
use crate::replay::replay_jobs;
use crate::report::validation::{
    cao_figure, distributions_figure, exclude_small_baselines, frequency_figure, means_figure, validation_row, Role,
    ValidationRow, ALPHA,
};
use crate::report::{Align, Page, Plot, Table};
use crate::synapse::{RuleParams, RuleVariant, PARAM_NAMES};
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A fit's run folder: its best solution, objective, datasets and seed.
    #[arg(long, conflicts_with = "params", required_unless_present = "params")]
    pub run: Option<PathBuf>,
    /// Rule parameters instead of a run: a JSON file of the 11 parameters
    /// (or a best.json), or "chindemi2022".
    #[arg(long)]
    pub params: Option<String>,
    /// Objective naming the training and held-out protocols (default: the
    /// run's, else objectives/chindemi2022.json).
    #[arg(long)]
    pub objective: Option<PathBuf>,
    /// "heldout", "train", "all" (every dataset row) or protocol ids, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "heldout")]
    pub protocols: Vec<String>,
    /// Connections sampled per protocol (default: the objective's).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Seed of the new sample (default: the objective's sample seed + 1, so
    /// the connections differ from the fitted ones).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate by trace replay instead of full simulation (marked in the report).
    #[arg(long)]
    pub replay: bool,
    /// Extracellular calcium (mM) for every protocol instead of each row's own
    /// (1.2 predicts in vivo).
    #[arg(long, conflicts_with = "compare_cao")]
    pub cao: Option<f64>,
    /// Run everything at each of these [Ca²⁺]o (mM) and compare, e.g. 2.0,1.2.
    #[arg(long, value_delimiter = ',')]
    pub compare_cao: Vec<f64>,
    /// Exclude connections whose baseline EPSP is below this (mV); off by default.
    #[arg(long)]
    pub min_baseline_epsp_mv: Option<f64>,
    /// Depression term (default: the objective's).
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// What the validation runs on, resolved from a run or from parameters.
struct Setup {
    rule: RuleParams,
    source: String,
    objective: Objective,
    data: Datasets,
}

fn setup(args: &ValidateArgs) -> anyhow::Result<Setup> {
    match (&args.run, &args.params) {
        (Some(run), _) => {
            let folder = RunFolder::new(run);
            let config = folder.read_config()?;
            let best = folder.best();
            let rule = load_params(best.to_str().context("run folder path is not UTF-8")?)
                .with_context(|| format!("{}: the run has no best solution yet", run.display()))?;
            let objective = match &args.objective {
                Some(p) => Objective::load(p)?,
                None => config.objective.clone(),
            };
            let data = if args.data.protocols_file.is_some() || args.data.pathways_file.is_some() {
                Datasets::load(&args.data)?
            } else {
                Datasets::load(&DataArgs {
                    protocols_file: config.datasets.protocols_file.clone(),
                    pathways_file: config.datasets.pathways_file.clone(),
                })?
            };
            Ok(Setup {
                rule,
                source: format!("best solution of run {}", run.display()),
                objective,
                data,
            })
        }
        (None, Some(params)) => {
            let default = PathBuf::from("objectives/chindemi2022.json");
            let path = args.objective.as_ref().unwrap_or(&default);
            Ok(Setup {
                rule: load_params(params)?,
                source: format!("parameters {params}"),
                objective: Objective::load(path).with_context(|| {
                    format!(
                        "the objective naming training and held-out protocols ({})",
                        path.display()
                    )
                })?,
                data: Datasets::load(&args.data)?,
            })
        }
        (None, None) => bail!("give --run RUN or --params PARAMS"),
    }
}

fn protocol_ids(args: &ValidateArgs, objective: &Objective) -> Vec<String> {
    match args.protocols.as_slice() {
        [one] if one == "heldout" => objective.heldout.clone(),
        [one] if one == "train" => objective.protocol_ids(),
        other => other.to_vec(),
    }
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let Setup {
        rule,
        source,
        objective,
        data,
    } = setup(&args)?;
    let ids = protocol_ids(&args, &objective);
    if ids.is_empty() {
        bail!(
            "no protocols to validate (the objective '{}' holds none out)",
            objective.name
        );
    }
    let protocols = data.select(&ids)?;
    let n = args.connections.unwrap_or(objective.connections_per_protocol);
    let seed = args.seed.unwrap_or(objective.sample_seed.wrapping_add(1));
    let variant: RuleVariant = args.variant.map_or(objective.variant, Into::into);
    let jobs = data.jobs(&protocols, n, seed, None)?;
    let training = objective.protocol_ids();
    let role = |id: &str| {
        if training.iter().any(|t| t == id) {
            Role::Train
        } else {
            Role::Heldout
        }
    };
    let caos: Vec<Option<f64>> = if args.compare_cao.is_empty() {
        vec![args.cao]
    } else {
        args.compare_cao.iter().map(|&c| Some(c)).collect()
    };
    for c in caos.iter().flatten() {
        if !(c.is_finite() && *c > 0.0) {
            bail!("[Ca2+]o must be a positive number of mM, got {c}");
        }
    }

    let mut rows: Vec<ValidationRow> = Vec::new();
    let mut runs: Vec<(Option<f64>, Vec<ProtocolResult>)> = Vec::new();
    let mut excluded_small = 0;
    for &cao in &caos {
        let settings = RunnerSettings {
            variant,
            cao_override_mm: cao,
            ..RunnerSettings::default()
        };
        let mut results = simulate_all(&jobs, &rule, &settings, args.replay, cao)?;
        if let Some(min) = args.min_baseline_epsp_mv {
            excluded_small += results
                .iter_mut()
                .map(|r| exclude_small_baselines(r, min))
                .sum::<usize>();
        }
        for r in &results {
            rows.push(validation_row(
                r,
                role(&r.protocol.protocol_id),
                cao.unwrap_or(r.protocol.cao_mm),
            ));
        }
        let sub = match (caos.len(), cao) {
            (1, _) | (_, None) => args.out.clone(),
            (_, Some(c)) => args.out.join(format!("cao_{c}_mm")),
        };
        write_results(&sub, &results)?;
        runs.push((cao, results));
    }

    write_table(&args.out.join("validation.csv"), &rows)?;
    let engine = if args.replay { "trace replay" } else { "full simulation" };
    let provenance = serde_json::json!({
        "command": "validate",
        "source": source,
        "params": rule,
        "objective": objective.name,
        "protocols": ids,
        "connections_per_protocol": n,
        "sample_seed": seed,
        "fit_sample_seed": objective.sample_seed,
        "engine": engine,
        "variant": variant,
        "cao_mm": caos,
        "min_baseline_epsp_mv": args.min_baseline_epsp_mv,
        "connections_excluded_by_min_baseline": excluded_small,
        "datasets": data.provenance(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    write_json(&args.out.join("config.json"), &provenance)?;
    let page = report_page(&rule, &provenance, &rows, &runs)?;
    for (name, svg) in page.figures() {
        write_atomic(&args.out.join(name), svg.as_bytes())?;
    }
    write_atomic(&args.out.join("report.md"), page.to_markdown().as_bytes())?;
    write_atomic(&args.out.join("report.html"), page.to_html().as_bytes())?;
    print_rows(&rows);
    eprintln!(
        "wrote {}/validation.csv, report.md, report.html and figures",
        args.out.display()
    );
    Ok(())
}

fn simulate_all(
    jobs: &[ProtocolJob],
    rule: &RuleParams,
    settings: &RunnerSettings,
    replay: bool,
    cao: Option<f64>,
) -> anyhow::Result<Vec<ProtocolResult>> {
    let total: usize = jobs.iter().map(|j| j.connections.len()).sum();
    let what = match cao {
        Some(c) => format!("connections at [Ca2+]o {c} mM"),
        None => "connections".to_string(),
    };
    let bar = super::progress_bar(total as u64, &what);
    let results = if replay {
        replay_jobs(jobs, rule, settings, &|| bar.inc(1))?
    } else {
        run_protocols(jobs, rule, settings, &|| bar.inc(1))?
    };
    bar.finish_and_clear();
    Ok(results)
}

fn write_table(path: &Path, rows: &[ValidationRow]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    write_atomic(path, &w.into_inner()?)?;
    Ok(())
}

fn fmt(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn rows_table(rows: &[&ValidationRow]) -> anyhow::Result<Table> {
    let mut t = Table::new([
        "protocol",
        "pathway",
        "role",
        "[Ca]o mM",
        "n",
        "in silico",
        "in vitro",
        "error (SEM)",
        "t",
        "df",
        "p",
        "p < 0.05",
    ])
    .with_align(&[
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Left,
    ])?;
    for r in rows {
        t.push_row([
            r.protocol_id.clone(),
            r.pathway.clone(),
            r.role.name().to_string(),
            format!("{}", r.cao_mm),
            format!("{}", r.n),
            format!("{:.3} ± {:.3}", r.insilico_mean, r.insilico_sem),
            format!("{:.3} ± {:.3} (n {})", r.invitro_mean, r.invitro_sem, r.invitro_n),
            format!("{:.2}", r.error_sem),
            fmt(r.welch_t, 2),
            fmt(r.welch_df, 1),
            fmt(r.p_value, 4),
            r.significant_0_05
                .map_or("–", |s| if s { "yes" } else { "no" })
                .to_string(),
        ])?;
    }
    Ok(t)
}

fn report_page(
    rule: &RuleParams,
    provenance: &serde_json::Value,
    rows: &[ValidationRow],
    runs: &[(Option<f64>, Vec<ProtocolResult>)],
) -> anyhow::Result<Page> {
    let mut page = Page::new("Validation of a calcium-based plasticity rule");
    page.subtitle = Some(format!(
        "{} · {} · {} connections per protocol, sample seed {}",
        provenance["source"].as_str().unwrap_or_default(),
        provenance["engine"].as_str().unwrap_or_default(),
        provenance["connections_per_protocol"],
        provenance["sample_seed"]
    ));
    let mut params = Table::new(["parameter", "value"]).with_align(&[Align::Left, Align::Right])?;
    for (name, value) in PARAM_NAMES.iter().zip(rule.values()) {
        params.push_row([name.to_string(), format!("{value:.6}")])?;
    }
    page.section("Rule")
        .table(params, Some("Rule parameters validated.".into()));

    for (cao, results) in runs {
        let label = cao.map_or(String::new(), |c| format!(" at [Ca²⁺]o {c} mM"));
        let slug = cao.map_or(String::new(), |c| format!("_cao_{c}_mm"));
        let here: Vec<&ValidationRow> = rows.iter().filter(|r| cao.is_none_or(|c| r.cao_mm == c)).collect();
        let tested = here.iter().filter(|r| r.p_value.is_some()).count();
        let differ = here.iter().filter(|r| r.significant_0_05 == Some(true)).count();
        let section = page.section(format!("Protocols{label}"));
        section
            .paragraph(format!(
                "Each protocol's in-silico EPSP ratios (one per connection) against the published mean ± SEM \
                 over its n cells, by Welch's two-sided unequal-variances t-test. {differ} of {tested} tested \
                 protocols differ significantly (p < {ALPHA}); error is |in silico − in vitro| in in-vitro SEM."
            ))
            .table(rows_table(&here)?, Some(format!("Validation{label}.")));
        let refs: Vec<&ProtocolResult> = results.iter().collect();
        section
            .figure(
                format!("means{slug}.svg"),
                &means_figure(&format!("In silico vs in vitro{label}"), &here)?,
                "Mean EPSP ratio ± SEM per protocol; dashed line: no change.",
            )
            .figure(
                format!("distributions{slug}.svg"),
                &distributions_figure(&format!("EPSP ratio per connection{label}"), &refs)?,
                "In-silico EPSP ratios of every connection, with the in-vitro mean ± SEM beside.",
            );
        for (pathway, plot) in frequency_plots(&here)? {
            section.figure(
                format!("frequency_{pathway}{slug}.svg"),
                &plot,
                format!("{pathway}: EPSP ratio against pairing frequency at each protocol's Δt."),
            );
        }
    }
    if runs.len() > 1 {
        let groups: Vec<(f64, Vec<&ValidationRow>)> = runs
            .iter()
            .filter_map(|(c, _)| *c)
            .map(|c| (c, rows.iter().filter(|r| r.cao_mm == c).collect()))
            .collect();
        page.section("In vitro vs in vivo").figure(
            "compare_cao.svg",
            &cao_figure(&groups)?,
            "The same connections and protocols at each extracellular calcium level (in vivo: 1.2 mM).",
        );
    }
    page.section("Provenance")
        .code(serde_json::to_string_pretty(provenance)?);
    Ok(page)
}

/// One frequency plot per pathway that has protocols at two or more frequencies.
fn frequency_plots(rows: &[&ValidationRow]) -> anyhow::Result<Vec<(String, Plot)>> {
    let mut pathways: Vec<&str> = rows.iter().map(|r| r.pathway.as_str()).collect();
    pathways.sort();
    pathways.dedup();
    let mut out = Vec::new();
    for p in pathways {
        let mine: Vec<&ValidationRow> = rows.iter().copied().filter(|r| r.pathway == p).collect();
        let mut freqs: Vec<f64> = mine.iter().map(|r| r.frequency_hz).collect();
        freqs.sort_by(f64::total_cmp);
        freqs.dedup();
        if freqs.len() >= 2 {
            out.push((p.to_string(), frequency_figure(p, &mine)?));
        }
    }
    Ok(out)
}

fn print_rows(rows: &[ValidationRow]) {
    println!(
        "{:<10} {:<14} {:<7} {:>5} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "protocol", "pathway", "role", "cao", "n", "insilico", "invitro", "err_sem", "p", "p<0.05"
    );
    for r in rows {
        println!(
            "{:<10} {:<14} {:<7} {:>5} {:>4} {:>8.4} {:>8.4} {:>8.2} {:>8} {:>8}",
            r.protocol_id,
            r.pathway,
            r.role.name(),
            r.cao_mm,
            r.n,
            r.insilico_mean,
            r.invitro_mean,
            r.error_sem,
            fmt(r.p_value, 4),
            r.significant_0_05.map_or("-", |s| if s { "yes" } else { "no" })
        );
    }
}
