//! Trace caches through their open form: `export-traces` then
//! `import-traces` gives back the same cache, and malformed tables are
//! refused naming the file, row and column.

mod cli;

use cli::{failing, ok};
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// quick.json cut to two protocols of `connections` connections each.
fn small_objective(dir: &Path, connections: usize) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("objectives/quick.json").unwrap()).unwrap();
    v["connections_per_protocol"] = serde_json::json!(connections);
    v["protocols"] = serde_json::json!([{"id": "mrk97_07", "weight": 0.5}, {"id": "sjh06_02", "weight": 0.5}]);
    let path = dir.join(format!("objective_{connections}.json"));
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// Replaces the first data row's cell of `column` in a CSV table.
fn corrupt(path: &Path, column: &str, value: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = lines[0].split(',').position(|h| h == column).unwrap();
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    cells[i] = value.to_string();
    lines[1] = cells.join(",");
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_cache_round_trips_through_its_open_tables() {
    let dir = tempfile::tempdir().unwrap();
    let objective = small_objective(dir.path(), 2);
    let (built, open, imported) = (
        dir.path().join("built"),
        dir.path().join("open"),
        dir.path().join("imported"),
    );
    ok(&["traces", "--objective", s(&objective), "--out", s(&built)]);
    ok(&["export-traces", "--traces", s(&built), "--out", s(&open)]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(open.join("manifest.json")).unwrap()).unwrap();
    let first = &manifest["protocols"][0]["connections"][0];
    let induction = open.join(first["files"]["induction"].as_str().unwrap());
    let header = std::fs::read_to_string(&induction).unwrap();
    assert!(
        header.starts_with("width_ms,quiet,s0_cai_integral_mm_ms,s0_moment_mm_ms2,s0_nmda_drive_mm_per_ms"),
        "{}",
        header.lines().next().unwrap()
    );
    let run = |f: fn(&[&str]) -> String, objective: &Path, out: &Path| {
        f(&[
            "import-traces",
            "--from",
            s(&open),
            "--objective",
            s(objective),
            "--out",
            s(out),
        ])
    };
    run(ok, &objective, &imported);
    assert!(
        std::fs::read(built.join("traces.json")).unwrap() == std::fs::read(imported.join("traces.json")).unwrap(),
        "the imported cache differs from the exported one"
    );
    // The imported cache is accepted and gives the same evaluation.
    let (a, b) = (dir.path().join("eval_a"), dir.path().join("eval_b"));
    ok(&["evaluate", "--traces", s(&built), "--out", s(&a)]);
    ok(&["evaluate", "--traces", s(&imported), "--out", s(&b)]);
    assert_eq!(
        std::fs::read(a.join("summary.csv")).unwrap(),
        std::fs::read(b.join("summary.csv")).unwrap()
    );

    // Bad input: each refused with the file, the row and the column.
    let import = |out: &str| run(failing, &objective, &dir.path().join(out));
    let original = std::fs::read(&induction).unwrap();
    corrupt(&induction, "s0_cai_integral_mm_ms", "abc");
    let err = import("bad1");
    assert!(
        err.contains(s(&induction))
            && err.contains("row 2")
            && err.contains("s0_cai_integral_mm_ms")
            && err.contains("'abc'"),
        "{err}"
    );
    std::fs::write(&induction, &original).unwrap();
    corrupt(&induction, "width_ms", "-0.25");
    let err = import("bad2");
    assert!(
        err.contains("row 2") && err.contains("width_ms") && err.contains("> 0"),
        "{err}"
    );
    std::fs::write(&induction, &original).unwrap();
    corrupt(&induction, "quiet", "2");
    assert!(import("bad3").contains("'quiet': must be 0 or 1"));
    std::fs::write(&induction, &original).unwrap();
    // A table without a synapse's column.
    let text = String::from_utf8(original.clone())
        .unwrap()
        .replacen("s0_moment_mm_ms2", "s0_moment", 1);
    std::fs::write(&induction, text).unwrap();
    assert!(import("bad4").contains("missing column 's0_moment_mm_ms2'"));
    std::fs::write(&induction, &original).unwrap();
    // Traces of another objective (other connection count).
    let other = small_objective(dir.path(), 3);
    let err = run(failing, &other, &dir.path().join("bad5"));
    assert!(
        err.contains("protocol mrk97_07: 2 connections (the objective samples 3)"),
        "{err}"
    );
    // Summation points that cannot correct anything.
    let manifest_path = open.join("manifest.json");
    let text = std::fs::read(&manifest_path).unwrap();
    let mut bad: serde_json::Value = serde_json::from_slice(&text).unwrap();
    bad["protocols"][0]["connections"][0]["summation"][0]["linear_peak_mv"] = serde_json::json!(0.0);
    std::fs::write(&manifest_path, bad.to_string()).unwrap();
    let err = import("bad6");
    assert!(
        err.contains("protocol mrk97_07, connection 0: summation points need finite peaks"),
        "{err}"
    );
    std::fs::write(&manifest_path, text).unwrap();
    // Nothing is written by a refused import.
    assert!(!dir.path().join("bad1").join("traces.json").exists());
    // The restored tables import again.
    run(ok, &objective, &dir.path().join("again"));
}
