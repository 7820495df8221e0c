//! Variation operators with the semantics of DEAP's `varAnd`,
//! `cxSimulatedBinaryBounded` and `mutPolynomialBounded`, as BluePyOpt uses
//! them.
//!
//! Every random number is drawn in the same order and compared with the same
//! inequalities as DEAP does, so the operators differ from DEAP's only by the
//! generator that feeds them.

use rand::Rng;

use super::config::OptimiserConfig;

/// Per-gene probability that simulated binary crossover touches a gene
/// (fixed at 0.5 in DEAP).
pub const SBX_GENE_PROBABILITY: f64 = 0.5;

/// Bounded simulated binary crossover (Deb & Agrawal 1995, in the form of
/// Deb's NSGA-II C code), applied in place to two parents.
///
/// For each gene, with probability 0.5 (draw `u ≤ 0.5`) and if the parents
/// differ by more than 1e-14, one draw gives the spread factor of both
/// children, which are clipped to the bounds, and a last draw (`≤ 0.5`)
/// decides which parent receives which child.
pub fn sbx_bounded<R: Rng + ?Sized>(a: &mut [f64], b: &mut [f64], eta: f64, bounds: &[(f64, f64)], rng: &mut R) {
    debug_assert_eq!(a.len(), b.len());
    debug_assert_eq!(a.len(), bounds.len());
    let exponent = 1.0 / (eta + 1.0);
    let spread = |beta: f64, u: f64| -> f64 {
        let alpha = 2.0 - beta.powf(-(eta + 1.0));
        if u <= 1.0 / alpha {
            (u * alpha).powf(exponent)
        } else {
            (1.0 / (2.0 - u * alpha)).powf(exponent)
        }
    };
    for (i, &(lo, hi)) in bounds.iter().enumerate() {
        if rng.gen::<f64>() > SBX_GENE_PROBABILITY {
            continue;
        }
        if (a[i] - b[i]).abs() <= 1e-14 {
            continue;
        }
        let x1 = a[i].min(b[i]);
        let x2 = a[i].max(b[i]);
        let u: f64 = rng.gen();

        let beta_low = 1.0 + 2.0 * (x1 - lo) / (x2 - x1);
        let c1 = 0.5 * (x1 + x2 - spread(beta_low, u) * (x2 - x1));
        let beta_high = 1.0 + 2.0 * (hi - x2) / (x2 - x1);
        let c2 = 0.5 * (x1 + x2 + spread(beta_high, u) * (x2 - x1));

        let c1 = c1.max(lo).min(hi);
        let c2 = c2.max(lo).min(hi);
        if rng.gen::<f64>() <= 0.5 {
            a[i] = c2;
            b[i] = c1;
        } else {
            a[i] = c1;
            b[i] = c2;
        }
    }
}

/// Bounded polynomial mutation (Deb's NSGA-II C code), in place.
///
/// Each gene is mutated with probability `indpb` (draw `u ≤ indpb`); a second
/// draw gives the perturbation, whose size shrinks near the bound it moves
/// towards; the result is clipped to the bounds.
pub fn polynomial_mutation_bounded<R: Rng + ?Sized>(
    x: &mut [f64],
    eta: f64,
    indpb: f64,
    bounds: &[(f64, f64)],
    rng: &mut R,
) {
    debug_assert_eq!(x.len(), bounds.len());
    let exponent = 1.0 / (eta + 1.0);
    for (xi, &(lo, hi)) in x.iter_mut().zip(bounds) {
        if rng.gen::<f64>() > indpb {
            continue;
        }
        let width = hi - lo;
        let delta_1 = (*xi - lo) / width;
        let delta_2 = (hi - *xi) / width;
        let u: f64 = rng.gen();
        let delta_q = if u < 0.5 {
            let xy = 1.0 - delta_1;
            let val = 2.0 * u + (1.0 - 2.0 * u) * xy.powf(eta + 1.0);
            val.powf(exponent) - 1.0
        } else {
            let xy = 1.0 - delta_2;
            let val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy.powf(eta + 1.0);
            1.0 - val.powf(exponent)
        };
        *xi = (*xi + delta_q * width).max(lo).min(hi);
    }
}

/// One child of [`var_and`].
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    /// Parameter values.
    pub values: Vec<f64>,
    /// Whether crossover or mutation was applied (DEAP then invalidates the
    /// fitness, so the child must be evaluated even if, by chance, no gene
    /// moved). An unchanged child is a clone of the parent at the same index.
    pub changed: bool,
}

/// DEAP's `varAnd`: clone the parents; for each consecutive pair
/// (0,1), (2,3), … crossover with probability `cxpb` (draw `< cxpb`); then
/// each child is mutated with probability `mutpb` (draw `< mutpb`). With an
/// odd number of parents the last one is only eligible for mutation.
pub fn var_and<R: Rng + ?Sized>(
    parents: &[&[f64]],
    bounds: &[(f64, f64)],
    config: &OptimiserConfig,
    rng: &mut R,
) -> Vec<Child> {
    let mut children: Vec<Child> = parents
        .iter()
        .map(|p| Child {
            values: p.to_vec(),
            changed: false,
        })
        .collect();
    for i in (1..children.len()).step_by(2) {
        if rng.gen::<f64>() < config.cxpb {
            let (left, right) = children.split_at_mut(i);
            let a = &mut left[i - 1];
            let b = &mut right[0];
            sbx_bounded(&mut a.values, &mut b.values, config.eta_crossover, bounds, rng);
            a.changed = true;
            b.changed = true;
        }
    }
    for child in &mut children {
        if rng.gen::<f64>() < config.mutpb {
            polynomial_mutation_bounded(
                &mut child.values,
                config.eta_mutation,
                config.mutation_indpb,
                bounds,
                rng,
            );
            child.changed = true;
        }
    }
    children
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn bounds() -> Vec<(f64, f64)> {
        vec![(0.0, 1.0), (-5.0, 5.0), (150.0, 350.0), (1.0, 10.0), (1e-3, 2e-3)]
    }

    fn random_point(rng: &mut ChaCha8Rng, b: &[(f64, f64)]) -> Vec<f64> {
        b.iter()
            .map(|&(lo, hi)| {
                // Put a fair share of genes exactly on a bound.
                match rng.gen_range(0..6) {
                    0 => lo,
                    1 => hi,
                    _ => lo + (hi - lo) * rng.gen::<f64>(),
                }
            })
            .collect()
    }

    fn in_bounds(x: &[f64], b: &[(f64, f64)]) -> bool {
        x.iter()
            .zip(b)
            .all(|(&v, &(lo, hi))| v.is_finite() && lo <= v && v <= hi)
    }

    #[test]
    fn sbx_children_stay_in_bounds() {
        let b = bounds();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for &eta in &[0.5, 2.0, 20.0, 100.0] {
            for _ in 0..5000 {
                let mut x = random_point(&mut rng, &b);
                let mut y = random_point(&mut rng, &b);
                sbx_bounded(&mut x, &mut y, eta, &b, &mut rng);
                assert!(in_bounds(&x, &b), "{x:?}");
                assert!(in_bounds(&y, &b), "{y:?}");
            }
        }
    }

    #[test]
    fn mutation_stays_in_bounds_and_moves_genes() {
        let b = bounds();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut moved = 0;
        for &eta in &[0.5, 2.0, 20.0, 100.0] {
            for _ in 0..5000 {
                let original = random_point(&mut rng, &b);
                let mut x = original.clone();
                polynomial_mutation_bounded(&mut x, eta, 1.0, &b, &mut rng);
                assert!(in_bounds(&x, &b), "{x:?}");
                moved += x.iter().zip(&original).filter(|(a, b)| a != b).count();
            }
        }
        assert!(moved > 50_000, "mutation moved only {moved} genes");
    }

    #[test]
    fn operators_are_deterministic_per_seed() {
        let b = bounds();
        let run = |seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut x = vec![0.2, 1.0, 200.0, 9.0, 1.5e-3];
            let mut y = vec![0.8, -3.0, 300.0, 2.0, 1.1e-3];
            sbx_bounded(&mut x, &mut y, 20.0, &b, &mut rng);
            polynomial_mutation_bounded(&mut x, 20.0, 0.5, &b, &mut rng);
            (x, y)
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn sbx_preserves_the_pair_mean_inside_the_box() {
        // Away from the bounds both spread factors coincide, so the children
        // are symmetric about the parents' midpoint.
        let b = vec![(-100.0, 100.0); 4];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..1000 {
            let mut x = vec![0.1, 0.2, -0.3, 0.4];
            let mut y = vec![0.3, -0.2, 0.3, 0.5];
            let mean: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
            sbx_bounded(&mut x, &mut y, 20.0, &b, &mut rng);
            for i in 0..4 {
                assert!((x[i] + y[i] - mean[i]).abs() < 1e-3, "gene {i}");
            }
        }
    }

    #[test]
    fn identical_parents_are_left_alone() {
        let b = bounds();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let p = vec![0.5, 0.0, 250.0, 5.0, 1.5e-3];
        let (mut x, mut y) = (p.clone(), p.clone());
        sbx_bounded(&mut x, &mut y, 20.0, &b, &mut rng);
        assert_eq!(x, p);
        assert_eq!(y, p);
    }

    #[test]
    fn var_and_probabilities_zero_and_one() {
        let b = bounds();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let parents: Vec<Vec<f64>> = (0..6).map(|_| random_point(&mut rng, &b)).collect();
        let refs: Vec<&[f64]> = parents.iter().map(|p| p.as_slice()).collect();

        let none = OptimiserConfig {
            cxpb: 0.0,
            mutpb: 0.0,
            ..OptimiserConfig::default()
        };
        let kids = var_and(&refs, &b, &none, &mut rng);
        for (k, p) in kids.iter().zip(&parents) {
            assert!(!k.changed);
            assert_eq!(&k.values, p);
        }

        let all = OptimiserConfig {
            cxpb: 1.0,
            mutpb: 1.0,
            ..OptimiserConfig::default()
        };
        let kids = var_and(&refs, &b, &all, &mut rng);
        assert!(kids.iter().all(|k| k.changed));
        assert!(kids.iter().all(|k| in_bounds(&k.values, &b)));

        // Odd count: the last parent can only be mutated.
        let only_cx = OptimiserConfig {
            cxpb: 1.0,
            mutpb: 0.0,
            ..OptimiserConfig::default()
        };
        let kids = var_and(&refs[..5], &b, &only_cx, &mut rng);
        assert!(kids[..4].iter().all(|k| k.changed));
        assert!(!kids[4].changed);
        assert_eq!(kids[4].values, parents[4]);
    }
}
