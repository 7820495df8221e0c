//! The shipped datasets load, and every malformed row is reported with its
//! file, row (editor line number: header = line 1) and column.

use plastifit::pathway::recipe::EMBEDDED_RECIPES_CSV;
use plastifit::pathway::{embedded_recipes, find_recipe, load_recipes, parse_recipes};
use plastifit::protocol::table::EMBEDDED_PROTOCOLS_CSV;
use plastifit::protocol::{
    embedded_protocols, load_protocols, load_protocols_checked, parse_protocols, parse_protocols_checked, Manipulation,
    Measure,
};
mod common;

use common::{assert_data_error, assert_file_error, edit};
use plastifit::Error;

/// `text` without `column`.
fn drop_column(text: &str, column: &str) -> String {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = header.iter().position(|h| h == column).unwrap();
    let keep = |rec: &csv::StringRecord| -> Vec<String> {
        rec.iter()
            .enumerate()
            .filter(|(j, _)| *j != col)
            .map(|(_, f)| f.to_string())
            .collect()
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(keep(&header)).unwrap();
    for rec in r.records() {
        w.write_record(keep(&rec.unwrap())).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// Assert a row-level error naming file, row and column.

// ---------------------------------------------------------------- shipped data

#[test]
fn embedded_datasets_load_and_every_protocol_has_a_recipe() {
    let protocols = embedded_protocols().unwrap();
    let recipes = embedded_recipes().unwrap();
    assert_eq!(protocols.len(), 42);
    assert_eq!(recipes.len(), 5);
    for p in &protocols {
        assert!(find_recipe(&recipes, &p.pathway_id()).is_some(), "{}", p.protocol_id);
    }
    let refs: std::collections::BTreeSet<&str> = protocols.iter().map(|p| p.reference.as_str()).collect();
    assert_eq!(refs.len(), 7, "{refs:?}");
    let m1 = &protocols[0];
    assert_eq!(m1.protocol_id, "mrk97_01");
    assert_eq!(m1.pathway_id(), "L5TTPC-L5TTPC");
    assert_eq!((m1.stimuli_per_burst, m1.bursts, m1.n_connections), (5, 10, 2));
    assert_eq!(m1.measure, Measure::Amplitude);
    let rmp = protocols.iter().find(|p| p.protocol_id == "rmp08_01").unwrap();
    assert_eq!(rmp.measure, Measure::Slope);
    assert_eq!(rmp.manipulation, Manipulation::Mk801Pre);
    assert!(recipes.iter().all(|r| r.g_scale > 0.0 && r.post_cell == r.post_type));
}

#[test]
fn dataset_files_on_disk_load_the_same_as_the_embedded_copies() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    let recipes = load_recipes(dir.join("pathways.csv")).unwrap();
    assert_eq!(recipes, embedded_recipes().unwrap());
    let protocols = load_protocols_checked(dir.join("invitro_protocols.csv"), &recipes).unwrap();
    assert_eq!(protocols, embedded_protocols().unwrap());
    assert_eq!(load_protocols(dir.join("invitro_protocols.csv")).unwrap(), protocols);
}

#[test]
fn datasets_match_the_reference_rows() {
    // Every reference row and column is kept (the datasets only add columns).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The shared reference folder sits beside the checkout (or a level up).
    let Some(reference) = root
        .ancestors()
        .map(|a| a.join("shared/reference"))
        .find(|p| p.join("pathways.csv").exists())
    else {
        eprintln!("shared/reference not found: skipping the comparison");
        return;
    };
    for name in ["invitro_protocols.csv", "pathways.csv"] {
        let read = |p: std::path::PathBuf| {
            let mut r = csv::Reader::from_path(p).unwrap();
            let h = r.headers().unwrap().clone();
            let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
            (h, rows)
        };
        let (rh, rrows) = read(reference.join(name));
        let (dh, drows) = read(root.join("datasets").join(name));
        assert_eq!(rrows.len(), drows.len(), "{name}");
        for (col, h) in rh.iter().enumerate() {
            let dcol = dh.iter().position(|x| x == h).unwrap_or_else(|| panic!("{name}: {h}"));
            for (a, b) in rrows.iter().zip(&drows) {
                // Numbers are compared as numbers: a rewritten table may spell 1.00 as 1.
                let (x, y) = (a.get(col).unwrap(), b.get(dcol).unwrap());
                match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(u), Ok(v)) => assert_eq!(u, v, "{name}: {h}"),
                    _ => assert_eq!(x, y, "{name}: {h}"),
                }
            }
        }
    }
}

// ---------------------------------------------------------------- protocols

const P: &str = "protocols.csv";

fn protocols_with(row: usize, column: &str, value: &str) -> String {
    edit(EMBEDDED_PROTOCOLS_CSV, row, column, value)
}

#[test]
fn protocol_missing_column_is_a_file_error() {
    let text = drop_column(EMBEDDED_PROTOCOLS_CSV, "epsp_ratio_sem");
    assert_file_error(
        parse_protocols(text.as_bytes(), P),
        P,
        "missing column 'epsp_ratio_sem'",
    );
}

#[test]
fn protocol_non_numeric_cell() {
    let text = protocols_with(3, "delta_t_ms", "ten");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        5,
        "delta_t_ms",
        "not a finite number",
    );
}

#[test]
fn protocol_empty_cell() {
    let text = protocols_with(0, "cao_mm", "");
    assert_data_error(parse_protocols(text.as_bytes(), P), P, 2, "cao_mm", "empty");
}

#[test]
fn protocol_zero_or_negative_sem() {
    for v in ["0", "-0.05"] {
        let text = protocols_with(10, "epsp_ratio_sem", v);
        assert_data_error(
            parse_protocols(text.as_bytes(), P),
            P,
            12,
            "epsp_ratio_sem",
            "must be > 0",
        );
    }
}

#[test]
fn protocol_n_connections_below_one() {
    let text = protocols_with(41, "n_connections", "0");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        43,
        "n_connections",
        "must be >= 1",
    );
    let text = protocols_with(41, "n_connections", "2.5");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        43,
        "n_connections",
        "whole number",
    );
}

#[test]
fn protocol_frequency_not_positive() {
    for v in ["0", "-10"] {
        let text = protocols_with(1, "frequency_hz", v);
        assert_data_error(parse_protocols(text.as_bytes(), P), P, 3, "frequency_hz", "must be > 0");
    }
}

#[test]
fn protocol_stimuli_and_bursts_below_one() {
    let text = protocols_with(2, "stimuli_per_burst", "0");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        4,
        "stimuli_per_burst",
        "must be >= 1",
    );
    let text = protocols_with(2, "bursts", "0");
    assert_data_error(parse_protocols(text.as_bytes(), P), P, 4, "bursts", "must be >= 1");
}

#[test]
fn protocol_burst_longer_than_its_period() {
    // 5 stimuli at 1 Hz last 4 s.
    let text = protocols_with(9, "burst_period_s", "3");
    assert_data_error(parse_protocols(text.as_bytes(), P), P, 11, "burst_period_s", "burst");
}

#[test]
fn protocol_unknown_measure_and_manipulation() {
    let text = protocols_with(5, "measure", "area");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        7,
        "measure",
        "unknown measure 'area'",
    );
    let text = protocols_with(6, "manipulation", "apv");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        8,
        "manipulation",
        "unknown manipulation 'apv'",
    );
}

#[test]
fn protocol_duplicate_id() {
    let text = protocols_with(4, "protocol_id", "mrk97_01");
    assert_data_error(
        parse_protocols(text.as_bytes(), P),
        P,
        6,
        "protocol_id",
        "duplicate protocol id",
    );
}

#[test]
fn protocol_without_a_recipe() {
    let recipes = embedded_recipes().unwrap();
    let text = protocols_with(12, "post_type", "L6CPC");
    // Fine without recipes, rejected with them.
    assert!(parse_protocols(text.as_bytes(), P).is_ok());
    assert_data_error(
        parse_protocols_checked(text.as_bytes(), P, &recipes),
        P,
        14,
        "pre_type/post_type",
        "no pathway recipe for 'L4SSC-L6CPC'",
    );
}

#[test]
fn protocol_bad_pathway_names() {
    let text = protocols_with(0, "pre_type", "");
    assert_data_error(parse_protocols(text.as_bytes(), P), P, 2, "pre_type", "empty");
    let text = protocols_with(0, "post_type", "L5-TTPC");
    assert_data_error(parse_protocols(text.as_bytes(), P), P, 2, "post_type", "'-'");
}

#[test]
fn protocol_ragged_row_and_empty_file() {
    let mut text = EMBEDDED_PROTOCOLS_CSV.to_string();
    text.push_str("extra,row\n");
    assert_data_error(parse_protocols(text.as_bytes(), P), P, 44, "(whole row)", "fields");
    let header_only = EMBEDDED_PROTOCOLS_CSV.lines().next().unwrap().to_string() + "\n";
    assert_file_error(parse_protocols(header_only.as_bytes(), P), P, "no protocols");
}

#[test]
fn protocol_file_on_disk_is_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my_protocols.csv");
    std::fs::write(&path, protocols_with(7, "epsp_ratio_sem", "-1")).unwrap();
    let err = load_protocols(&path).unwrap_err().to_string();
    assert!(err.contains("my_protocols.csv") && err.contains("row 9"), "{err}");
    let missing = load_protocols(dir.path().join("absent.csv")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}

// ---------------------------------------------------------------- recipes

const R: &str = "pathways.csv";

fn recipes_with(row: usize, column: &str, value: &str) -> String {
    edit(EMBEDDED_RECIPES_CSV, row, column, value)
}

#[test]
fn recipe_missing_column_is_a_file_error() {
    let text = drop_column(EMBEDDED_RECIPES_CSV, "g_scale");
    assert_file_error(parse_recipes(text.as_bytes(), R), R, "missing column 'g_scale'");
}

#[test]
fn recipe_non_numeric_cell() {
    let text = recipes_with(1, "dep_ms_mean", "slow");
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        3,
        "dep_ms_mean",
        "not a finite number",
    );
    let text = recipes_with(1, "dep_ms_mean", "NaN");
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        3,
        "dep_ms_mean",
        "not a finite number",
    );
}

#[test]
fn recipe_means_and_sds_must_be_positive() {
    for (col, v) in [
        ("ampa_gmax_ns_mean", "-1.9"),
        ("ampa_gmax_ns_sd", "0"),
        ("spine_volume_um3_sd", "0"),
        ("fac_ms_mean", "0"),
        ("u_hill_k_mm", "-2.79"),
        ("g_scale", "0"),
        ("epsp_mv_mean", "0"),
    ] {
        let text = recipes_with(0, col, v);
        assert_data_error(parse_recipes(text.as_bytes(), R), R, 2, col, "must be > 0");
    }
    for (col, v) in [
        ("contacts_sd", "-1"),
        ("basal_path_um_sd", "-5"),
        ("nmda_ratio", "-0.1"),
    ] {
        let text = recipes_with(2, col, v);
        assert_data_error(parse_recipes(text.as_bytes(), R), R, 4, col, "must be >= 0");
    }
}

#[test]
fn recipe_fractions_in_unit_interval() {
    let text = recipes_with(3, "apical_fraction", "1.2");
    assert_data_error(parse_recipes(text.as_bytes(), R), R, 5, "apical_fraction", "[0, 1]");
    let text = recipes_with(3, "use_mean", "1.2");
    assert_data_error(parse_recipes(text.as_bytes(), R), R, 5, "use_mean", "(0, 1)");
}

#[test]
fn recipe_unknown_or_unsupported_distribution() {
    let text = recipes_with(0, "ampa_gmax_dist", "lognormal");
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        2,
        "ampa_gmax_dist",
        "unknown distribution 'lognormal'",
    );
    let text = recipes_with(0, "use_dist", "gamma");
    assert_data_error(parse_recipes(text.as_bytes(), R), R, 2, "use_dist", "not supported");
    let text = recipes_with(0, "nrrp_dist", "binomial");
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        2,
        "nrrp_dist",
        "unknown distribution",
    );
}

#[test]
fn recipe_infeasible_beta() {
    // sd² = 0.25 ≥ 0.38·0.62 = 0.2356
    let text = recipes_with(0, "use_sd", "0.5");
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        2,
        "use_sd",
        "sd² must be < mean·(1 − mean)",
    );
}

#[test]
fn recipe_counts_below_one() {
    let text = recipes_with(4, "nrrp_mean", "0.5");
    assert_data_error(parse_recipes(text.as_bytes(), R), R, 6, "nrrp_mean", "must be >= 1");
    let text = recipes_with(4, "contacts_mean", "0");
    assert_data_error(parse_recipes(text.as_bytes(), R), R, 6, "contacts_mean", "must be >= 1");
}

#[test]
fn recipe_ampa_decay_must_exceed_rise() {
    let text = recipes_with(0, "ampa_tau_decay_ms_mean", "0.1");
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        2,
        "ampa_tau_decay_ms_mean",
        "rise time",
    );
}

#[test]
fn recipe_duplicate_and_inconsistent_pathway() {
    let text = recipes_with(2, "pathway", "L5TTPC-L5TTPC");
    // Row 4 now names a pathway that disagrees with its types.
    assert_data_error(
        parse_recipes(text.as_bytes(), R),
        R,
        4,
        "pathway",
        "must be 'L23PC-L23PC'",
    );
    let mut dup = EMBEDDED_RECIPES_CSV.to_string();
    let first_row = EMBEDDED_RECIPES_CSV.lines().nth(1).unwrap();
    dup.push_str(first_row);
    dup.push('\n');
    assert_data_error(
        parse_recipes(dup.as_bytes(), R),
        R,
        7,
        "pathway",
        "duplicate pathway 'L5TTPC-L5TTPC'",
    );
}

#[test]
fn recipe_loading_is_all_or_nothing() {
    // Rows 2..5 are fine; a bad last row fails the whole file.
    let text = recipes_with(4, "use_sd", "-1");
    assert!(parse_recipes(text.as_bytes(), R).is_err());
}
