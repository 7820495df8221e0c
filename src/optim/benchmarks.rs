//! Standard test problems (Zitzler, Deb & Thiele 2000), for checking the
//! optimiser against known Pareto fronts.

use super::evaluator::Evaluator;

/// Which ZDT problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZdtProblem {
    /// Convex front `f2 = 1 − √f1`.
    Zdt1,
    /// Concave front `f2 = 1 − f1²`.
    Zdt2,
}

/// ZDT1 or ZDT2 with `n` variables in [0, 1]:
/// `f1 = x1`, `g = 1 + 9·Σ_{i≥2} x_i / (n − 1)`, `f2 = g·h(f1/g)` with
/// `h(r) = 1 − √r` (ZDT1) or `1 − r²` (ZDT2). The front is `g = 1`.
#[derive(Clone, Debug)]
pub struct Zdt {
    problem: ZdtProblem,
    bounds: Vec<(f64, f64)>,
    names: Vec<String>,
}

impl Zdt {
    /// # Panics
    /// If `n < 2`.
    pub fn new(problem: ZdtProblem, n: usize) -> Self {
        assert!(n >= 2, "ZDT problems need at least two variables");
        Zdt {
            problem,
            bounds: vec![(0.0, 1.0); n],
            names: vec!["f1".to_string(), "f2".to_string()],
        }
    }

    /// The exact objectives.
    pub fn objectives(&self, x: &[f64]) -> [f64; 2] {
        let n = x.len();
        let f1 = x[0];
        let g = 1.0 + 9.0 * x[1..].iter().sum::<f64>() / (n - 1) as f64;
        let r = f1 / g;
        let h = match self.problem {
            ZdtProblem::Zdt1 => 1.0 - r.sqrt(),
            ZdtProblem::Zdt2 => 1.0 - r * r,
        };
        [f1, g * h]
    }

    /// Hypervolume of the true front for a reference point `(rx, ry)` with
    /// `rx ≥ 1` and `ry ≥ 1`: `ry − ∫₀¹ f2 + (rx − 1)·ry`.
    pub fn front_hypervolume(&self, reference: [f64; 2]) -> f64 {
        let area_under_front = match self.problem {
            ZdtProblem::Zdt1 => 1.0 / 3.0,
            ZdtProblem::Zdt2 => 2.0 / 3.0,
        };
        reference[1] - area_under_front + (reference[0] - 1.0) * reference[1]
    }
}

impl Evaluator for Zdt {
    fn bounds(&self) -> &[(f64, f64)] {
        &self.bounds
    }

    fn objective_names(&self) -> &[String] {
        &self.names
    }

    fn evaluate(&self, values: &[f64]) -> Result<Vec<f64>, String> {
        Ok(self.objectives(values).to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_values() {
        let z1 = Zdt::new(ZdtProblem::Zdt1, 30);
        let z2 = Zdt::new(ZdtProblem::Zdt2, 30);
        let mut x = vec![0.0; 30];
        x[0] = 0.25;
        assert_eq!(z1.objectives(&x), [0.25, 0.5]);
        assert_eq!(z2.objectives(&x), [0.25, 0.9375]);
        assert!((z1.front_hypervolume([1.1, 1.1]) - 0.8767).abs() < 1e-4);
        assert!((z2.front_hypervolume([1.1, 1.1]) - 0.5433).abs() < 1e-4);
        let ones = vec![1.0; 30];
        assert_eq!(z1.objectives(&ones), [1.0, 10.0 * (1.0 - 0.1f64.sqrt())]);
    }
}
