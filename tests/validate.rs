//! `validate` and `map` from the command line: the Welch table recomputed
//! from the per-connection ratios, roles, in-vivo calcium, MK-801, the
//! baseline exclusion, well-formed figures and pages, bad input; and the
//! map's shared-calibration replay against per-protocol recording.

mod cli;

use cli::{failing, ok};
use plastifit::protocol::map::grid_protocols;
use plastifit::protocol::{embedded_protocols, ProtocolJob, RunnerSettings};
use plastifit::replay::{replay_jobs, replay_variants};
use plastifit::report::welch_sample_vs_summary;
use plastifit::synapse::RuleParams;
use std::collections::BTreeMap;
use std::path::Path;

fn records(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

fn assert_xml(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    roxmltree::Document::parse_with_options(
        &text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
}

fn assert_figures_and_pages(dir: &Path) -> usize {
    let mut svgs = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "svg") {
            assert_xml(&p);
            svgs += 1;
        }
    }
    assert_xml(&dir.join("report.html"));
    assert!(std::fs::read_to_string(dir.join("report.md"))
        .unwrap()
        .starts_with("# "));
    svgs
}

#[test]
fn validate_tests_each_protocol_against_the_invitro_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v");
    ok(&[
        "validate",
        "--params",
        "chindemi2022",
        "--protocols",
        "mrk97_07,rmp08_03",
        "--connections",
        "3",
        "--replay",
        "--compare-cao",
        "2.0,1.2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = records(&out.join("validation.csv"));
    let table = embedded_protocols().unwrap();
    assert_eq!(rows.len(), 4, "two protocols at two calcium levels");
    for row in &rows {
        let id = &row["protocol_id"];
        let cao = num(row, "cao_mm");
        // The fit's training protocols are marked as such.
        assert_eq!(row["role"], if id == "mrk97_07" { "train" } else { "heldout" });
        // Welch's test recomputed from the per-connection ratios.
        let sub = out.join(format!("cao_{cao}_mm"));
        let conns = records(&sub.join("connections.csv"));
        let ratios: Vec<f64> = conns
            .iter()
            .filter(|c| &c["protocol_id"] == id && !c["epsp_ratio"].is_empty())
            .map(|c| num(c, "epsp_ratio"))
            .collect();
        assert_eq!(ratios.len() as f64, num(row, "n"));
        let p = table.iter().find(|p| &p.protocol_id == id).unwrap();
        let w =
            welch_sample_vs_summary(&ratios, p.epsp_ratio_mean, p.epsp_ratio_sem, p.n_connections as usize).unwrap();
        assert!((num(row, "welch_t") - w.t).abs() < 1e-9 * w.t.abs().max(1.0));
        assert!((num(row, "welch_df") - w.df).abs() < 1e-9 * w.df);
        assert!((num(row, "p_value") - w.p_value).abs() < 1e-12);
        assert_eq!(row["significant_0_05"], (w.p_value < 0.05).to_string());
        assert_eq!(num(row, "invitro_n"), f64::from(p.n_connections));
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        assert!((num(row, "insilico_mean") - mean).abs() < 1e-12);
        assert!((num(row, "error_sem") - (mean - p.epsp_ratio_mean).abs() / p.epsp_ratio_sem).abs() < 1e-9);
        // MK-801 blocks depression: no synapse flips down.
        if p.manipulation == plastifit::protocol::Manipulation::Mk801Pre {
            assert!(conns
                .iter()
                .filter(|c| &c["protocol_id"] == id)
                .all(|c| c["flipped_down"] == "0"));
        }
    }
    // Lower calcium lowers release and spine calcium: mrk97_07's
    // potentiation is weaker in vivo.
    let at = |cao: f64| {
        rows.iter()
            .find(|r| r["protocol_id"] == "mrk97_07" && num(r, "cao_mm") == cao)
            .map(|r| num(r, "insilico_mean"))
            .unwrap()
    };
    assert!(at(1.2) < at(2.0), "1.2 mM {} vs 2.0 mM {}", at(1.2), at(2.0));
    // Figures: means, distributions per calcium level and the comparison.
    assert!(assert_figures_and_pages(&out) >= 5);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("rmp08_03") && html.contains("trace replay"));
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    // A new sample: the fit's seed + 1.
    assert_eq!(config["sample_seed"], 2023);
    assert_eq!(config["engine"], "trace replay");
}

#[test]
fn validate_excludes_small_baselines_only_when_asked_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v");
    ok(&[
        "validate",
        "--params",
        "chindemi2022",
        "--protocols",
        "rmp08_01",
        "--connections",
        "2",
        "--replay",
        "--min-baseline-epsp-mv",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = records(&out.join("validation.csv"));
    assert_eq!(rows[0]["n"], "0");
    assert_eq!(rows[0]["n_excluded"], "2");
    assert_eq!(rows[0]["p_value"], "");
    for c in records(&out.join("connections.csv")) {
        assert!(c["excluded_reason"].contains("below the minimum 1000 mV"), "{c:?}");
    }
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["connections_excluded_by_min_baseline"], 2);
}

#[test]
fn validate_and_map_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v");
    let o = out.to_str().unwrap();
    let missing_run = dir.path().join("none");
    let r = missing_run.to_str().unwrap();
    let params = ["--params", "chindemi2022"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [&["validate"], &params[..], &["--protocols", "nope_01"]].concat(),
            "nope_01",
        ),
        (
            [&["validate"], &params[..], &["--compare-cao", "2.0,-1"]].concat(),
            "-1",
        ),
        (vec!["validate", "--run", r], "none"),
        (vec!["map", "--pathway", "L9-L9"], "L9-L9"),
        (
            vec!["map", "--pathway", "L5TTPC-L5TTPC", "--frequencies", "0,10"],
            "--frequencies",
        ),
    ];
    for (mut args, expected) in cases {
        args.extend(["--out", o]);
        let err = failing(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(!out.exists(), "nothing is written for refused input");
}

#[test]
fn map_writes_the_grid_and_its_heat_map() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    ok(&[
        "map",
        "--pathway",
        "L23PC-L23PC",
        "--frequencies",
        "5,20",
        "--delta-t",
        "-10,10",
        "--connections",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = records(&out.join("map.csv"));
    assert_eq!(rows.len(), 4);
    let mut cells: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (num(r, "frequency_hz"), num(r, "delta_t_ms")))
        .collect();
    cells.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(cells, [(5.0, -10.0), (5.0, 10.0), (20.0, -10.0), (20.0, 10.0)]);
    for r in &rows {
        assert_eq!(r["pathway"], "L23PC-L23PC");
        assert!(num(r, "epsp_ratio_mean") > 0.0);
    }
    assert_eq!(assert_figures_and_pages(&out), 1);
    assert!(out.join("map_L23PC-L23PC.svg").exists());
}

#[test]
fn map_replay_with_shared_calibration_equals_per_protocol_recording() {
    let table = embedded_protocols().unwrap();
    let template = table.iter().find(|p| p.protocol_id == "mrk97_07").unwrap();
    let recipe = plastifit::pathway::embedded_recipes()
        .unwrap()
        .into_iter()
        .find(|r| r.pathway == "L5TTPC-L5TTPC")
        .unwrap();
    let desc = plastifit::cell::load_cell(&recipe.post_cell).unwrap();
    let cell = std::sync::Arc::new(plastifit::cell::CellModel::build(&desc, 37.0).unwrap());
    let protocols = grid_protocols(template, &recipe, &[10.0, 20.0], &[-10.0, 10.0]);
    assert_eq!(protocols[1].protocol_id, "map_20hz_-10ms");
    assert!(protocols
        .iter()
        .all(|p| p.bursts == template.bursts && p.pathway_id() == recipe.pathway));
    let job = ProtocolJob::sampled(&protocols[0], &recipe, cell, 2, 4).unwrap();
    let rule = RuleParams::chindemi2022();
    let runner = RunnerSettings::default();
    let shared = replay_variants(&job, &protocols, &rule, &runner, &|| ()).unwrap();
    let jobs: Vec<ProtocolJob> = protocols
        .iter()
        .map(|p| ProtocolJob {
            protocol: p.clone(),
            ..job.clone()
        })
        .collect();
    let separate = replay_jobs(&jobs, &rule, &runner, &|| ()).unwrap();
    for (a, b) in shared.iter().zip(&separate) {
        assert_eq!(a.protocol.protocol_id, b.protocol.protocol_id);
        assert_eq!(a.ratios(), b.ratios(), "{}", a.protocol.protocol_id);
        assert_eq!(a.ratios().len(), 2);
    }
}
