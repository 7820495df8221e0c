//! The one thing the optimiser knows about the problem.

/// A multi-objective minimisation problem over a box.
///
/// The optimiser calls [`Evaluator::evaluate`] from several threads at once
/// (hence `Sync`); it must be a pure function of `values` for runs to be
/// reproducible. A failed evaluation returns `Err(message)`: the candidate
/// then receives the configured penalty on every objective and the message
/// is passed to the observer. A panic inside `evaluate` is caught and treated
/// the same way, as is a result of the wrong length or with a non-finite
/// error.
pub trait Evaluator: Sync {
    /// One `(lower, upper)` pair per free parameter, `lower < upper`.
    fn bounds(&self) -> &[(f64, f64)];
    /// One name per objective, in the order of the errors `evaluate` returns.
    fn objective_names(&self) -> &[String];
    /// Errors to minimise, one per objective; `Err(message)` for a failed
    /// evaluation.
    fn evaluate(&self, values: &[f64]) -> Result<Vec<f64>, String>;
}

impl<E: Evaluator + ?Sized> Evaluator for &E {
    fn bounds(&self) -> &[(f64, f64)] {
        (**self).bounds()
    }
    fn objective_names(&self) -> &[String] {
        (**self).objective_names()
    }
    fn evaluate(&self, values: &[f64]) -> Result<Vec<f64>, String> {
        (**self).evaluate(values)
    }
}
