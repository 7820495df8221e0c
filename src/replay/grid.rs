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

    /// exp(−w/τ*) and exp(−w/2τ*) of every width.
    pub(super) fn decays(&self, tau: f64) -> Vec<(f64, f64)> {
        self.ms
            .iter()
            .map(|w| ((-w / tau).exp(), (-0.5 * w / tau).exp()))
            .collect()
    }
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
