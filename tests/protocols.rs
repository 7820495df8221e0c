//! In-silico paired recordings (SPEC §5, §9): calibration of the sampled
//! EPSPs, the sign and rough size of the training outcomes at the paper's
//! parameters, determinism across thread counts.

use plastifit::cell::{load_cell, CellModel};
use plastifit::pathway::{embedded_recipes, find_recipe, try_sample_connections};
use plastifit::protocol::{
    embedded_protocols, mean_test_epsp, protocol_seed, run_protocols, tree_extent, ProtocolJob, RunnerSettings,
};
use plastifit::synapse::RuleParams;
use rayon::prelude::*;
use std::sync::Arc;

fn cell(name: &str) -> Arc<CellModel> {
    Arc::new(CellModel::build(&load_cell(name).unwrap(), 37.0).unwrap())
}

/// Mean somatic EPSP of 100 sampled connections with the dataset's factor.
fn sampled_mean_epsp(pathway: &str) -> (f64, f64) {
    let recipes = embedded_recipes().unwrap();
    let recipe = find_recipe(&recipes, pathway).unwrap();
    let cell = cell(&recipe.post_cell);
    let conns = try_sample_connections(recipe, tree_extent(&cell), 100, 77).unwrap();
    let epsps: Vec<f64> = conns
        .par_iter()
        .map(|c| {
            let seed = protocol_seed(c.release_seed, "test");
            mean_test_epsp(&cell, c, recipe.g_scale, 4000.0, 20, seed)
                .unwrap()
                .unwrap()
        })
        .collect();
    (epsps.iter().sum::<f64>() / epsps.len() as f64, recipe.epsp_mv_mean)
}

#[test]
fn calibrated_l5ttpc_epsp_is_within_20_percent_of_markram_1997() {
    // Markram et al. 1997: 1.3 ± 1.1 mV; a fresh sample (seed 77), not the calibration's.
    let (mean, target) = sampled_mean_epsp("L5TTPC-L5TTPC");
    assert!(
        (mean - target).abs() / target < 0.2,
        "mean EPSP {mean} mV vs {target} mV"
    );
}

#[test]
fn calibrated_l23pc_to_l5ttpc_epsp_is_within_30_percent_of_reyes_sakmann_1999() {
    let (mean, target) = sampled_mean_epsp("L23PC-L5TTPC");
    assert!(
        (mean - target).abs() / target < 0.3,
        "mean EPSP {mean} mV vs {target} mV"
    );
}

fn run(ids: &[&str], n: usize, seed: u64) -> Vec<(String, f64)> {
    let table = embedded_protocols().unwrap();
    let recipes = embedded_recipes().unwrap();
    let l5 = cell("L5TTPC");
    let jobs: Vec<ProtocolJob> = ids
        .iter()
        .map(|id| {
            let p = table.iter().find(|p| p.protocol_id == *id).unwrap();
            let recipe = find_recipe(&recipes, &p.pathway_id()).unwrap();
            ProtocolJob::sampled(p, recipe, l5.clone(), n, seed).unwrap()
        })
        .collect();
    let results = run_protocols(&jobs, &RuleParams::chindemi2022(), &RunnerSettings::default(), &|| {}).unwrap();
    results
        .iter()
        .map(|r| (r.protocol.protocol_id.clone(), r.summary().epsp_ratio_mean))
        .collect()
}

/// Spike-timing dependence at the paper's parameters: pre-before-post (+10 ms)
/// ends stronger than post-before-pre (−10 ms) at 10 Hz, on the same
/// connections. (The paper's absolute outcomes are not reproduced by these
/// parameters on the reduced cell; see the fit for parameters that are.)
#[test]
fn paper_parameters_favour_pre_before_post() {
    let means = run(&["mrk97_07", "mrk97_08"], 16, 2022);
    let m = |id: &str| means.iter().find(|(p, _)| p == id).unwrap().1;
    assert!(
        m("mrk97_07") > m("mrk97_08") + 0.2,
        "+10 ms {} vs −10 ms {}",
        m("mrk97_07"),
        m("mrk97_08")
    );
}

#[test]
fn summary_is_byte_identical_with_one_and_two_threads() {
    let bin = env!("CARGO_BIN_EXE_plastifit");
    let dir = tempfile::tempdir().unwrap();
    let summaries: Vec<Vec<u8>> = ["1", "2"]
        .iter()
        .map(|threads| {
            let out = dir.path().join(format!("t{threads}"));
            let status = std::process::Command::new(bin)
                .args([
                    "simulate",
                    "--protocols",
                    "mrk97_01,mrk97_08",
                    "--connections",
                    "3",
                    "--seed",
                    "5",
                    "--threads",
                ])
                .arg(threads)
                .arg("--out")
                .arg(&out)
                .status()
                .unwrap();
            assert!(status.success());
            std::fs::read(out.join("summary.csv")).unwrap()
        })
        .collect();
    assert_eq!(summaries[0], summaries[1]);
    let text = String::from_utf8(summaries[0].clone()).unwrap();
    assert!(text.starts_with("protocol_id,pathway,n_connections,n_excluded,epsp_ratio_mean,epsp_ratio_sem,invitro_mean,invitro_sem,error_sem"));
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn calibrated_l23_and_l4_pathway_epsps_are_within_30_percent_of_the_literature() {
    // Feldmeyer et al. 2006 (L2/3→L2/3, 1.0 mV), 2002 (L4→L2/3, 0.7 mV), 1999 (L4 stellate, 1.59 mV).
    for pathway in ["L23PC-L23PC", "L4PC-L23PC", "L4SSC-L4SSC"] {
        let (mean, target) = sampled_mean_epsp(pathway);
        assert!(
            (mean - target).abs() / target < 0.3,
            "{pathway}: mean EPSP {mean} mV vs {target} mV"
        );
    }
}

/// Relaxation steps near rest change no outcome that matters: every EPSP
/// ratio within 5e-4 of fine stepping throughout and every flip count the
/// same, on protocols of every pathway, from 1 Hz to 100 Hz, amplitude and
/// slope measures. (Measured: at most 1.3e-4.)
#[test]
fn relaxation_steps_leave_outcomes_unchanged() {
    let ids = ["mrk97_08", "egg99_02", "sjs01_17", "rmp08_02", "zlb09_05", "sjh06_02"];
    let table = embedded_protocols().unwrap();
    let recipes = embedded_recipes().unwrap();
    let jobs: Vec<ProtocolJob> = ids
        .iter()
        .map(|id| {
            let p = table.iter().find(|p| p.protocol_id == *id).unwrap();
            let recipe = find_recipe(&recipes, &p.pathway_id()).unwrap();
            ProtocolJob::sampled(p, recipe, cell(&recipe.post_cell), 2, 5).unwrap()
        })
        .collect();
    let outcomes = |relax: bool| {
        let mut settings = RunnerSettings::default();
        settings.sim.quiet.relax = relax;
        run_protocols(&jobs, &RuleParams::chindemi2022(), &settings, &|| {}).unwrap()
    };
    let (fine, relaxed) = (outcomes(false), outcomes(true));
    for (f, r) in fine.iter().zip(&relaxed) {
        let id = &f.protocol.protocol_id;
        for (a, b) in f.outcomes.iter().zip(&r.outcomes) {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            assert!(
                (a.epsp_ratio - b.epsp_ratio).abs() < 5e-4,
                "{id} connection {}: {} fine, {} relaxed",
                a.connection_id,
                a.epsp_ratio,
                b.epsp_ratio
            );
            assert_eq!((a.flipped_up, a.flipped_down), (b.flipped_up, b.flipped_down), "{id}");
        }
    }
}
