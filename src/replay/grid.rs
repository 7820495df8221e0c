//! Timelines as replay reads them: each bin's width, whether it is a gap,
//! and its width's place in one table of the distinct widths of a whole
//! cache, so a candidate computes each decay factor once.

use super::cache::Timeline;
use super::drift::BinResponse;
use std::collections::HashMap;

/// The distinct bin widths of a cache.
#[derive(Debug, Default)]
pub(super) struct Widths {
    seen: HashMap<u64, u32>,
    pub(super) ms: Vec<f64>,
    /// Per width: the calcium response to a release difference.
    pub(super) responses: Vec<BinResponse>,
}

impl Widths {
    fn id(&mut self, w: f64) -> u32 {
        let next = self.ms.len() as u32;
        let id = *self.seen.entry(w.to_bits()).or_insert(next);
        if id == next {
            self.ms.push(w);
            self.responses.push(BinResponse::new(w));
        }
        id
    }

    /// exp(−w/τ*) and `gain_factor` of every width.
    pub(super) fn decays(&self, tau: f64) -> Vec<(f64, f64)> {
        self.ms
            .iter()
            .map(|&w| ((-w / tau).exp(), gain_factor(w, tau)))
            .collect()
    }
}

/// What c* keeps at a bin's end of calcium integral V spread over the
/// bin (of V + M/τ* with its first moment M): the mean of exp(−(w − s)/τ*)
/// over the bin, (τ*/w)·(1 − exp(−w/τ*)). Exact for constant calcium,
/// where exp(−w/2τ*) errs by (w/τ*)²/24 of V; for linear calcium the term
/// of M errs by (w/τ*)²/60 of itself.
pub(super) fn gain_factor(w: f64, tau: f64) -> f64 {
    -(-w / tau).exp_m1() * tau / w
}

#[derive(Debug, Clone)]
pub(super) struct Grid {
    /// Each bin's width in the cache's `Widths`.
    pub(super) index: Vec<u32>,
    pub(super) width_ms: Vec<f64>,
    pub(super) gap: Vec<bool>,
    /// Time from the timeline's start to each bin's end (ms).
    ends: Vec<f64>,
}

/// A bin as c* reads it: a fine bin's place among the cache's widths, or
/// a quiet stretch's length (ms), crossed in closed form.
#[derive(Debug, Clone, Copy)]
pub(super) enum BinKind {
    Fine(u32),
    Quiet(f64),
}

impl Grid {
    pub(super) fn kind(&self, b: usize) -> BinKind {
        if self.gap[b] {
            BinKind::Quiet(self.width_ms[b])
        } else {
            BinKind::Fine(self.index[b])
        }
    }

    pub(super) fn new(t: &Timeline, widths: &mut Widths) -> Grid {
        let ends = t
            .widths_ms
            .iter()
            .scan(0.0, |end, w| {
                *end += w;
                Some(*end)
            })
            .collect();
        Grid {
            index: t.widths_ms.iter().map(|&w| widths.id(w)).collect(),
            width_ms: t.widths_ms.clone(),
            gap: t.gap.clone(),
            ends,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// Time from the start to the start of bin b (ms).
    pub(super) fn start_of(&self, b: usize) -> f64 {
        if b == 0 {
            0.0
        } else {
            self.ends[b - 1]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::gain_factor;

    #[test]
    fn the_gain_factor_is_exact_for_constant_calcium_and_nearly_so_for_linear() {
        for (tau, w) in [(150.0_f64, 32.0_f64), (350.0, 8.0), (250.0, 0.25)] {
            let e = (-w / tau).exp();
            // c* gained over a bin of calcium a + b·s from c* = 0, exactly.
            let exact = |a: f64, b: f64| a * tau * (1.0 - e) + b * tau * (w - tau * (1.0 - e));
            let (a, b) = (1e-3, -2.5e-5);
            let constant = gain_factor(w, tau) * a * w;
            assert!((constant / exact(a, 0.0) - 1.0).abs() < 1e-13, "τ* {tau}, w {w}");
            let midpoint = (-0.5 * w / tau).exp() * a * w;
            let midpoint_error = (w / tau).powi(2) / 24.0;
            assert!(
                (midpoint / exact(a, 0.0) - 1.0).abs() > 0.9 * midpoint_error,
                "τ* {tau}, w {w}"
            );
            let (v, m) = (a * w + b * w * w / 2.0, b * w * w * w / 12.0);
            let linear = gain_factor(w, tau) * (v + m / tau);
            let bound = 1.1 * (w / tau).powi(2) / 60.0 * (m / tau).abs();
            assert!(
                (linear - exact(a, b)).abs() <= bound + 1e-12 * exact(a, b),
                "τ* {tau}, w {w}: {} against {bound}",
                (linear - exact(a, b)).abs()
            );
        }
    }
}
