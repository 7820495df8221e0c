//! NSGA-II selection (Deb, Pratap, Agarwal & Meyarivan 2002).

use std::collections::VecDeque;

use rand::{Rng, RngCore};

use super::super::individual::dominates;
use super::{Selection, Selector};

/// Fast non-dominated sorting: the pool split into fronts, best first; each
/// front lists pool indices in increasing order. Identical points share a
/// front (neither dominates the other).
pub fn non_dominated_sort(points: &[&[f64]]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by_me: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut domination_count = vec![0usize; n];
    for p in 0..n {
        for q in (p + 1)..n {
            if dominates(points[p], points[q]) {
                dominated_by_me[p].push(q);
                domination_count[q] += 1;
            } else if dominates(points[q], points[p]) {
                dominated_by_me[q].push(p);
                domination_count[p] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&p| domination_count[p] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &p in &current {
            for &q in &dominated_by_me[p] {
                domination_count[q] -= 1;
                if domination_count[q] == 0 {
                    next.push(q);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of `front` (same order as `front`).
///
/// Per objective, the front is ordered by value (ties by pool index); the two
/// extremes get +∞ and each interior member adds the normalised distance
/// between its neighbours, `(f[next] − f[prev]) / (f_max − f_min)`. An
/// objective on which the whole front is equal adds nothing. Fronts of one or
/// two members are all +∞.
pub fn crowding_distance(points: &[&[f64]], front: &[usize]) -> Vec<f64> {
    let len = front.len();
    let mut distance = vec![0.0; len];
    if len <= 2 {
        return vec![f64::INFINITY; len];
    }
    let m = points[front[0]].len();
    let mut order: Vec<usize> = (0..len).collect();
    // `k` indexes an objective in every point of the front.
    #[allow(clippy::needless_range_loop)]
    for k in 0..m {
        let value = |w: usize| points[front[w]][k];
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)).then(front[a].cmp(&front[b])));
        let lo = value(order[0]);
        let hi = value(order[len - 1]);
        distance[order[0]] = f64::INFINITY;
        distance[order[len - 1]] = f64::INFINITY;
        if hi > lo {
            for w in 1..len - 1 {
                let prev = value(order[w - 1]);
                let next = value(order[w + 1]);
                distance[order[w]] += (next - prev) / (hi - lo);
            }
        }
    }
    distance
}

/// NSGA-II.
///
/// Environmental selection: fill the survivors front by front; the front that
/// does not fit entirely is truncated keeping its largest crowding distances
/// (ties by pool index). Mating selection: Deb's binary tournament with the
/// crowded-comparison operator (lower front rank wins, then larger crowding
/// distance, then the first contestant), with contestants paired from
/// successive random permutations of the survivors so that each survivor
/// enters two tournaments when `mu` equals the population size, as in Deb's
/// reference code. The crowding distance used is the one computed in the
/// contestant's front of the pool. `tournament_size` does not apply here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nsga2;

impl Selector for Nsga2 {
    fn select(&self, pool: &[&[f64]], mu: usize, rng: &mut dyn RngCore) -> Selection {
        let n = pool.len();
        let mut rank = vec![usize::MAX; n];
        let mut crowding = vec![0.0; n];
        let mut survivors: Vec<usize> = Vec::with_capacity(mu.min(n));
        for (r, front) in non_dominated_sort(pool).into_iter().enumerate() {
            if survivors.len() >= mu {
                break;
            }
            let d = crowding_distance(pool, &front);
            for (&i, &di) in front.iter().zip(&d) {
                rank[i] = r;
                crowding[i] = di;
            }
            let room = mu - survivors.len();
            if front.len() <= room {
                survivors.extend_from_slice(&front);
            } else {
                let mut by_crowding: Vec<usize> = (0..front.len()).collect();
                by_crowding.sort_by(|&a, &b| d[b].total_cmp(&d[a]).then(a.cmp(&b)));
                let mut kept: Vec<usize> = by_crowding[..room].iter().map(|&w| front[w]).collect();
                kept.sort_unstable();
                survivors.extend(kept);
            }
        }

        let mut parents = Vec::with_capacity(mu);
        if survivors.is_empty() {
            return Selection { survivors, parents };
        }
        let mut contestants: VecDeque<usize> = VecDeque::new();
        while parents.len() < mu {
            if contestants.len() < 2 {
                // A leftover contestant stays first in the queue.
                let mut perm = survivors.clone();
                shuffle(&mut perm, rng);
                contestants.extend(perm);
                continue;
            }
            let a = contestants.pop_front().expect("two contestants queued");
            let b = contestants.pop_front().expect("two contestants queued");
            let b_better = rank[b] < rank[a] || (rank[b] == rank[a] && crowding[b] > crowding[a]);
            parents.push(if b_better { b } else { a });
        }
        Selection { survivors, parents }
    }
}

/// Fisher–Yates shuffle.
fn shuffle(v: &mut [usize], rng: &mut dyn RngCore) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Hand-made pool (minimisation, two objectives):
    ///
    /// ```text
    /// 0 (1, 5)   front 0
    /// 1 (2, 3)   front 0
    /// 2 (4, 1)   front 0
    /// 3 (3, 4)   front 1 (dominated by 1)
    /// 4 (5, 2)   front 1 (dominated by 2)
    /// 5 (2, 3)   front 0 (duplicate of 1)
    /// 6 (5, 5)   front 2 (dominated by 3 and 4)
    /// 7 (6, 6)   front 3
    /// ```
    fn pool() -> Vec<Vec<f64>> {
        vec![
            vec![1.0, 5.0],
            vec![2.0, 3.0],
            vec![4.0, 1.0],
            vec![3.0, 4.0],
            vec![5.0, 2.0],
            vec![2.0, 3.0],
            vec![5.0, 5.0],
            vec![6.0, 6.0],
        ]
    }

    #[test]
    fn fronts_by_hand() {
        let pts = pool();
        let refs: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        assert_eq!(
            non_dominated_sort(&refs),
            vec![vec![0, 1, 2, 5], vec![3, 4], vec![6], vec![7]]
        );
        assert!(non_dominated_sort(&[]).is_empty());
    }

    #[test]
    fn crowding_by_hand() {
        let pts = pool();
        let refs: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        // Front 0 = {0 (1,5), 1 (2,3), 2 (4,1), 5 (2,3)}; ranges 3 and 4.
        // f1 order: 0, 1, 5, 2 → 1 gets (2−1)/3, 5 gets (4−2)/3.
        // f2 order: 2, 1, 5, 0 → 1 gets (3−1)/4, 5 gets (5−3)/4.
        let d = crowding_distance(&refs, &[0, 1, 2, 5]);
        assert_eq!(d[0], f64::INFINITY);
        assert_eq!(d[2], f64::INFINITY);
        assert!((d[1] - (1.0 / 3.0 + 0.5)).abs() < 1e-15, "{}", d[1]);
        assert!((d[3] - (2.0 / 3.0 + 0.5)).abs() < 1e-15, "{}", d[3]);
        assert_eq!(crowding_distance(&refs, &[3, 4]), vec![f64::INFINITY; 2]);
        // A front equal on one objective: that objective adds nothing.
        let flat = [vec![1.0, 0.0], vec![1.0, 1.0], vec![1.0, 3.0]];
        let flat: Vec<&[f64]> = flat.iter().map(|p| p.as_slice()).collect();
        let d = crowding_distance(&flat, &[0, 1, 2]);
        assert_eq!(d[1], 1.0);
    }

    #[test]
    fn truncation_by_crowding() {
        let pts = pool();
        let refs: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        // mu = 3: front 0 has 4 members; the least crowded interior one
        // (index 1, distance 0.833 < 1.167) goes.
        let sel = Nsga2.select(&refs, 3, &mut rng);
        assert_eq!(sel.survivors, vec![0, 2, 5]);
        // mu = 6: front 0 and front 1 fit, nothing else.
        let sel = Nsga2.select(&refs, 6, &mut rng);
        assert_eq!(sel.survivors, vec![0, 1, 2, 5, 3, 4]);
        assert_eq!(sel.parents.len(), 6);
    }

    #[test]
    fn tournament_uses_rank_then_crowding() {
        let pts = pool();
        let refs: Vec<&[f64]> = pts.iter().map(|p| p.as_slice()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let sel = Nsga2.select(&refs, 8, &mut rng);
        assert_eq!(sel.survivors.len(), 8);
        // Index 7 (last front) loses to everyone else; with two permutations
        // of 8 it never meets itself, so it never wins.
        assert!(!sel.parents.contains(&7));
        // Many repetitions: front-0 members win most tournaments.
        let mut total_front0 = 0;
        for _ in 0..200 {
            let s = Nsga2.select(&refs, 8, &mut rng);
            total_front0 += s.parents.iter().filter(|&&p| [0, 1, 2, 5].contains(&p)).count();
        }
        assert!(total_front0 > 200 * 8 * 6 / 10, "{total_front0}");
    }
}
