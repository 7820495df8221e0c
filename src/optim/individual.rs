//! Evaluated candidates and Pareto dominance.

use serde::{Deserialize, Serialize};

/// One evaluated candidate.
///
/// `id` numbers evaluations in the order they were made, from 0, over the
/// whole run (resumes included); an unchanged clone of a parent carries its
/// parent's id because it was not evaluated again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Individual {
    /// Serial number of the evaluation that produced `errors`.
    pub id: u64,
    /// Parameter values, one per free parameter.
    pub values: Vec<f64>,
    /// Errors, one per objective; the penalty on every objective if the
    /// evaluation failed.
    pub errors: Vec<f64>,
    /// Why the evaluation failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Individual {
    /// Whether the evaluation failed (and `errors` holds the penalty).
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// A successful evaluation with every error ≤ 1 (see [`is_valid`]).
    pub fn is_valid(&self) -> bool {
        !self.failed() && is_valid(&self.errors)
    }
}

/// `a` Pareto-dominates `b` (minimisation): no worse in every objective and
/// strictly better in at least one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            strictly = true;
        }
    }
    strictly
}

/// The paper's "valid" candidate: every error ≤ 1.0 (one SEM); NaN is not
/// valid.
pub fn is_valid(errors: &[f64]) -> bool {
    errors.iter().all(|&e| e <= 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominance() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 3.0]));
        assert!(dominates(&[0.0, 0.0], &[1.0, 1.0]));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 4.0], &[2.0, 3.0]));
        assert!(!dominates(&[2.0, 3.0], &[1.0, 4.0]));
    }

    #[test]
    fn validity() {
        assert!(is_valid(&[0.0, 1.0, 0.5]));
        assert!(!is_valid(&[0.0, 1.0000001]));
        assert!(!is_valid(&[f64::NAN]));
        let ind = Individual {
            id: 0,
            values: vec![0.5],
            errors: vec![0.1],
            failure: Some("diverged".into()),
        };
        assert!(!ind.is_valid());
    }
}
