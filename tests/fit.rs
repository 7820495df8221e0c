//! `fit`, `resume` and `best` on the synthetic and replay engines: exact resumption,
//! interruption by SIGKILL, refusal of changed runs, the best report, bad
//! objective files and convergence to the synthetic optimum.

mod cli;

use cli::{failing, ok};
use plastifit::objective::SyntheticEngine;
use plastifit::synapse::{PARAM_BOUNDS, PARAM_NAMES};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OBJECTIVE: &str = "objectives/synthetic.json";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fit(run: &Path, generations: u64, offspring: usize, seed: u64) -> String {
    ok(&[
        "fit",
        "--objective",
        OBJECTIVE,
        "--run",
        s(run),
        "--generations",
        &generations.to_string(),
        "--offspring",
        &offspring.to_string(),
        "--seed",
        &seed.to_string(),
    ])
}

fn read(run: &Path, file: &str) -> Vec<u8> {
    std::fs::read(run.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", run.display()))
}

fn assert_same_results(a: &Path, b: &Path) {
    for file in ["history.csv", "pareto.csv", "best.json"] {
        assert!(read(a, file) == read(b, file), "{file} differs between {a:?} and {b:?}");
    }
}

fn checkpoint_generation(run: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(run.join("checkpoint.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).expect("checkpoints are replaced atomically");
    v["state"]["generation"].as_u64()
}

/// The checkpoint's generation and committed history.csv bytes.
fn checkpoint_history_bytes(run: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(run.join("checkpoint.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).expect("checkpoints are replaced atomically");
    Some((v["state"]["generation"].as_u64()?, v["history_bytes"].as_u64()?))
}

/// history.csv as (header, rows of fields).
fn history(run: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(run.join("history.csv")).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn six_generations_equal_three_plus_resume_three() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    fit(&one, 6, 12, 5);
    fit(&two, 3, 12, 5);
    assert_eq!(checkpoint_generation(&two), Some(3));
    assert_ne!(read(&one, "history.csv"), read(&two, "history.csv"));
    ok(&["resume", "--run", s(&two), "--generations", "3"]);
    assert_eq!(checkpoint_generation(&two), Some(6));
    assert_same_results(&one, &two);

    // The history has every evaluation, with units in the column names.
    let (header, rows) = history(&one);
    for col in [
        "tau_star_ms",
        "a31",
        "error_sem_mrk97_01",
        "insilico_mean_sjh06_02",
        "max_weighted_error",
        "valid",
    ] {
        assert!(header.iter().any(|h| h == col), "missing column {col}");
    }
    let ckpt: serde_json::Value = serde_json::from_slice(&read(&one, "checkpoint.json")).unwrap();
    assert_eq!(rows.len() as u64, ckpt["state"]["evaluations"].as_u64().unwrap());
    let ids: Vec<u64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(ids, (0..rows.len() as u64).collect::<Vec<_>>());

    // A run already at its target has nothing to do and changes nothing.
    let before = read(&two, "history.csv");
    let out = ok(&["resume", "--run", s(&two)]);
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(read(&two, "history.csv"), before);
}

#[test]
fn interrupted_generation_is_rerun_from_the_checkpoint() {
    // A kill after a generation's rows reached history.csv (one of them
    // half written) but before its checkpoint replaced the previous one.
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = (dir.path().join("whole"), dir.path().join("cut"));
    fit(&whole, 5, 10, 8);
    fit(&cut, 4, 10, 8);
    let old_checkpoint = read(&cut, "checkpoint.json");
    ok(&["resume", "--run", s(&cut), "--generations", "1"]);
    let mut history = read(&cut, "history.csv");
    history.extend_from_slice(b"5,999,280.1,100");
    std::fs::write(cut.join("history.csv"), history).unwrap();
    std::fs::write(cut.join("pareto.csv"), b"stale").unwrap();
    std::fs::write(cut.join("checkpoint.json"), old_checkpoint).unwrap();
    // The old checkpoint's target was 4: ask for one more.
    ok(&["resume", "--run", s(&cut), "--generations", "1"]);
    assert_same_results(&whole, &cut);
}

#[test]
fn run_killed_mid_generation_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let generations = 120u64;
    let mut child = Command::new(env!("CARGO_BIN_EXE_plastifit"))
        .args([
            "fit",
            "--objective",
            OBJECTIVE,
            "--run",
            s(&killed),
            "--generations",
            &generations.to_string(),
            "--offspring",
            "16",
            "--seed",
            "3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Aim the kill at the moment a generation's rows are in history.csv
    // but its checkpoint is not yet written; past generation 80, kill
    // wherever the fit is.
    let start = Instant::now();
    loop {
        if let Some((generation, recorded)) = checkpoint_history_bytes(&killed) {
            let written = std::fs::metadata(killed.join("history.csv")).map_or(0, |m| m.len());
            if (generation >= 8 && written > recorded) || generation >= 80 {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the fit made no progress");
        std::thread::sleep(Duration::from_micros(200));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at = checkpoint_generation(&killed).unwrap();
    assert!(at < generations, "the fit finished before it could be killed");

    ok(&["resume", "--run", s(&killed)]);
    assert_eq!(checkpoint_generation(&killed), Some(generations));
    fit(&whole, generations, 16, 3);
    assert_same_results(&whole, &killed);
    let log = String::from_utf8(read(&killed, "log.txt")).unwrap();
    assert!(log.contains(&format!("resume at generation {at}")), "{log}");
    assert_eq!(log.matches("\ngeneration ").count() as u64, generations);
}

#[test]
fn resume_refuses_a_changed_objective_or_optimiser() {
    let dir = tempfile::tempdir().unwrap();
    let objective = dir.path().join("objective.json");
    std::fs::copy(OBJECTIVE, &objective).unwrap();
    let run = dir.path().join("run");
    ok(&[
        "fit",
        "--objective",
        s(&objective),
        "--run",
        s(&run),
        "--generations",
        "2",
        "--offspring",
        "8",
    ]);
    let original = std::fs::read_to_string(&objective).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
    v["parameters"]["a20"]["upper"] = serde_json::json!(9.5);
    std::fs::write(&objective, v.to_string()).unwrap();
    let err = failing(&["resume", "--run", s(&run), "--generations", "1"]);
    assert!(err.contains("parameters.a20.upper: 10.0 in the run, 9.5 now"), "{err}");

    std::fs::write(&objective, &original).unwrap();
    let config_path = run.join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&config).unwrap();
    c["optimiser"]["mutpb"] = serde_json::json!(0.5);
    std::fs::write(&config_path, c.to_string()).unwrap();
    let err = failing(&["resume", "--run", s(&run), "--generations", "1"]);
    assert!(err.contains("optimiser.mutpb"), "{err}");

    std::fs::write(&config_path, config).unwrap();
    ok(&["resume", "--run", s(&run), "--generations", "1"]);
    assert_eq!(checkpoint_generation(&run), Some(3));

    // Changed data files are refused too.
    let pathways = dir.path().join("pathways.csv");
    std::fs::copy("datasets/pathways.csv", &pathways).unwrap();
    let data_run = dir.path().join("data_run");
    ok(&[
        "fit",
        "--objective",
        s(&objective),
        "--run",
        s(&data_run),
        "--generations",
        "2",
        "--offspring",
        "8",
        "--pathways-file",
        s(&pathways),
    ]);
    let table = std::fs::read_to_string(&pathways).unwrap();
    let edited = table.replacen(
        "L5TTPC-L5TTPC,L5TTPC,L5TTPC,L5TTPC,1.94,",
        "L5TTPC-L5TTPC,L5TTPC,L5TTPC,L5TTPC,2.5,",
        1,
    );
    assert_ne!(edited, table);
    std::fs::write(&pathways, edited).unwrap();
    let err = failing(&["resume", "--run", s(&data_run), "--generations", "1"]);
    assert!(err.contains("ampa_gmax_ns_mean: 1.94 in the run, 2.5 now"), "{err}");

    // fit refuses to start over an existing run.
    let err = failing(&[
        "fit",
        "--objective",
        s(&objective),
        "--run",
        s(&run),
        "--generations",
        "2",
    ]);
    assert!(err.contains("already holds a run"), "{err}");
}

#[test]
fn best_prints_the_minimax_candidate_and_the_valid_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    fit(&run, 40, 32, 11);
    let out = ok(&["best", "--run", s(&run)]);

    let (header, rows) = history(&run);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (max_col, valid_col) = (col("max_weighted_error"), col("valid"));
    let valid = rows.iter().filter(|r| r[valid_col] == "true").count();
    assert!(valid > 0, "the test needs a few valid candidates");
    let best = rows
        .iter()
        .min_by(|a, b| {
            let (x, y): (f64, f64) = (a[max_col].parse().unwrap(), b[max_col].parse().unwrap());
            x.total_cmp(&y)
        })
        .unwrap();
    assert!(
        out.contains(&format!("candidate {} of generation {},", best[1], best[0])),
        "{out}\nexpected candidate {}",
        best[1]
    );
    assert!(out.contains(&format!("max weighted error {}", best[max_col])), "{out}");
    assert!(
        out.contains(&format!(
            "valid candidates (every training error <= 1 SEM): {valid} of {}",
            rows.len()
        )),
        "{out}"
    );
    for name in PARAM_NAMES {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap();
        assert_eq!(line.split_whitespace().nth(1).unwrap(), best[col(name)], "{name}");
    }
    for id in ["mrk97_01", "mrk97_02", "mrk97_07", "mrk97_08", "sjh06_02"] {
        let line = out.lines().find(|l| l.starts_with(id)).unwrap();
        let error: f64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        let expected: f64 = best[col(&format!("error_sem_{id}"))].parse().unwrap();
        assert!((error - expected).abs() < 1e-6, "{id}: {error} vs {expected}");
    }

    let json: serde_json::Value = serde_json::from_slice(&read(&run, "best.json")).unwrap();
    assert_eq!(json["candidate_id"].to_string(), best[1]);
    assert_eq!(json["valid_count"].as_u64().unwrap(), valid as u64);
    assert_eq!(json["parameters"].as_object().unwrap().len(), 11);
    assert!(failing(&["best", "--run", s(&dir.path().join("none"))]).contains("not a run folder"));
}

#[test]
fn bad_objective_files_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let good: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(OBJECTIVE).unwrap()).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| {
                v["parameters"].as_object_mut().unwrap().remove("a31");
            }),
            "parameters.a31",
        ),
        (
            Box::new(|v| v["connections_per_protocol"] = serde_json::json!("many")),
            "field 'connections_per_protocol'",
        ),
        (
            Box::new(|v| v["protocols"][1]["weight"] = serde_json::json!(-1.0)),
            "protocols[1].weight",
        ),
        (
            Box::new(|v| v["protocols"][0]["id"] = serde_json::json!("mrk99_99")),
            "protocol 'mrk99_99' is not in the dataset",
        ),
        (Box::new(|v| v["engine"] = serde_json::json!("quantum")), "engine"),
    ];
    for (i, (edit, expected)) in cases.into_iter().enumerate() {
        let mut v = good.clone();
        edit(&mut v);
        let file = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&file, v.to_string()).unwrap();
        let run = dir.path().join(format!("run{i}"));
        let err = failing(&["fit", "--objective", s(&file), "--run", s(&run), "--generations", "2"]);
        assert!(err.contains(expected), "{err} should contain {expected}");
        assert!(!run.join("config.json").exists(), "a refused fit leaves no run behind");
    }
}

#[test]
fn synthetic_fit_converges_to_the_known_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    fit(&run, 40, 32, 2);
    let (header, rows) = history(&run);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let max_col = col("max_weighted_error");
    let best_of = |generation: &str| {
        rows.iter()
            .filter(|r| r[0] == generation)
            .map(|r| r[max_col].parse::<f64>().unwrap())
            .fold(f64::INFINITY, f64::min)
    };
    let initial = best_of("0");
    let json: serde_json::Value = serde_json::from_slice(&read(&run, "best.json")).unwrap();
    let final_error = json["max_weighted_error"].as_f64().unwrap();
    assert!(final_error < initial / 50.0, "{initial} -> {final_error}");
    assert!(json["valid"].as_bool().unwrap());
    // Every parameter within 5 % of its range of the optimum.
    let optimum = SyntheticEngine::optimum().values();
    for (i, name) in PARAM_NAMES.iter().enumerate() {
        let v = json["parameters"][name].as_f64().unwrap();
        let (lo, hi) = PARAM_BOUNDS[i];
        assert!(
            (v - optimum[i]).abs() / (hi - lo) < 0.05,
            "{name}: {v} vs {}",
            optimum[i]
        );
    }
}

/// Slow (full simulation): `cargo test --test fit -- --ignored`.
#[test]
#[ignore]
fn full_engine_fit_records_means_and_errors_in_sem() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("objectives/quick.json").unwrap()).unwrap();
    v["engine"] = serde_json::json!("full");
    v["connections_per_protocol"] = serde_json::json!(1);
    v["protocols"] = serde_json::json!([{"id": "mrk97_07", "weight": 0.25}]);
    v["heldout"] = serde_json::json!([]);
    let objective = dir.path().join("full.json");
    std::fs::write(&objective, v.to_string()).unwrap();
    let run = dir.path().join("run");
    ok(&[
        "fit",
        "--objective",
        s(&objective),
        "--run",
        s(&run),
        "--generations",
        "1",
        "--offspring",
        "2",
    ]);
    let table = plastifit::protocol::embedded_protocols().unwrap();
    let row = table.iter().find(|p| p.protocol_id == "mrk97_07").unwrap();
    let (header, rows) = history(&run);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let mean: f64 = r[col("insilico_mean_mrk97_07")].parse().unwrap();
        let error: f64 = r[col("error_sem_mrk97_07")].parse().unwrap();
        assert!(mean > 0.0 && mean.is_finite());
        assert_eq!(error, (mean - row.epsp_ratio_mean).abs() / row.epsp_ratio_sem);
        assert_eq!(r[col("failure")], "");
    }
}

/// quick.json cut to `connections` per protocol, written into `dir`.
fn small_quick(dir: &Path, connections: usize) -> std::path::PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("objectives/quick.json").unwrap()).unwrap();
    v["connections_per_protocol"] = serde_json::json!(connections);
    let objective = dir.join("quick_small.json");
    std::fs::write(&objective, v.to_string()).unwrap();
    objective
}

#[test]
fn replay_fit_builds_its_cache_once_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let objective = small_quick(dir.path(), 2);
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let fit = |run: &Path, generations: &str| {
        ok(&[
            "fit",
            "--objective",
            s(&objective),
            "--run",
            s(run),
            "--generations",
            generations,
            "--offspring",
            "8",
        ])
    };
    fit(&one, "4");
    let cache = one.join("traces/traces.json");
    assert!(cache.exists(), "the replay fit keeps its trace cache in the run folder");
    // The second run reuses a copy of the cache (built from the same data).
    std::fs::create_dir_all(two.join("traces")).unwrap();
    std::fs::copy(&cache, two.join("traces/traces.json")).unwrap();
    fit(&two, "2");
    ok(&["resume", "--run", s(&two), "--generations", "2"]);
    assert_same_results(&one, &two);

    // Every training protocol has its error and in-silico mean in best.json.
    let best: serde_json::Value = serde_json::from_slice(&read(&one, "best.json")).unwrap();
    let protocols = best["protocols"].as_array().unwrap();
    assert_eq!(protocols.len(), 5);
    for p in protocols {
        assert!(p["error_sem"].as_f64().unwrap().is_finite(), "{p}");
        assert!(p["insilico_mean"].as_f64().unwrap() > 0.0, "{p}");
    }

    // A cache that no longer matches the data is refused, naming the field.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    v["identity"]["sample_seed"] = serde_json::json!(7);
    std::fs::write(&cache, v.to_string()).unwrap();
    let err = failing(&["resume", "--run", s(&one), "--generations", "1"]);
    assert!(err.contains("sample seed: cache has 7, now 2022"), "{err}");
}
