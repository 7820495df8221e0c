//! The hall of fame: the non-dominated set of everything evaluated.

use serde::{Deserialize, Serialize};

use super::individual::{dominates, Individual};

/// Every successfully evaluated candidate that no other evaluated candidate
/// dominates, in evaluation order (increasing `id`).
///
/// Failed evaluations never enter. Candidates with equal errors but different
/// parameters are all kept; a candidate equal in parameters and errors to a
/// member is not added twice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HallOfFame {
    members: Vec<Individual>,
}

impl HallOfFame {
    /// An empty hall of fame.
    pub fn new() -> Self {
        Self::default()
    }

    /// The members, in evaluation order.
    pub fn members(&self) -> &[Individual] {
        &self.members
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Offers a candidate; returns whether it entered. Members it dominates
    /// leave. Candidates must be offered in increasing `id` to keep the order.
    pub fn update(&mut self, candidate: &Individual) -> bool {
        if candidate.failed() {
            return false;
        }
        let rejected = self.members.iter().any(|m| {
            dominates(&m.errors, &candidate.errors) || (m.errors == candidate.errors && m.values == candidate.values)
        });
        if rejected {
            return false;
        }
        self.members.retain(|m| !dominates(&candidate.errors, &m.errors));
        self.members.push(candidate.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(id: u64, values: &[f64], errors: &[f64]) -> Individual {
        Individual {
            id,
            values: values.to_vec(),
            errors: errors.to_vec(),
            failure: None,
        }
    }

    #[test]
    fn keeps_the_non_dominated_set_in_order() {
        let mut h = HallOfFame::new();
        assert!(h.update(&ind(0, &[0.0], &[2.0, 2.0])));
        assert!(h.update(&ind(1, &[1.0], &[1.0, 3.0])));
        assert!(!h.update(&ind(2, &[2.0], &[3.0, 3.0])));
        assert!(h.update(&ind(3, &[3.0], &[1.5, 1.5]))); // evicts 0
        assert!(h.update(&ind(4, &[4.0], &[1.5, 1.5]))); // equal errors, new values
        assert!(!h.update(&ind(4, &[4.0], &[1.5, 1.5]))); // exact duplicate
        let mut failed = ind(5, &[5.0], &[0.0, 0.0]);
        failed.failure = Some("diverged".into());
        assert!(!h.update(&failed));
        let ids: Vec<u64> = h.members().iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 3, 4]);
    }
}
