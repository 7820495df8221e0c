//! Sampling connections from a pathway recipe (SPEC §4, eqs 47-52).
//!
//! # Reproducibility
//! Connection `k` of a sample with seed `s` is drawn from its own ChaCha20
//! generator, seeded with `s` (`SeedableRng::seed_from_u64`) and switched to
//! stream `k`. Its draws therefore depend only on `(s, k)` and the recipe:
//! connection 7 is the same whether 10 or 10,000 connections are sampled, and
//! every run with the same inputs is identical bit for bit.
//!
//! # Per connection, in draw order
//! 1. `release_seed`: the first 64 bits of the connection's stream (the seed of
//!    its stochastic release in the engine).
//! 2. Number of contacts: `round(x)` with `x` normal (`contacts_mean`,
//!    `contacts_sd`) truncated to `x ≥ 0.5`, so at least 1. Rounding adds about
//!    1/12 to the variance (5.5 ± 1.1 gives 5.50 ± 1.14).
//! 3. Per contact, independently:
//!    - tree: apical with probability `apical_fraction`, else basal;
//!    - path distance (µm): normal (`*_path_um_mean`, `*_path_um_sd`) truncated
//!      to the tree's extent, `[0, basal_max_um]` or
//!      `[apical_min_um, apical_max_um]` (SD 0 = the mean, clamped);
//!    - (U0, Nrrp, G0, X) from a Gaussian copula: z = L·ε with ε ~ N(0, I₄)
//!      and L·Lᵀ = M ([`Copula`]); each coordinate goes through Φ to a
//!      probability and then through the inverse CDF of its marginal:
//!      U0 ~ beta(mean, sd); Nrrp = 1 + Poisson(nrrp_mean − 1) (mean
//!      `nrrp_mean`, SD √(nrrp_mean − 1)); G0 ~ gamma(mean, sd) in nS;
//!      X ~ gamma(mean, sd) in µm³;
//!    - D and F ~ gamma(mean, sd) (ms), independent of the copula;
//!    - AMPA decay ~ normal (mean, sd) truncated below at the AMPA rise time
//!      0.2 ms (for every shipped recipe that cut is > 8 SD below the mean);
//!    - `nmda_ratio` and `u_hill_k_mm` copied from the recipe;
//!    - ρ0 = 1 with probability U0, else 0.
//!
//! `g_ampa_ns` is the raw recipe conductance: the pathway's `g_scale` is
//! applied by the engine when it builds the synapse, never here.

use rand::distributions::{Distribution, Open01};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::StandardNormal;

use super::contact::{Connection, Contact, Tree};
use super::dist::{cholesky4, poisson_quantile, truncated_normal_quantile, BetaMs, GammaMs, Tail};
use super::recipe::{PathwayRecipe, AMPA_TAU_RISE_MS};
use crate::error::{Error, Result};

/// Correlation matrix M over (U, Nrrp, G_AMPA, X) of Chindemi et al. 2022
/// (SPEC §4).
pub const CHINDEMI_2022_CORRELATION: [[f64; 4]; 4] = [
    [1.00, 0.81, 0.90, 0.79],
    [0.81, 1.00, 0.90, 0.92],
    [0.90, 0.90, 1.00, 0.88],
    [0.79, 0.92, 0.88, 1.00],
];

/// A Gaussian copula over (U, Nrrp, G_AMPA, X): the correlation matrix and
/// its Cholesky factor.
#[derive(Debug, Clone, PartialEq)]
pub struct Copula {
    correlation: [[f64; 4]; 4],
    cholesky: [[f64; 4]; 4],
}

impl Copula {
    /// Validate a correlation matrix (symmetric, unit diagonal, positive
    /// definite) and factor it.
    #[allow(clippy::needless_range_loop)] // matrix indices read best here
    pub fn new(correlation: [[f64; 4]; 4]) -> Result<Copula> {
        for i in 0..4 {
            if correlation[i][i] != 1.0 {
                return Err(Error::Config(format!(
                    "copula correlation: diagonal entry {i} is {} (must be 1)",
                    correlation[i][i]
                )));
            }
            for j in 0..4 {
                let v = correlation[i][j];
                if !v.is_finite() || (v - correlation[j][i]).abs() > 1e-12 {
                    return Err(Error::Config(format!(
                        "copula correlation: entries ({i},{j}) and ({j},{i}) must be equal and finite"
                    )));
                }
            }
        }
        let cholesky = cholesky4(&correlation)
            .ok_or_else(|| Error::Config("copula correlation matrix is not positive definite".to_string()))?;
        Ok(Copula { correlation, cholesky })
    }

    /// The paper's matrix.
    pub fn chindemi_2022() -> Copula {
        Copula::new(CHINDEMI_2022_CORRELATION).expect("the published matrix is valid")
    }

    pub fn correlation(&self) -> &[[f64; 4]; 4] {
        &self.correlation
    }

    /// Lower-triangular L with L·Lᵀ = M.
    pub fn cholesky(&self) -> &[[f64; 4]; 4] {
        &self.cholesky
    }
}

impl Default for Copula {
    fn default() -> Copula {
        Copula::chindemi_2022()
    }
}

/// The path-distance range of the postsynaptic cell's trees (µm from the
/// soma), supplied by the caller from the cell description. Sampled basal
/// contacts lie in `[0, basal_max_um]`, apical ones in
/// `[apical_min_um, apical_max_um]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeExtent {
    pub basal_max_um: f64,
    pub apical_min_um: f64,
    pub apical_max_um: f64,
}

impl TreeExtent {
    /// A cell without an apical tree (e.g. a spiny stellate cell).
    pub fn without_apical(basal_max_um: f64) -> TreeExtent {
        TreeExtent {
            basal_max_um,
            apical_min_um: 0.0,
            apical_max_um: 0.0,
        }
    }

    /// Whether a path distance lies on the given tree.
    pub fn contains(&self, tree: Tree, path_distance_um: f64) -> bool {
        match tree {
            Tree::Basal => (0.0..=self.basal_max_um).contains(&path_distance_um),
            Tree::Apical => (self.apical_min_um..=self.apical_max_um).contains(&path_distance_um),
        }
    }

    /// Check that the recipe's contacts can be placed: the basal range must
    /// be non-empty unless every contact is apical, and the apical range
    /// non-empty unless none is.
    pub fn check(&self, recipe: &PathwayRecipe) -> Result<()> {
        let bad = |what: String| {
            Err(Error::Config(format!(
                "tree extent for pathway {}: {what}",
                recipe.pathway
            )))
        };
        let values = [self.basal_max_um, self.apical_min_um, self.apical_max_um];
        if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return bad(format!("distances must be finite and >= 0 (got {self:?})"));
        }
        if recipe.apical_fraction < 1.0 && self.basal_max_um <= 0.0 {
            return bad("the cell has no basal tree but the recipe places basal contacts".into());
        }
        if recipe.apical_fraction > 0.0 && self.apical_max_um <= self.apical_min_um {
            return bad(format!(
                "the cell has no apical range (apical_min_um {} >= apical_max_um {}) \
                 but apical_fraction is {}",
                self.apical_min_um, self.apical_max_um, recipe.apical_fraction
            ));
        }
        Ok(())
    }
}

/// A recipe prepared for sampling: marginals resolved, extent checked.
#[derive(Debug, Clone)]
pub struct Sampler {
    recipe: PathwayRecipe,
    extent: TreeExtent,
    copula: Copula,
    use_dist: BetaMs,
    g_dist: GammaMs,
    x_dist: GammaMs,
    dep_dist: GammaMs,
    fac_dist: GammaMs,
}

impl Sampler {
    pub fn new(recipe: &PathwayRecipe, extent: TreeExtent, copula: Copula) -> Result<Sampler> {
        extent.check(recipe)?;
        Ok(Sampler {
            recipe: recipe.clone(),
            extent,
            copula,
            use_dist: BetaMs::new(recipe.use_mean, recipe.use_sd),
            g_dist: GammaMs::new(recipe.ampa_gmax_ns_mean, recipe.ampa_gmax_ns_sd),
            x_dist: GammaMs::new(recipe.spine_volume_um3_mean, recipe.spine_volume_um3_sd),
            dep_dist: GammaMs::new(recipe.dep_ms_mean, recipe.dep_ms_sd),
            fac_dist: GammaMs::new(recipe.fac_ms_mean, recipe.fac_ms_sd),
        })
    }

    /// Connections `0..n`.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<Connection> {
        (0..n).map(|k| self.connection(k, seed)).collect()
    }

    /// Connection `k` of the sample with `seed` (independent of the sample size).
    pub fn connection(&self, k: usize, seed: u64) -> Connection {
        let mut rng = connection_rng(seed, k);
        let release_seed = rng.next_u64();
        let n_contacts = self.draw_contact_count(&mut rng);
        let contacts = (0..n_contacts).map(|_| self.draw_contact(&mut rng)).collect();
        Connection {
            id: k,
            pathway: self.recipe.pathway.clone(),
            post_cell: self.recipe.post_cell.clone(),
            release_seed,
            contacts,
        }
    }

    fn draw_contact_count(&self, rng: &mut ChaCha20Rng) -> usize {
        let u: f64 = Open01.sample(rng);
        let x = truncated_normal_quantile(
            self.recipe.contacts_mean,
            self.recipe.contacts_sd,
            0.5,
            f64::INFINITY,
            u,
        );
        (x.round() as usize).max(1)
    }

    fn draw_contact(&self, rng: &mut ChaCha20Rng) -> Contact {
        let r = &self.recipe;
        // Location.
        let u_tree: f64 = rng.gen();
        let tree = if u_tree < r.apical_fraction {
            Tree::Apical
        } else {
            Tree::Basal
        };
        let u_path: f64 = Open01.sample(rng);
        let path_distance_um = match tree {
            Tree::Basal => truncated_normal_quantile(
                r.basal_path_um_mean,
                r.basal_path_um_sd,
                0.0,
                self.extent.basal_max_um,
                u_path,
            ),
            Tree::Apical => truncated_normal_quantile(
                r.apical_path_um_mean,
                r.apical_path_um_sd,
                self.extent.apical_min_um,
                self.extent.apical_max_um,
                u_path,
            ),
        };
        // Correlated (U, Nrrp, G, X).
        let eps: [f64; 4] = [
            StandardNormal.sample(rng),
            StandardNormal.sample(rng),
            StandardNormal.sample(rng),
            StandardNormal.sample(rng),
        ];
        let l = self.copula.cholesky();
        let z: [f64; 4] = std::array::from_fn(|i| (0..=i).map(|j| l[i][j] * eps[j]).sum::<f64>());
        let use0 = self.use_dist.quantile(Tail::from_z(z[0]));
        let nrrp = 1 + poisson_quantile(r.nrrp_mean - 1.0, Tail::from_z(z[1]));
        let g_ampa_ns = self.g_dist.quantile(Tail::from_z(z[2]));
        let spine_volume_um3 = self.x_dist.quantile(Tail::from_z(z[3]));
        // Independent marginals.
        let dep_ms = self.dep_dist.quantile(Tail::from_uniform(Open01.sample(rng)));
        let fac_ms = self.fac_dist.quantile(Tail::from_uniform(Open01.sample(rng)));
        let ampa_tau_decay_ms = truncated_normal_quantile(
            r.ampa_tau_decay_ms_mean,
            r.ampa_tau_decay_ms_sd,
            AMPA_TAU_RISE_MS,
            f64::INFINITY,
            Open01.sample(rng),
        )
        .max(next_up(AMPA_TAU_RISE_MS));
        let u_rho: f64 = rng.gen();
        let rho0 = u8::from(u_rho < use0);
        Contact {
            tree,
            path_distance_um,
            use0,
            nrrp,
            dep_ms,
            fac_ms,
            g_ampa_ns,
            ampa_tau_decay_ms,
            nmda_ratio: r.nmda_ratio,
            spine_volume_um3,
            u_hill_k_mm: r.u_hill_k_mm,
            rho0,
        }
    }
}

/// The generator of connection `k`: ChaCha20 seeded from `seed`, stream `k`.
fn connection_rng(seed: u64, k: usize) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(k as u64);
    rng
}

/// The smallest f64 above a positive `x`.
fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

/// Sample `n` connections of a pathway with the paper's copula.
///
/// # Panics
/// If `extent` cannot hold the recipe's contacts (see [`TreeExtent::check`]);
/// use [`try_sample_connections`] to get an error instead.
pub fn sample_connections(recipe: &PathwayRecipe, extent: TreeExtent, n: usize, seed: u64) -> Vec<Connection> {
    match try_sample_connections(recipe, extent, n, seed) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// [`sample_connections`] that reports an unusable extent as an error.
pub fn try_sample_connections(
    recipe: &PathwayRecipe,
    extent: TreeExtent,
    n: usize,
    seed: u64,
) -> Result<Vec<Connection>> {
    Ok(Sampler::new(recipe, extent, Copula::chindemi_2022())?.sample(n, seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pathway::recipe::embedded_recipes;

    fn l5() -> PathwayRecipe {
        embedded_recipes()
            .unwrap()
            .into_iter()
            .find(|r| r.pathway == "L5TTPC-L5TTPC")
            .unwrap()
    }

    const EXTENT: TreeExtent = TreeExtent {
        basal_max_um: 257.0,
        apical_min_um: 0.0,
        apical_max_um: 999.0,
    };

    #[test]
    fn connection_k_does_not_depend_on_n() {
        let r = l5();
        let small = sample_connections(&r, EXTENT, 3, 11);
        let large = sample_connections(&r, EXTENT, 30, 11);
        assert_eq!(small[..], large[..3]);
        assert_ne!(small[0], small[1]);
    }

    #[test]
    fn extent_is_checked() {
        let r = l5();
        let e = try_sample_connections(&r, TreeExtent::without_apical(200.0), 1, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("apical"), "{e}");
    }

    #[test]
    fn copula_rejects_bad_matrices() {
        let mut m = CHINDEMI_2022_CORRELATION;
        m[0][3] = 0.1;
        assert!(Copula::new(m).is_err());
        m[3][0] = 0.1;
        // Symmetric now, but not positive definite.
        assert!(Copula::new(m).is_err());
        let mut identity = [[0.0; 4]; 4];
        for (i, row) in identity.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        assert!(Copula::new(identity).is_ok());
        identity[2][2] = 0.9;
        assert!(Copula::new(identity).is_err());
    }
}
