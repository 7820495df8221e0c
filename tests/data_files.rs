//! Connection files: JSON and CSV round trips and validation on read.

use plastifit::pathway::{
    embedded_recipes, load_connections, parse_connections_csv, parse_connections_json, sample_connections,
    save_connections_csv, save_connections_json, write_connections_csv, write_connections_json, ConnectionSample,
    TreeExtent,
};
mod common;

use common::{assert_data_error, assert_file_error};
use plastifit::Error;

fn sample(n: usize) -> ConnectionSample {
    let recipes = embedded_recipes().unwrap();
    let r = recipes.iter().find(|r| r.pathway == "L5TTPC-L5TTPC").unwrap();
    let extent = TreeExtent {
        basal_max_um: 257.0,
        apical_min_um: 10.0,
        apical_max_um: 1009.0,
    };
    ConnectionSample {
        pathway: r.pathway.clone(),
        seed: Some(31),
        connections: sample_connections(r, extent, n, 31),
    }
}

fn json_text(s: &ConnectionSample) -> String {
    let mut buf = Vec::new();
    write_connections_json(&mut buf, s).unwrap();
    String::from_utf8(buf).unwrap()
}

fn csv_text(s: &ConnectionSample) -> String {
    let mut buf = Vec::new();
    write_connections_csv(&mut buf, s).unwrap();
    String::from_utf8(buf).unwrap()
}

// ---------------------------------------------------------------- round trips

#[test]
fn json_round_trip_is_exact() {
    let s = sample(40);
    let text = json_text(&s);
    assert!(text.contains("\"format\": \"plastifit-connections\""));
    assert!(text.contains("\"version\": 1"));
    let back = parse_connections_json(text.as_bytes(), "s.json").unwrap();
    assert_eq!(back, s);
    // Bit-exact floats.
    for (a, b) in s.connections.iter().zip(&back.connections) {
        for (x, y) in a.contacts.iter().zip(&b.contacts) {
            assert_eq!(x.g_ampa_ns.to_bits(), y.g_ampa_ns.to_bits());
            assert_eq!(x.use0.to_bits(), y.use0.to_bits());
        }
    }
}

#[test]
fn csv_round_trip_is_exact_except_the_seed() {
    let s = sample(40);
    let text = csv_text(&s);
    let rows = text.lines().count() - 1;
    let contacts: usize = s.connections.iter().map(|c| c.contacts.len()).sum();
    assert_eq!(rows, contacts);
    assert!(text.starts_with("connection_id,pathway,post_cell,release_seed,tree,path_distance_um"));
    let back = parse_connections_csv(text.as_bytes(), "s.csv").unwrap();
    assert_eq!(back.seed, None);
    assert_eq!(back.pathway, s.pathway);
    assert_eq!(back.connections, s.connections);
}

#[test]
fn files_on_disk_round_trip_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample(5);
    let j = dir.path().join("c.json");
    let c = dir.path().join("c.csv");
    save_connections_json(&j, &s).unwrap();
    save_connections_csv(&c, &s).unwrap();
    assert_eq!(load_connections(&j).unwrap(), s);
    assert_eq!(load_connections(&c).unwrap().connections, s.connections);
    let other = dir.path().join("c.txt");
    std::fs::write(&other, "x").unwrap();
    assert!(matches!(load_connections(&other), Err(Error::File { .. })));
}

#[test]
fn json_without_seed_is_accepted() {
    let mut s = sample(2);
    s.seed = None;
    let text = json_text(&s);
    assert!(!text.contains("\"seed\""));
    assert_eq!(parse_connections_json(text.as_bytes(), "s.json").unwrap(), s);
}

// ---------------------------------------------------------------- JSON errors

const J: &str = "conn.json";

/// The sample as a JSON value, edited by `f`, back to text.
fn json_edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&json_text(&sample(3))).unwrap();
    f(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn json_bad_contact_values_name_connection_and_field() {
    let cases: [(&str, serde_json::Value, &str); 7] = [
        ("nrrp", 0.into(), "must be >= 1"),
        ("use0", 1.5.into(), "(0, 1]"),
        ("use0", 0.0.into(), "(0, 1]"),
        ("g_ampa_ns", (-0.3).into(), "must be >= 0"),
        ("spine_volume_um3", 0.0.into(), "must be > 0"),
        ("rho0", 2.into(), "0 or 1"),
        ("ampa_tau_decay_ms", 0.1.into(), "rise time"),
    ];
    for (field, value, words) in cases {
        let text = json_edit(|v| v["connections"][1]["contacts"][2][field] = value.clone());
        assert_data_error(
            parse_connections_json(text.as_bytes(), J),
            J,
            2,
            &format!("contacts[2].{field}"),
            words,
        );
    }
}

#[test]
fn json_unknown_tree_is_reported_with_its_line() {
    let text = json_edit(|v| v["connections"][0]["contacts"][0]["tree"] = "axon".into());
    assert_file_error(parse_connections_json(text.as_bytes(), J), J, "line");
    let err = parse_connections_json(text.as_bytes(), J).unwrap_err().to_string();
    assert!(err.contains("axon"), "{err}");
}

#[test]
fn json_connection_level_errors() {
    let text = json_edit(|v| v["connections"][2]["id"] = 0.into());
    assert_data_error(
        parse_connections_json(text.as_bytes(), J),
        J,
        3,
        "id",
        "duplicate connection id 0",
    );
    let text = json_edit(|v| v["connections"][1]["pathway"] = "L23PC-L5TTPC".into());
    assert_data_error(parse_connections_json(text.as_bytes(), J), J, 2, "pathway", "differs");
    let text = json_edit(|v| v["connections"][0]["contacts"] = serde_json::json!([]));
    assert_data_error(
        parse_connections_json(text.as_bytes(), J),
        J,
        1,
        "contacts",
        "at least one contact",
    );
    let text = json_edit(|v| v["connections"][0]["post_cell"] = "".into());
    assert_data_error(parse_connections_json(text.as_bytes(), J), J, 1, "post_cell", "empty");
}

#[test]
fn json_file_level_errors() {
    let text = json_edit(|v| v["format"] = "something-else".into());
    assert_file_error(
        parse_connections_json(text.as_bytes(), J),
        J,
        "not a plastifit connection file",
    );
    let text = json_edit(|v| v["version"] = 2.into());
    assert_file_error(parse_connections_json(text.as_bytes(), J), J, "unsupported version 2");
    let text = json_edit(|v| v["connections"] = serde_json::json!([]));
    assert_file_error(parse_connections_json(text.as_bytes(), J), J, "no connections");
    let text = json_edit(|v| {
        v["connections"][0]["contacts"][0]
            .as_object_mut()
            .unwrap()
            .remove("nrrp");
    });
    assert_file_error(parse_connections_json(text.as_bytes(), J), J, "missing field `nrrp`");
    assert_file_error(parse_connections_json("{\"format\": ".as_bytes(), J), J, "line 1");
}

// ---------------------------------------------------------------- CSV errors

const C: &str = "conn.csv";

/// The sample's CSV with the cell of data row `row` (0-based) in `column`
/// replaced.
fn csv_edit(row: usize, column: &str, value: &str) -> String {
    common::edit(&csv_text(&sample(3)), row, column, value)
}

#[test]
fn csv_bad_contact_values_name_row_and_column() {
    for (column, value, words) in [
        ("nrrp", "0", "must be >= 1"),
        ("nrrp", "2.5", "whole number"),
        ("use0", "0", "(0, 1]"),
        ("use0", "1.01", "(0, 1]"),
        ("g_ampa_ns", "-1", "must be >= 0"),
        ("tree", "soma", "unknown tree 'soma'"),
        ("rho0", "2", "0 or 1"),
        ("dep_ms", "fast", "not a finite number"),
        ("fac_ms", "0", "must be > 0"),
        ("path_distance_um", "-3", "must be >= 0"),
    ] {
        let text = csv_edit(3, column, value);
        assert_data_error(parse_connections_csv(text.as_bytes(), C), C, 5, column, words);
    }
}

#[test]
fn csv_connection_consistency() {
    // Row 0 belongs to connection 0; give it another release seed than row 1.
    let s = sample(3);
    assert!(s.connections[0].contacts.len() >= 2);
    let text = csv_edit(1, "release_seed", "12345");
    assert_data_error(
        parse_connections_csv(text.as_bytes(), C),
        C,
        3,
        "release_seed",
        "differs",
    );
    let text = csv_edit(1, "post_cell", "L23PC");
    assert_data_error(parse_connections_csv(text.as_bytes(), C), C, 3, "post_cell", "differs");
    let text = csv_edit(1, "pathway", "L23PC-L5TTPC");
    assert_data_error(parse_connections_csv(text.as_bytes(), C), C, 3, "pathway", "differs");
    // A later row reusing connection 0's id after connection 1 started.
    let last = s.connections.iter().map(|c| c.contacts.len()).sum::<usize>() - 1;
    let text = csv_edit(last, "connection_id", "0");
    assert_data_error(
        parse_connections_csv(text.as_bytes(), C),
        C,
        last + 2,
        "connection_id",
        "consecutive",
    );
}

#[test]
fn csv_file_level_errors() {
    let text = csv_text(&sample(1)).replacen("g_ampa_ns", "g_ampa", 1);
    assert_file_error(
        parse_connections_csv(text.as_bytes(), C),
        C,
        "missing column 'g_ampa_ns'",
    );
    let header = csv_text(&sample(1)).lines().next().unwrap().to_string();
    assert_file_error(parse_connections_csv(header.as_bytes(), C), C, "no connections");
}

#[test]
fn csv_file_on_disk_is_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.csv");
    std::fs::write(&path, csv_edit(0, "nrrp", "0")).unwrap();
    let err = load_connections(&path).unwrap_err().to_string();
    assert!(
        err.contains("mine.csv") && err.contains("row 2") && err.contains("'nrrp'"),
        "{err}"
    );
}
