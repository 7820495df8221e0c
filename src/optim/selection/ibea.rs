//! Indicator-based selection (IBEA, Zitzler & Künzli 2004, PPSN VIII).

use rand::{Rng, RngCore};

use super::{Selection, Selector};

/// IBEA fitness of a pool, with the additive ε-indicator on objectives
/// normalised to [0, 1] by the pool's own minimum and maximum (an objective
/// with zero range is divided by 1, as BluePyOpt does).
///
/// * `I(y, x) = max_k (f_k(y) − f_k(x)) / range_k`, the smallest translation
///   that makes `y` weakly dominate `x`;
/// * `c = max_{y,x} |I(y, x)|` (taken as 1 if every indicator is 0);
/// * `F(x) = Σ_{y≠x} −exp(−I(y, x) / (c·κ))`; larger is better.
///
/// BluePyOpt stores `−F(x)` (a positive number, smaller is better); the
/// ordering is the same.
#[derive(Clone, Debug)]
pub struct IbeaFitness {
    n: usize,
    /// `I(y, x)` at `y * n + x`.
    indicator: Vec<f64>,
    /// `c·κ`.
    scale: f64,
    fitness: Vec<f64>,
}

impl IbeaFitness {
    /// `I(y, x)` on the normalised objectives.
    pub fn indicator(&self, y: usize, x: usize) -> f64 {
        self.indicator[y * self.n + x]
    }

    /// `c·κ`, the divisor of the indicator in the exponent.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// `F(x)` for every pool member (updated by [`IbeaFitness::remove`]).
    pub fn fitness(&self) -> &[f64] {
        &self.fitness
    }

    /// `exp(−I(y, x) / (c·κ))`: how much `y` lowers the fitness of `x`.
    fn contribution(&self, y: usize, x: usize) -> f64 {
        (-self.indicator(y, x) / self.scale).exp()
    }

    /// Takes `gone` out of the pool: every other member gets its
    /// contribution back (the normalisation and `c` are kept, as in the
    /// paper's algorithm). The caller stops looking at `gone`.
    pub fn remove(&mut self, gone: usize) {
        for x in 0..self.n {
            if x != gone {
                self.fitness[x] += self.contribution(gone, x);
            }
        }
    }
}

/// Computes [`IbeaFitness`] for a pool of error vectors.
pub fn ibea_fitness(pool: &[&[f64]], kappa: f64) -> IbeaFitness {
    let n = pool.len();
    let m = pool.first().map_or(0, |p| p.len());
    let mut range = vec![1.0; m];
    for (k, r) in range.iter_mut().enumerate() {
        let lo = pool.iter().map(|p| p[k]).fold(f64::INFINITY, f64::min);
        let hi = pool.iter().map(|p| p[k]).fold(f64::NEG_INFINITY, f64::max);
        if hi > lo {
            *r = hi - lo;
        }
    }
    let mut indicator = vec![0.0; n * n];
    let mut c: f64 = 0.0;
    for y in 0..n {
        for x in 0..n {
            let i = (0..m)
                .map(|k| (pool[y][k] - pool[x][k]) / range[k])
                .fold(f64::NEG_INFINITY, f64::max);
            let i = if m == 0 { 0.0 } else { i };
            indicator[y * n + x] = i;
            c = c.max(i.abs());
        }
    }
    if c == 0.0 {
        c = 1.0;
    }
    let mut out = IbeaFitness {
        n,
        indicator,
        scale: c * kappa,
        fitness: vec![0.0; n],
    };
    for x in 0..n {
        let mut f = 0.0;
        for y in 0..n {
            if y != x {
                f -= out.contribution(y, x);
            }
        }
        out.fitness[x] = f;
    }
    out
}

/// Tournament of `size` among `candidates` (positions drawn uniformly with
/// replacement); the first draw wins unless a later one has strictly larger
/// fitness. Returns the winner's pool index.
fn tournament(candidates: &[usize], fitness: &[f64], size: usize, rng: &mut dyn RngCore) -> usize {
    let mut winner = candidates[rng.gen_range(0..candidates.len())];
    for _ in 1..size {
        let challenger = candidates[rng.gen_range(0..candidates.len())];
        if fitness[challenger] > fitness[winner] {
            winner = challenger;
        }
    }
    winner
}

/// IBEA as Zitzler & Künzli describe it.
///
/// Environmental selection: compute [`IbeaFitness`] on the pool, then while
/// more than `mu` members remain, remove the one with the smallest fitness
/// (lowest pool index on ties) and give every remaining member that
/// individual's contribution back. The survivors (in pool order) are the
/// population the next offspring join. Mating selection: `mu` tournaments of
/// `tournament_size` among the survivors, on their updated fitness.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ibea {
    pub kappa: f64,
    pub tournament_size: usize,
}

impl Selector for Ibea {
    fn select(&self, pool: &[&[f64]], mu: usize, rng: &mut dyn RngCore) -> Selection {
        let mut fit = ibea_fitness(pool, self.kappa);
        let n = pool.len();
        let mut alive = vec![true; n];
        let mut remaining = n;
        while remaining > mu {
            let mut worst: Option<usize> = None;
            for x in (0..n).filter(|&x| alive[x]) {
                match worst {
                    Some(w) if fit.fitness[x] >= fit.fitness[w] => {}
                    _ => worst = Some(x),
                }
            }
            let worst = worst.expect("remaining > mu >= 0 means someone is alive");
            alive[worst] = false;
            remaining -= 1;
            fit.remove(worst);
        }
        let survivors: Vec<usize> = (0..n).filter(|&x| alive[x]).collect();
        let parents = (0..mu)
            .map(|_| tournament(&survivors, &fit.fitness, self.tournament_size, rng))
            .collect();
        Selection { survivors, parents }
    }
}

/// IBEA as BluePyOpt's `selIBEA` runs it in `eaAlphaMuPlusLambdaCheckpoint`
/// (what published BluePyOpt fits, including the Chindemi et al. 2022 one,
/// used).
///
/// Differences from [`Ibea`]:
/// * there is no environmental selection: BluePyOpt's `alpha` defaults to the
///   pool size, so its "environmental selection" only sorts the pool by
///   fitness (stably, best first) and drops no one; the fitness of the
///   remaining members is therefore never updated;
/// * mating tournaments are drawn from the whole sorted pool (parents plus
///   offspring, 2·`mu` members) rather than from `mu` survivors;
/// * the population the next offspring join is the list of selected parents
///   itself (with its repetitions), because BluePyOpt forms the next pool as
///   `parents + offspring`;
/// * on the initial population no selection is made: the evaluated initial
///   population is varied directly, as BluePyOpt does.
///
/// The selection pressure thus comes only from the tournaments, and an
/// individual can survive only by winning one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IbeaBluepyopt {
    pub kappa: f64,
    pub tournament_size: usize,
}

impl Selector for IbeaBluepyopt {
    fn select(&self, pool: &[&[f64]], mu: usize, rng: &mut dyn RngCore) -> Selection {
        let fit = ibea_fitness(pool, self.kappa);
        let f = fit.fitness();
        let mut sorted: Vec<usize> = (0..pool.len()).collect();
        // Stable: equal fitness keeps pool order, like Python's sort.
        sorted.sort_by(|&a, &b| f[b].total_cmp(&f[a]));
        let parents: Vec<usize> = (0..mu)
            .map(|_| tournament(&sorted, f, self.tournament_size, rng))
            .collect();
        Selection {
            survivors: parents.clone(),
            parents,
        }
    }

    fn select_initial(&self, pool: &[&[f64]], _mu: usize, _rng: &mut dyn RngCore) -> Selection {
        let all: Vec<usize> = (0..pool.len()).collect();
        Selection {
            survivors: all.clone(),
            parents: all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A = (0, 2), B = (1, 0), C = (2, 2); ranges 2 and 2, so normalised
    /// A = (0, 1), B = (0.5, 0), C = (1, 1). By hand:
    /// I(A,B) = 1, I(B,A) = 0.5, I(A,C) = 0, I(C,A) = 1, I(B,C) = −0.5,
    /// I(C,B) = 1; c = 1, c·κ = 0.05;
    /// F(A) = −(e^−10 + e^−20), F(B) = −2e^−20, F(C) = −(1 + e^10).
    fn three() -> Vec<Vec<f64>> {
        vec![vec![0.0, 2.0], vec![1.0, 0.0], vec![2.0, 2.0]]
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    #[test]
    fn fitness_of_three_points_by_hand() {
        let pts = three();
        let pool: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let fit = ibea_fitness(&pool, 0.05);
        let expected_i = [[0.0, 1.0, 0.0], [0.5, 0.0, -0.5], [1.0, 1.0, 0.0]];
        for (y, row) in expected_i.iter().enumerate() {
            for (x, &i) in row.iter().enumerate() {
                assert_eq!(fit.indicator(y, x), i, "I({y},{x})");
            }
        }
        assert_eq!(fit.scale(), 0.05);
        let e = f64::exp;
        let f = fit.fitness();
        assert!(close(f[0], -(e(-10.0) + e(-20.0))), "{}", f[0]);
        assert!(close(f[1], -2.0 * e(-20.0)), "{}", f[1]);
        assert!(close(f[2], -(1.0 + e(10.0))), "{}", f[2]);
    }

    #[test]
    fn removal_gives_contributions_back() {
        let pts = three();
        let pool: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let mut fit = ibea_fitness(&pool, 0.05);
        fit.remove(2);
        let e = f64::exp;
        assert!(close(fit.fitness()[0], -e(-10.0)));
        assert!(close(fit.fitness()[1], -e(-20.0)));
    }

    #[test]
    fn environmental_selection_drops_the_worst_iteratively() {
        let pts = three();
        let pool: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let sel = Ibea {
            kappa: 0.05,
            tournament_size: 2,
        }
        .select(&pool, 2, &mut rng);
        assert_eq!(sel.survivors, vec![0, 1]);
        assert_eq!(sel.parents.len(), 2);
        assert!(sel.parents.iter().all(|p| *p < 2));

        let sel = Ibea {
            kappa: 0.05,
            tournament_size: 2,
        }
        .select(&pool, 1, &mut rng);
        assert_eq!(sel.survivors, vec![1]);
        assert_eq!(sel.parents, vec![1]);
    }

    #[test]
    fn iterative_removal_differs_from_one_sort() {
        // Two tight pairs on a linear front plus a lone end point. The pair
        // (0, 1) is tighter than (2, 3), so both its members start with the
        // lowest fitness and a single sort would drop both. Iterative removal
        // drops one, gives its twin the contribution back, and then drops a
        // member of the other pair.
        let pts = [
            vec![0.0, 1.0],
            vec![0.001, 0.999],
            vec![0.5, 0.5],
            vec![0.503, 0.497],
            vec![1.0, 0.0],
        ];
        let pool: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let f = ibea_fitness(&pool, 0.05).fitness().to_vec();
        let mut sorted: Vec<usize> = (0..5).collect();
        sorted.sort_by(|&a, &b| f[b].total_cmp(&f[a]));
        let mut one_sort = sorted[..3].to_vec();
        one_sort.sort();
        assert_eq!(one_sort, vec![2, 3, 4]);

        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let sel = Ibea {
            kappa: 0.05,
            tournament_size: 1,
        }
        .select(&pool, 3, &mut rng);
        let s = &sel.survivors;
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().filter(|&&i| i < 2).count(), 1, "{s:?}");
        assert_eq!(s.iter().filter(|&&i| i == 2 || i == 3).count(), 1, "{s:?}");
        assert!(s.contains(&4));
    }

    #[test]
    fn bluepyopt_variant_keeps_parents_as_population() {
        let pts = three();
        let pool: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = IbeaBluepyopt {
            kappa: 0.05,
            tournament_size: 3,
        };
        let sel = s.select(&pool, 4, &mut rng);
        assert_eq!(sel.parents.len(), 4);
        assert_eq!(sel.survivors, sel.parents);
        let init = s.select_initial(&pool, 3, &mut rng);
        assert_eq!(init.parents, vec![0, 1, 2]);
    }

    #[test]
    fn tournaments_prefer_fitter_members() {
        let pts = three();
        let pool: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let sel = IbeaBluepyopt {
            kappa: 0.05,
            tournament_size: 4,
        }
        .select(&pool, 3000, &mut rng);
        let count = |i: usize| sel.parents.iter().filter(|&&p| p == i).count();
        // P(C wins) = (1/3)^4, P(B wins) = 1 − (2/3)^4.
        assert!(count(2) < 100, "{}", count(2));
        assert!(count(1) > 2200, "{}", count(1));
    }
}
