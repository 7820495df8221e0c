//! Measures over evaluated candidates: hypervolume and the minimax best.

use crate::error::{Error, Result};

use super::individual::dominates;

/// Hypervolume (minimisation) dominated by `points` and bounded by
/// `reference`: the Lebesgue measure of `{z : p ≤ z ≤ reference}` united over
/// the points. Points not strictly better than the reference in every
/// objective contribute nothing.
///
/// Exact in every dimension: a sweep in 2-D, and in higher dimension slicing
/// along the last objective with the (d−1)-dimensional volume of each slice
/// (dominated points are dropped at every level). Cost grows like nᵈ⁻¹ log n;
/// meant for fronts of hundreds of points in 2-4 objectives.
///
/// # Panics
/// If a point's length differs from the reference's.
pub fn hypervolume<P: AsRef<[f64]>>(points: &[P], reference: &[f64]) -> f64 {
    let d = reference.len();
    let inside: Vec<Vec<f64>> = points
        .iter()
        .map(|p| {
            let p = p.as_ref();
            assert_eq!(p.len(), d, "point and reference differ in dimension");
            p
        })
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x < r))
        .map(|p| p.to_vec())
        .collect();
    if d == 0 || inside.is_empty() {
        return 0.0;
    }
    volume(non_dominated(inside), reference)
}

/// Exact 2-D hypervolume; the same as [`hypervolume`] with two objectives.
pub fn hypervolume_2d(points: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    hypervolume(points, &reference)
}

/// Drops dominated points and duplicates (keeps the first of equal points).
fn non_dominated(points: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let mut kept: Vec<Vec<f64>> = Vec::with_capacity(points.len());
    for p in points {
        if kept.iter().any(|k| dominates(k, &p) || *k == p) {
            continue;
        }
        kept.retain(|k| !dominates(&p, k));
        kept.push(p);
    }
    kept
}

/// Volume of mutually non-dominated points, all strictly inside the box.
fn volume(mut points: Vec<Vec<f64>>, reference: &[f64]) -> f64 {
    let d = reference.len();
    match d {
        1 => reference[0] - points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min),
        2 => {
            points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
            let mut v = 0.0;
            let mut ceiling = reference[1];
            for p in &points {
                if p[1] < ceiling {
                    v += (reference[0] - p[0]) * (ceiling - p[1]);
                    ceiling = p[1];
                }
            }
            v
        }
        _ => {
            let last = d - 1;
            points.sort_by(|a, b| a[last].total_cmp(&b[last]));
            let mut v = 0.0;
            for i in 0..points.len() {
                let top = points.get(i + 1).map_or(reference[last], |p| p[last]);
                let height = top - points[i][last];
                if height <= 0.0 {
                    continue;
                }
                let slice: Vec<Vec<f64>> = points[..=i].iter().map(|p| p[..last].to_vec()).collect();
                v += volume(non_dominated(slice), &reference[..last]) * height;
            }
            v
        }
    }
}

/// The minimax score: the largest weighted error, `max_k w_k·e_k`. NaN
/// errors count as +∞.
pub fn minimax_score(errors: &[f64], weights: &[f64]) -> f64 {
    errors
        .iter()
        .zip(weights)
        .map(|(&e, &w)| if e.is_nan() { f64::INFINITY } else { w * e })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Index of the candidate with the smallest [`minimax_score`]; ties go to
/// the smaller weighted sum of errors, then to the earlier candidate.
/// `None` if there is no candidate.
///
/// Errors if a candidate's error count differs from the weights' or a
/// weight is negative or not finite.
pub fn minimax_best<'a, I>(candidates: I, weights: &[f64]) -> Result<Option<usize>>
where
    I: IntoIterator<Item = &'a [f64]>,
{
    if let Some((k, w)) = weights.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
        return Err(Error::Config(format!(
            "objective weight {k} must be finite and >= 0, got {w}"
        )));
    }
    let mut best: Option<(usize, f64, f64)> = None;
    for (i, errors) in candidates.into_iter().enumerate() {
        if errors.len() != weights.len() {
            return Err(Error::Config(format!(
                "candidate {i} has {} errors but there are {} weights",
                errors.len(),
                weights.len()
            )));
        }
        let score = minimax_score(errors, weights);
        let sum: f64 = errors
            .iter()
            .zip(weights)
            .map(|(&e, &w)| if e.is_nan() { f64::INFINITY } else { w * e })
            .sum();
        let better = match best {
            None => true,
            Some((_, s, t)) => score < s || (score == s && sum < t),
        };
        if better {
            best = Some((i, score, sum));
        }
    }
    Ok(best.map(|(i, _, _)| i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypervolume_2d_by_hand() {
        // Staircase (1,3), (2,2), (3,1) against (4,4), by columns:
        // x∈[1,2): height 4−3 = 1, x∈[2,3): 4−2 = 2, x∈[3,4): 4−1 = 3 → 6.
        let pts = [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]];
        assert_eq!(hypervolume_2d(&pts, [4.0, 4.0]), 6.0);
        // Adding a dominated point, a duplicate and points outside the box
        // changes nothing.
        let more = [
            [1.0, 3.0],
            [2.0, 2.0],
            [3.0, 1.0],
            [3.0, 3.0],
            [2.0, 2.0],
            [5.0, 0.0],
            [0.0, 4.0],
        ];
        assert_eq!(hypervolume_2d(&more, [4.0, 4.0]), 6.0);
        // One point.
        assert_eq!(hypervolume_2d(&[[0.5, 0.25]], [1.0, 1.0]), 0.375);
        assert_eq!(hypervolume_2d(&[], [1.0, 1.0]), 0.0);
    }

    #[test]
    fn hypervolume_3d_by_hand() {
        // Two boxes against (2,2,2): (0,0,1) gives 2·2·1 = 4, (1,1,0) gives
        // 1·1·2 = 2, their overlap [1,2]²×[1,2] is 1 → 5.
        let pts = vec![vec![0.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]];
        assert_eq!(hypervolume(&pts, &[2.0, 2.0, 2.0]), 5.0);
        // Unit cube corner.
        assert_eq!(hypervolume(&[vec![0.0, 0.0, 0.0]], &[1.0, 1.0, 1.0]), 1.0);
        // 1-D.
        assert_eq!(hypervolume(&[vec![0.25], vec![0.5]], &[1.0]), 0.75);
    }

    #[test]
    fn hypervolume_4d_by_inclusion_exclusion() {
        // The union of the boxes [p, 1]^4 for p = (0.5,0,0,0), (0,0.5,0,0), …
        // By inclusion-exclusion:
        // each box 0.5, pairwise overlaps 0.25, triples 0.125, all 0.0625:
        // 4·0.5 − 6·0.25 + 4·0.125 − 0.0625 = 0.9375.
        let mut pts = Vec::new();
        for k in 0..4 {
            let mut p = vec![0.0; 4];
            p[k] = 0.5;
            pts.push(p);
        }
        assert!((hypervolume(&pts, &[1.0; 4]) - 0.9375).abs() < 1e-15);
    }

    #[test]
    fn zdt1_front_hypervolume() {
        // The true ZDT1 front against (1.1, 1.1): 1.1 − 1/3 + 0.11.
        let n = 20_000;
        let pts: Vec<[f64; 2]> = (0..=n)
            .map(|i| {
                let x = i as f64 / n as f64;
                [x, 1.0 - x.sqrt()]
            })
            .collect();
        let hv = hypervolume_2d(&pts, [1.1, 1.1]);
        assert!((hv - (1.1 - 1.0 / 3.0 + 0.11)).abs() < 1e-3, "{hv}");
    }

    #[test]
    fn minimax() {
        let c: Vec<Vec<f64>> = vec![
            vec![0.5, 3.0, 0.0],
            vec![2.0, 2.0, 2.0],
            vec![2.0, 1.0, 0.0],
            vec![0.0, 2.0, f64::NAN],
            vec![2.0, 1.0, 0.0],
        ];
        let refs = || c.iter().map(|v| v.as_slice());
        // Unweighted: scores 3, 2, 2, inf, 2 → tie between 1, 2 and 4;
        // sums 6, 3, 3 → 2 (earlier than 4).
        assert_eq!(minimax_best(refs(), &[1.0, 1.0, 1.0]).unwrap(), Some(2));
        // Weights (1/8, 1/8, 1/4) as in the Blue Brain fit: scores
        // 0.375, 0.5, 0.25, inf, 0.25 → 2.
        assert_eq!(minimax_best(refs(), &[0.125, 0.125, 0.25]).unwrap(), Some(2));
        // Weight on objective 1 only.
        assert_eq!(minimax_best(refs(), &[0.0, 1.0, 0.0]).unwrap(), Some(2));
        assert_eq!(minimax_best(refs(), &[1.0, 0.0, 0.0]).unwrap(), Some(0));
        assert_eq!(minimax_best(std::iter::empty(), &[1.0]).unwrap(), None);
        assert!(minimax_best(refs(), &[1.0, 1.0]).is_err());
        assert!(minimax_best(refs(), &[1.0, -1.0, 1.0]).is_err());
        assert_eq!(minimax_score(&[1.0, 4.0], &[2.0, 0.25]), 2.0);
    }
}
