//! Statistics, determinism and geometry of sampled connections (SPEC §4).

use plastifit::pathway::{
    embedded_recipes, sample_connections, Connection, Contact, Copula, PathwayRecipe, Sampler, Tree, TreeExtent,
    CHINDEMI_2022_CORRELATION,
};
use statrs::distribution::{ContinuousCDF, Normal};

/// Extents of the reduced cells (µm of path from the soma); L4SSC has no
/// apical tree.
fn extent_for(recipe: &PathwayRecipe) -> TreeExtent {
    match recipe.post_cell.as_str() {
        "L5TTPC" => TreeExtent {
            basal_max_um: 257.0,
            apical_min_um: 10.0,
            apical_max_um: 1009.0,
        },
        "L4SSC" => TreeExtent::without_apical(200.0),
        _ => TreeExtent {
            basal_max_um: 200.0,
            apical_min_um: 8.0,
            apical_max_um: 400.0,
        },
    }
}

fn recipe(name: &str) -> PathwayRecipe {
    embedded_recipes()
        .unwrap()
        .into_iter()
        .find(|r| r.pathway == name)
        .unwrap()
}

fn contacts(connections: &[Connection]) -> Vec<&Contact> {
    connections.iter().flat_map(|c| c.contacts.iter()).collect()
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// Ranks 1..n with ties given their average rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap());
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mx, sx) = mean_sd(x);
    let (my, sy) = mean_sd(y);
    let n = x.len() as f64;
    x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum::<f64>() / ((n - 1.0) * sx * sy)
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).unwrap()
}

/// P(W ≤ 0, Z ≤ x) for standard normals with correlation rho, by Simpson's
/// rule over z of φ(z)·Φ(−rho·z/√(1 − rho²)).
fn bvn_zero(x: f64, rho: f64) -> f64 {
    let nd = std_normal();
    let lo = -12.0;
    let hi = x.min(12.0);
    if hi <= lo {
        return 0.0;
    }
    let steps = 4000;
    let h = (hi - lo) / steps as f64;
    let s = (1.0 - rho * rho).sqrt();
    let f = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt() * nd.cdf(-rho * z / s);
    let mut acc = f(lo) + f(hi);
    for i in 1..steps {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        acc += w * f(lo + i as f64 * h);
    }
    acc * h / 3.0
}

/// Population Spearman correlation (with mid-ranks for ties) between a
/// continuous margin and N = 1 + Poisson(lambda) joined by a Gaussian copula
/// with correlation r. With U = Φ(Z1) and the mid-distribution function
/// G(k) = (F(k−1) + F(k))/2 of N:
/// ρ_S = 12·(E[U·G(N)] − 1/4) / √(1 − Σ p_k³), where
/// E[U·1{N = k}] = P(Z0 ≤ Z1, c_{k−1} < Z2 ≤ c_k), c_k = Φ⁻¹(F(k)), Z0
/// independent: a bivariate normal probability in W = (Z0 − Z1)/√2, Z2 with
/// correlation −r/√2.
fn spearman_with_poisson(r: f64, lambda: f64) -> f64 {
    let nd = std_normal();
    let rho = -r / 2f64.sqrt();
    let mut pk = (-lambda).exp();
    let mut cdf_prev = 0.0;
    let mut b_prev = 0.0;
    let mut e = 0.0;
    let mut sum_p3 = 0.0;
    let mut k = 0u32;
    loop {
        let cdf = (cdf_prev + pk).min(1.0);
        let c = if cdf >= 1.0 - 1e-15 {
            f64::INFINITY
        } else {
            nd.inverse_cdf(cdf)
        };
        let b = bvn_zero(c, rho);
        e += 0.5 * (cdf_prev + cdf) * (b - b_prev);
        sum_p3 += pk.powi(3);
        if c.is_infinite() || f64::from(k) > 10.0 * lambda + 100.0 {
            break;
        }
        b_prev = b;
        cdf_prev = cdf;
        k += 1;
        pk *= lambda / f64::from(k);
    }
    12.0 * (e - 0.25) / (1.0 - sum_p3).sqrt()
}

/// Mean and SD of round(x), x ~ N(m, s) truncated to x ≥ 0.5.
fn contact_count_moments(m: f64, s: f64) -> (f64, f64) {
    let nd = std_normal();
    let norm = 1.0 - nd.cdf((0.5 - m) / s);
    let (mut e1, mut e2) = (0.0, 0.0);
    for k in 1..200 {
        let k = f64::from(k);
        let p = (nd.cdf((k + 0.5 - m) / s) - nd.cdf((k - 0.5 - m) / s)) / norm;
        e1 += k * p;
        e2 += k * k * p;
    }
    (e1, (e2 - e1 * e1).sqrt())
}

/// Mean of N(m, s) truncated to [lo, hi].
fn truncated_mean(m: f64, s: f64, lo: f64, hi: f64) -> f64 {
    let nd = std_normal();
    let (a, b) = ((lo - m) / s, (hi - m) / s);
    let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    m + s * (phi(a) - phi(b)) / (nd.cdf(b) - nd.cdf(a))
}

fn within(name: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{name}: sample {got:.5} vs expected {want:.5} (allowed {:.1} %)",
        rel * 100.0
    );
}

const N_CONNECTIONS: usize = 10_000;

struct Columns {
    u: Vec<f64>,
    nrrp: Vec<f64>,
    g: Vec<f64>,
    x: Vec<f64>,
    d: Vec<f64>,
    f: Vec<f64>,
    tau: Vec<f64>,
}

fn columns(cs: &[&Contact]) -> Columns {
    Columns {
        u: cs.iter().map(|c| c.use0).collect(),
        nrrp: cs.iter().map(|c| f64::from(c.nrrp)).collect(),
        g: cs.iter().map(|c| c.g_ampa_ns).collect(),
        x: cs.iter().map(|c| c.spine_volume_um3).collect(),
        d: cs.iter().map(|c| c.dep_ms).collect(),
        f: cs.iter().map(|c| c.fac_ms).collect(),
        tau: cs.iter().map(|c| c.ampa_tau_decay_ms).collect(),
    }
}

fn check_marginals(r: &PathwayRecipe, conns: &[Connection]) {
    let cs = contacts(conns);
    assert!(cs.len() > 10_000, "{}: only {} synapses", r.pathway, cs.len());
    let c = columns(&cs);
    let tag = |s: &str| format!("{} {s}", r.pathway);
    let pairs = [
        ("U mean", mean_sd(&c.u).0, r.use_mean),
        ("U sd", mean_sd(&c.u).1, r.use_sd),
        ("G mean", mean_sd(&c.g).0, r.ampa_gmax_ns_mean),
        ("G sd", mean_sd(&c.g).1, r.ampa_gmax_ns_sd),
        ("X mean", mean_sd(&c.x).0, r.spine_volume_um3_mean),
        ("X sd", mean_sd(&c.x).1, r.spine_volume_um3_sd),
        ("D mean", mean_sd(&c.d).0, r.dep_ms_mean),
        ("D sd", mean_sd(&c.d).1, r.dep_ms_sd),
        ("F mean", mean_sd(&c.f).0, r.fac_ms_mean),
        ("F sd", mean_sd(&c.f).1, r.fac_ms_sd),
        ("tau mean", mean_sd(&c.tau).0, r.ampa_tau_decay_ms_mean),
        ("tau sd", mean_sd(&c.tau).1, r.ampa_tau_decay_ms_sd),
        ("Nrrp mean", mean_sd(&c.nrrp).0, r.nrrp_mean),
    ];
    for (name, got, want) in pairs {
        within(&tag(name), got, want, 0.05);
    }
    let nrrp_sd = (r.nrrp_mean - 1.0).sqrt();
    if nrrp_sd > 0.0 {
        within(&tag("Nrrp sd"), mean_sd(&c.nrrp).1, nrrp_sd, 0.05);
    } else {
        assert!(c.nrrp.iter().all(|&n| n == 1.0));
    }
    assert!(cs.iter().all(|c| c.nrrp >= 1 && c.use0 > 0.0 && c.use0 <= 1.0));
    assert!(cs
        .iter()
        .all(|c| c.nmda_ratio == r.nmda_ratio && c.u_hill_k_mm == r.u_hill_k_mm));
    // Contacts per connection against the documented rounded normal.
    let counts: Vec<f64> = conns.iter().map(|c| c.contacts.len() as f64).collect();
    assert!(counts.iter().all(|&n| n >= 1.0));
    let (cm, csd) = contact_count_moments(r.contacts_mean, r.contacts_sd);
    let (gm, gsd) = mean_sd(&counts);
    within(&tag("contacts mean"), gm, cm, 0.05);
    within(&tag("contacts sd"), gsd, csd, 0.05);
    // ρ0 = 1 with probability U0, so P(ρ0 = 1) = E[U0].
    let rho1 = cs.iter().filter(|c| c.rho0 == 1).count() as f64 / cs.len() as f64;
    assert!((rho1 - r.use_mean).abs() < 0.015, "{}: P(rho0=1) {rho1}", r.pathway);
}

/// Spearman correlations of (U, Nrrp, G, X) against the copula targets.
fn check_copula(r: &PathwayRecipe, conns: &[Connection]) -> Vec<(String, f64, f64)> {
    let c = columns(&contacts(conns));
    let cols = [&c.u, &c.nrrp, &c.g, &c.x];
    let names = ["U", "Nrrp", "G", "X"];
    let lambda = r.nrrp_mean - 1.0;
    let m = CHINDEMI_2022_CORRELATION;
    let mut out = Vec::new();
    for i in 0..4 {
        for j in (i + 1)..4 {
            if (i == 1 || j == 1) && lambda == 0.0 {
                continue; // Nrrp is constant: no rank correlation exists.
            }
            let target = if i == 1 || j == 1 {
                spearman_with_poisson(m[i][j], lambda)
            } else {
                6.0 / std::f64::consts::PI * (m[i][j] / 2.0).asin()
            };
            let got = spearman(cols[i], cols[j]);
            let pair = format!("{}-{}", names[i], names[j]);
            assert!(
                (got - target).abs() < 0.05,
                "{} Spearman {pair}: {got:.4} vs target {target:.4}",
                r.pathway
            );
            out.push((pair, got, target));
        }
    }
    // D and F are independent of the copula variables.
    for (name, col) in [("D", &c.d), ("F", &c.f)] {
        for (other, oc) in names.iter().zip(cols) {
            if *other == "Nrrp" && lambda == 0.0 {
                continue;
            }
            let s = spearman(col, oc);
            assert!(s.abs() < 0.03, "{} {name}-{other}: {s}", r.pathway);
        }
    }
    out
}

#[test]
fn l5ttpc_marginals_and_copula_match_the_recipe() {
    let r = recipe("L5TTPC-L5TTPC");
    let conns = sample_connections(&r, extent_for(&r), N_CONNECTIONS, 2022);
    check_marginals(&r, &conns);
    let report = check_copula(&r, &conns);
    let c = columns(&contacts(&conns));
    eprintln!("{}: {} synapses", r.pathway, c.u.len());
    for (name, v, want) in [
        ("U", &c.u, (r.use_mean, r.use_sd)),
        ("Nrrp", &c.nrrp, r.nrrp_mean_sd()),
        ("G", &c.g, (r.ampa_gmax_ns_mean, r.ampa_gmax_ns_sd)),
        ("X", &c.x, (r.spine_volume_um3_mean, r.spine_volume_um3_sd)),
        ("D", &c.d, (r.dep_ms_mean, r.dep_ms_sd)),
        ("F", &c.f, (r.fac_ms_mean, r.fac_ms_sd)),
        ("tau", &c.tau, (r.ampa_tau_decay_ms_mean, r.ampa_tau_decay_ms_sd)),
    ] {
        let (m, s) = mean_sd(v);
        eprintln!("  {name}: {m:.4} ± {s:.4} (recipe {:.4} ± {:.4})", want.0, want.1);
    }
    for (pair, got, want) in report {
        eprintln!("  Spearman {pair}: {got:.4} (target {want:.4})");
    }
}

#[test]
fn other_pathways_marginals_and_copula_match_their_recipes() {
    for name in ["L23PC-L5TTPC", "L23PC-L23PC", "L4PC-L23PC", "L4SSC-L4SSC"] {
        let r = recipe(name);
        let conns = sample_connections(&r, extent_for(&r), N_CONNECTIONS, 7);
        check_marginals(&r, &conns);
        check_copula(&r, &conns);
    }
}

#[test]
fn tie_corrected_target_reduces_to_the_continuous_formula() {
    // With a huge λ the Poisson is nearly continuous: the tie-corrected
    // target must approach (6/π)·asin(r/2); with λ small it must be smaller.
    let r = 0.9;
    let continuous = 6.0 / std::f64::consts::PI * (r / 2.0_f64).asin();
    assert!((spearman_with_poisson(r, 100.0) - continuous).abs() < 0.01);
    assert!(spearman_with_poisson(r, 1.8) < continuous);
}

#[test]
fn same_seed_gives_identical_samples_bit_for_bit() {
    let r = recipe("L5TTPC-L5TTPC");
    let e = extent_for(&r);
    let a = serde_json::to_string(&sample_connections(&r, e, 50, 99)).unwrap();
    let b = serde_json::to_string(&sample_connections(&r, e, 50, 99)).unwrap();
    assert_eq!(a, b);
    let c = serde_json::to_string(&sample_connections(&r, e, 50, 100)).unwrap();
    assert_ne!(a, c);
}

#[test]
fn connection_k_is_the_same_whatever_the_sample_size() {
    let r = recipe("L23PC-L5TTPC");
    let e = extent_for(&r);
    let ten = sample_connections(&r, e, 10, 5);
    let hundred = sample_connections(&r, e, 100, 5);
    assert_eq!(ten[..], hundred[..10]);
    let sampler = Sampler::new(&r, e, Copula::chindemi_2022()).unwrap();
    assert_eq!(sampler.connection(42, 5), hundred[42]);
    for (k, c) in hundred.iter().enumerate() {
        assert_eq!(c.id, k);
        assert_eq!(c.pathway, r.pathway);
        assert_eq!(c.post_cell, r.post_cell);
    }
    // Release seeds differ between connections.
    let mut seeds: Vec<u64> = hundred.iter().map(|c| c.release_seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 100);
}

#[test]
fn apical_fraction_and_path_distances_follow_the_recipe() {
    for name in ["L5TTPC-L5TTPC", "L23PC-L5TTPC", "L4SSC-L4SSC"] {
        let r = recipe(name);
        let e = extent_for(&r);
        let conns = sample_connections(&r, e, 5_000, 3);
        let cs = contacts(&conns);
        assert!(cs.iter().all(|c| e.contains(c.tree, c.path_distance_um)));
        let apical: Vec<f64> = cs
            .iter()
            .filter(|c| c.tree == Tree::Apical)
            .map(|c| c.path_distance_um)
            .collect();
        let basal: Vec<f64> = cs
            .iter()
            .filter(|c| c.tree == Tree::Basal)
            .map(|c| c.path_distance_um)
            .collect();
        let frac = apical.len() as f64 / cs.len() as f64;
        assert!(
            (frac - r.apical_fraction).abs() < 0.01,
            "{name}: apical fraction {frac}"
        );
        let bm = truncated_mean(r.basal_path_um_mean, r.basal_path_um_sd, 0.0, e.basal_max_um);
        within(&format!("{name} basal path"), mean_sd(&basal).0, bm, 0.02);
        if r.apical_fraction > 0.0 {
            let am = truncated_mean(
                r.apical_path_um_mean,
                r.apical_path_um_sd,
                e.apical_min_um,
                e.apical_max_um,
            );
            within(&format!("{name} apical path"), mean_sd(&apical).0, am, 0.02);
        } else {
            assert!(apical.is_empty());
        }
    }
}

#[test]
fn g_scale_is_not_applied_by_the_sampler() {
    let mut r = recipe("L5TTPC-L5TTPC");
    let e = extent_for(&r);
    let raw = sample_connections(&r, e, 20, 1);
    r.g_scale = 3.0;
    let scaled = sample_connections(&r, e, 20, 1);
    assert_eq!(raw, scaled);
}
