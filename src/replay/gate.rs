//! Gates over the induction: stretches in which a candidate's c* cannot
//! reach a threshold are crossed at once, without reading their bins.
//!
//! c* is linear in calcium, so over a segment of bins it is the start value
//! decayed by exp(−T/τ*) plus the segment's own contribution from c* = 0.
//! That contribution at the segment's end is smooth in u = 1/τ* and is
//! stored at Chebyshev–Lobatto nodes spanning a piece of the τ* axis (see
//! `Piece`; the search box of τ* by default); a candidate interpolates it
//! (barycentric form, error far below the binning's). A rigorous upper
//! bound of the contribution over the segment is stored per node too: c*
//! is non-decreasing in τ* for non-negative calcium, so the node at or
//! above a candidate's τ* bounds it. Outside the pieces a replay holds
//! nothing is gated. The fine segments between two gaps form groups
//! with nodes of their own, so a synapse whose c* stays low throughout,
//! and which nothing at the group's spikes can change, crosses the whole
//! group at once.

use super::grid::{BinKind, Grid, Widths};
use super::prefetch::Prefetch;
use crate::synapse::{CAI_TAU_MS, PARAM_BOUNDS};
use std::ops::Range;

/// Interpolation nodes in u = 1/τ*, per piece.
pub(super) const NODES: usize = 12;

/// Longest segment (bins): shorter segments gate more of the quiet
/// stretches between threshold crossings, at more stored values.
const SEGMENT_BINS: usize = 64;

/// Longest segment (ms): calcium at most this long before a segment's end
/// keeps its contribution smooth enough in u for the nodes (the
/// interpolation errs by < 1e-11 of it, see the tests).
const SEGMENT_MS: f64 = 512.0;

/// Longest τ* (ms) any piece gates: piece −1 reaches from the box up to it.
const TAU_MAX_MS: f64 = 10_000.0;

/// Last piece towards short τ*: with the box's width in u, piece 3 ends
/// at τ* = 55 ms.
const LAST_PIECE: i8 = 3;

/// A stretch of the τ* axis with nodes of its own. Piece 0 is the search
/// box of SPEC §2.7; pieces 1, 2, … continue it towards short τ* with the
/// same width in u, which keeps the interpolation's accuracy (it depends on
/// the width in u times the segment's length); piece −1 reaches from the
/// box to `TAU_MAX_MS`, narrower in u. Pieces are fixed, so a candidate is
/// replayed alike by every replay that holds its piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece(i8);

impl Piece {
    pub(super) const BOX: Piece = Piece(0);

    /// The piece's ends in u (ms⁻¹), ascending; neighbours share an end.
    fn u_range(self) -> (f64, f64) {
        let (lo, hi) = (1.0 / PARAM_BOUNDS[0].1, 1.0 / PARAM_BOUNDS[0].0);
        let edge = |j: i8| hi + f64::from(j - 1) * (hi - lo);
        match self.0 {
            0 => (lo, hi),
            -1 => (1.0 / TAU_MAX_MS, lo),
            j => (edge(j), edge(j + 1)),
        }
    }

    /// The piece's ends in τ* (ms), ascending: the box's own for piece 0.
    fn tau_range(self) -> (f64, f64) {
        if self == Piece::BOX {
            return PARAM_BOUNDS[0];
        }
        let (lo, hi) = self.u_range();
        (1.0 / hi, 1.0 / lo)
    }

    /// The piece holding τ* (the box's for τ* in it), if any.
    pub(super) fn of(tau: f64) -> Option<Piece> {
        let x = 1.0 / tau;
        let holds = |p: Piece| {
            let (lo, hi) = p.u_range();
            x >= lo && x <= hi
        };
        // The box first: it shares an end with each neighbour.
        [0, -1].into_iter().chain(1..=LAST_PIECE).map(Piece).find(|&p| holds(p))
    }

    /// The pieces that hold some τ* of [lo, hi] (ms), from long τ* to short:
    /// those overlapping it, and those holding its ends.
    pub(super) fn spanning(lo: f64, hi: f64) -> Vec<Piece> {
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Vec::new();
        }
        let (x_lo, x_hi) = (1.0 / hi, 1.0 / lo);
        let ends = [Piece::of(lo), Piece::of(hi)];
        (-1..=LAST_PIECE)
            .map(Piece)
            .filter(|&p| {
                let (a, b) = p.u_range();
                (a < x_hi && b > x_lo) || ends.contains(&Some(p))
            })
            .collect()
    }

    /// Chebyshev–Lobatto nodes in u over the piece, ascending in u.
    fn nodes_u(self) -> [f64; NODES] {
        let (lo, hi) = self.u_range();
        let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
        let mut u: [f64; NODES] =
            std::array::from_fn(|k| mid - half * (std::f64::consts::PI * k as f64 / (NODES - 1) as f64).cos());
        // The piece's ends exactly, so its edges are nodes.
        (u[0], u[NODES - 1]) = (lo, hi);
        u
    }

    /// τ* of every node.
    fn node_taus(self) -> [f64; NODES] {
        self.nodes_u().map(|u| 1.0 / u)
    }
}

/// A candidate's place among the nodes of its piece: interpolation weights
/// and the node whose τ* is the smallest at or above the candidate's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Interp {
    lambda: [f64; NODES],
    pub(super) above: usize,
    /// Where the replay keeps the piece's tables.
    pub(super) slot: usize,
}

impl Interp {
    /// τ* in `piece` (see `Piece::of`), whose tables are at `slot`.
    pub(super) fn at(tau: f64, piece: Piece, slot: usize) -> Interp {
        let u = piece.nodes_u();
        let x = 1.0 / tau;
        debug_assert!(x >= u[0] && x <= u[NODES - 1], "τ* {tau} outside {piece:?}");
        // Largest u_k ≤ x: its τ_k is the smallest ≥ τ.
        let above = u.iter().rposition(|&uk| uk <= x).unwrap_or(0);
        let mut lambda = [0.0; NODES];
        if let Some(k) = u.iter().position(|&uk| uk == x) {
            lambda[k] = 1.0;
            return Interp { lambda, above, slot };
        }
        let mut total = 0.0;
        for (k, (l, uk)) in lambda.iter_mut().zip(u).enumerate() {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            let half = if k == 0 || k == NODES - 1 { 0.5 } else { 1.0 };
            *l = sign * half / (x - uk);
            total += *l;
        }
        lambda.iter_mut().for_each(|l| *l /= total);
        Interp { lambda, above, slot }
    }

    pub(super) fn value(&self, f: &[f64; NODES]) -> f64 {
        // Four partial sums: a single running sum would chain every add.
        let mut acc = [0.0; 4];
        for (k, (l, v)) in self.lambda.iter().zip(f).enumerate() {
            acc[k % 4] += l * v;
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }
}

/// Decay factors of a cache's widths at every node of a piece and at the
/// τ* samples that locate calibration peaks, computed once for all
/// connections.
pub(super) struct Tables {
    nodes: Vec<(f64, Vec<(f64, f64)>)>,
    samples: Vec<(f64, Vec<(f64, f64)>)>,
    /// The piece's ends in τ* (ms).
    taus: (f64, f64),
}

impl Tables {
    pub(super) fn new(widths: &Widths, piece: Piece) -> Tables {
        let u = piece.nodes_u();
        let at = |tau: f64| (tau, widths.decays(tau));
        Tables {
            nodes: piece.node_taus().into_iter().map(at).collect(),
            samples: (0..PEAK_SAMPLES)
                .map(|k| at(1.0 / (u[0] + (u[NODES - 1] - u[0]) * k as f64 / (PEAK_SAMPLES - 1) as f64)))
                .collect(),
            taus: piece.tau_range(),
        }
    }
}

/// One synapse's calcium over a run of fine bins, at each node: c*
/// contributed at the run's end, from c* = 0 at its start.
#[derive(Debug, Clone)]
pub(super) struct FineNodes {
    pub(super) end: [f64; NODES],
}

/// A run's `FineNodes` and, at each node, an upper bound of its
/// contribution anywhere in the run (rounded up).
fn fine_nodes(
    grid: &Grid,
    tables: &Tables,
    (values, moments): (&[f32], &[f32]),
    run: Range<usize>,
) -> (FineNodes, [f32; NODES]) {
    let (mut end, mut bound) = ([0.0; NODES], [0.0; NODES]);
    for (k, (tau, dec)) in tables.nodes.iter().enumerate() {
        end[k] = local_end(grid, dec, values, moments, *tau, run.clone());
        bound[k] = round_up(local_bound(
            grid,
            dec,
            values,
            moments,
            (tables.taus.0, *tau),
            run.clone(),
        ));
    }
    (FineNodes { end }, bound)
}

/// Bounds of runs (segments or groups, each per synapse), stored node by
/// node: a candidate reads the bounds of one node only, so those of a
/// segment's synapses share a cache line.
#[derive(Debug, Clone)]
struct Bounds {
    runs: usize,
    values: Vec<f32>,
}

impl Bounds {
    fn new(per_run: &[[f32; NODES]]) -> Bounds {
        Bounds {
            runs: per_run.len(),
            values: (0..NODES).flat_map(|n| per_run.iter().map(move |b| b[n])).collect(),
        }
    }

    fn at(&self, node: usize, run: usize) -> f64 {
        f64::from(self.values[node * self.runs + run])
    }

    /// Every run's bound at a node.
    fn row(&self, node: usize) -> &[f32] {
        &self.values[node * self.runs..(node + 1) * self.runs]
    }
}

/// Consecutive fine segments between gaps: a synapse whose c* cannot
/// reach a threshold in any of them, and whose releases cannot differ
/// from the recording's at the spikes among them, crosses them all at
/// once.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    pub(super) first: usize,
    /// The segment after the last.
    pub(super) end: usize,
    pub(super) bins: usize,
    pub(super) span_ms: f64,
}

impl Group {
    fn new(starts: &[usize], first: usize, end: usize, span_ms: f64) -> Group {
        Group {
            first,
            end,
            bins: starts[end] - starts[first],
            span_ms,
        }
    }
}

/// Longest group (ms): its end contribution stays within the
/// interpolation's accuracy (see the tests).
const GROUP_MS: f64 = 1024.0;

/// The induction cut into segments: a segment starts at every bin holding
/// a presynaptic spike (release differences begin there) and after at most
/// `SEGMENT_BINS` bins or `SEGMENT_MS`; a gap (a quiet stretch, crossed
/// exactly in closed form) is a segment of its own.
#[derive(Debug, Clone)]
pub(super) struct Segments {
    /// First bin of each segment, then the timeline's length.
    pub(super) starts: Vec<usize>,
    pub(super) spans_ms: Vec<f64>,
    /// exp(−T/τ_Ca) of each segment, for the closed form across gaps.
    pub(super) calcium_decay: Vec<f64>,
    /// Whether each segment is a gap, and its place among the fine
    /// segments or among the gaps.
    gap: Vec<bool>,
    rank: Vec<u32>,
    /// Per gap, per synapse: the calcium excess at its start (mM), the one
    /// value its closed form reads, kept here so that crossing it touches
    /// no bin.
    gap_excess: Vec<f64>,
    /// Groups of two or more segments, and per segment the group it
    /// starts.
    pub(super) groups: Vec<Group>,
    group_at: Vec<Option<u32>>,
    /// The nodes of each piece the replay holds, by slot.
    pieces: Vec<PieceNodes>,
    synapses: usize,
}

/// What the segments and groups hold at the nodes of one piece.
#[derive(Debug, Clone)]
struct PieceNodes {
    /// Per fine segment, per synapse: the synapses of a connection are
    /// advanced together, segment by segment.
    nodes: Vec<FineNodes>,
    /// The fine segments' bounds (those of gaps are infinite).
    bounds: Bounds,
    /// Per group, per synapse.
    group_nodes: Vec<FineNodes>,
    group_bounds: Bounds,
    /// Per synapse, a lower bound of the contribution to c* anywhere in
    /// any of its fine segments, for every τ* of the piece (≤ 0): calcium
    /// integrals are non-negative but for rounding.
    floors: Vec<f64>,
}

impl Segments {
    /// `spike_bins` ascending; `synapses` gives each synapse's calcium
    /// values and moments; `tables` are those of the piece at slot 0.
    pub(super) fn new(grid: &Grid, spike_bins: &[usize], synapses: &[(&[f32], &[f32])], tables: &Tables) -> Segments {
        let len = grid.len();
        let mut starts = vec![0];
        let mut spikes = spike_bins.iter().peekable();
        for b in 1..len {
            while spikes.next_if(|&&s| s < b).is_some() {}
            let last = *starts.last().expect("starts at 0");
            let long =
                b - last >= SEGMENT_BINS || grid.start_of(b) + grid.width_ms[b] - grid.start_of(last) > SEGMENT_MS;
            if spikes.peek() == Some(&&b) || grid.gap[b - 1] || grid.gap[b] || long {
                starts.push(b);
            }
        }
        starts.push(len);
        let spans_ms: Vec<f64> = starts
            .windows(2)
            .map(|w| grid.width_ms[w[0]..w[1]].iter().sum())
            .collect();
        let calcium_decay = spans_ms.iter().map(|t| (-t / CAI_TAU_MS).exp()).collect();
        let gap: Vec<bool> = starts[..starts.len() - 1].iter().map(|&b| grid.gap[b]).collect();
        let rank = gap
            .iter()
            .scan([0u32; 2], |seen, &g| {
                seen[usize::from(g)] += 1;
                Some(seen[usize::from(g)] - 1)
            })
            .collect();
        let gap_excess = starts
            .windows(2)
            .zip(&gap)
            .filter(|&(_, &is_gap)| is_gap)
            .flat_map(|(w, _)| synapses.iter().map(move |series| f64::from(series.0[w[0]])))
            .collect();
        let groups = groups(grid, &starts, &spans_ms);
        let mut group_at = vec![None; spans_ms.len()];
        for (g, group) in groups.iter().enumerate() {
            group_at[group.first] = Some(g as u32);
        }
        let mut segments = Segments {
            starts,
            spans_ms,
            calcium_decay,
            gap,
            rank,
            gap_excess,
            groups,
            group_at,
            pieces: Vec::new(),
            synapses: synapses.len(),
        };
        segments.add_piece(grid, synapses, tables);
        segments
    }

    /// Derives the nodes of another piece (from its `tables`) at the next
    /// slot.
    pub(super) fn add_piece(&mut self, grid: &Grid, synapses: &[(&[f32], &[f32])], tables: &Tables) {
        let (mut nodes, mut bounds) = (Vec::new(), Vec::new());
        for (w, &is_gap) in self.starts.windows(2).zip(&self.gap) {
            for &series in synapses {
                if is_gap {
                    bounds.push([f32::INFINITY; NODES]);
                } else {
                    let (fine, bound) = fine_nodes(grid, tables, series, w[0]..w[1]);
                    nodes.push(fine);
                    bounds.push(bound);
                }
            }
        }
        let (group_nodes, group_bounds): (Vec<FineNodes>, Vec<[f32; NODES]>) = self
            .groups
            .iter()
            .flat_map(|g| {
                let run = self.starts[g.first]..self.starts[g.end];
                synapses
                    .iter()
                    .map(move |&series| fine_nodes(grid, tables, series, run.clone()))
            })
            .unzip();
        let fine: Vec<Range<usize>> = self
            .starts
            .windows(2)
            .zip(&self.gap)
            .filter(|&(_, &is_gap)| !is_gap)
            .map(|(w, _)| w[0]..w[1])
            .collect();
        let floors = synapses
            .iter()
            .map(|&(values, moments)| {
                fine.iter()
                    .map(|run| f64::from(round_down(local_floor(values, moments, tables.taus, run.clone()))))
                    .fold(0.0, f64::min)
            })
            .collect();
        self.pieces.push(PieceNodes {
            nodes,
            bounds: Bounds::new(&bounds),
            group_nodes,
            group_bounds: Bounds::new(&group_bounds),
            floors,
        });
    }

    /// The group segment k starts, if any.
    pub(super) fn group_at(&self, k: usize) -> Option<usize> {
        self.group_at[k].map(|g| g as usize)
    }

    /// Whether segment k is a gap.
    pub(super) fn is_gap(&self, k: usize) -> bool {
        self.gap[k]
    }

    /// Synapse i's calcium excess (mM) at the start of gap k.
    pub(super) fn gap_excess(&self, i: usize, k: usize) -> f64 {
        debug_assert!(self.gap[k], "segment {k} is fine");
        self.gap_excess[self.rank[k] as usize * self.synapses + i]
    }

    /// The nodes of the piece at `slot`.
    pub(super) fn piece(&self, slot: usize) -> PieceView<'_> {
        PieceView {
            nodes: &self.pieces[slot],
            rank: &self.rank,
            synapses: self.synapses,
        }
    }

    /// Adds the tables a candidate reads to `p`: with gates, those of its
    /// piece and only the bounds at its node `above`; without (None), no
    /// bound or node.
    pub(super) fn prefetch(&self, p: &mut Prefetch, gate: Option<&Interp>) {
        p.add(&self.starts);
        p.add(&self.spans_ms);
        p.add(&self.gap);
        p.add(&self.rank);
        p.add(&self.calcium_decay);
        p.add(&self.gap_excess);
        p.add(&self.group_at);
        if let Some(ip) = gate {
            let piece = &self.pieces[ip.slot];
            p.add(&piece.floors);
            p.add(piece.bounds.row(ip.above));
            p.add(&piece.nodes);
            p.add(&self.groups);
            p.add(piece.group_bounds.row(ip.above));
            p.add(&piece.group_nodes);
        }
    }

    /// Bytes of the nodes of every segment and group, all synapses and
    /// pieces.
    pub(super) fn node_bytes(&self) -> usize {
        let pieces: usize = self
            .pieces
            .iter()
            .map(|piece| {
                std::mem::size_of_val(&piece.nodes[..])
                    + std::mem::size_of_val(&piece.group_nodes[..])
                    + std::mem::size_of_val(&piece.bounds.values[..])
                    + std::mem::size_of_val(&piece.group_bounds.values[..])
            })
            .sum();
        pieces + std::mem::size_of_val(&self.gap_excess[..])
    }
}

/// The nodes of one piece over a connection's segments and groups, as a
/// candidate in that piece reads them.
#[derive(Debug, Clone, Copy)]
pub(super) struct PieceView<'a> {
    nodes: &'a PieceNodes,
    rank: &'a [u32],
    synapses: usize,
}

impl<'a> PieceView<'a> {
    /// The bound of synapse i over segment k at a node (infinite for a gap).
    pub(super) fn bound(&self, i: usize, k: usize, node: usize) -> f64 {
        self.nodes.bounds.at(node, k * self.synapses + i)
    }

    /// Synapse i's nodes over fine segment k.
    pub(super) fn fine_nodes(&self, i: usize, k: usize) -> &'a FineNodes {
        &self.nodes.nodes[self.rank[k] as usize * self.synapses + i]
    }

    /// The bound of synapse i over group g at a node.
    pub(super) fn group_bound(&self, i: usize, g: usize, node: usize) -> f64 {
        self.nodes.group_bounds.at(node, g * self.synapses + i)
    }

    /// What synapse i's calcium does over group g.
    pub(super) fn group_nodes(&self, i: usize, g: usize) -> &'a FineNodes {
        &self.nodes.group_nodes[g * self.synapses + i]
    }

    /// Synapse i's floor (see `PieceNodes::floors`).
    pub(super) fn floor(&self, i: usize) -> f64 {
        self.nodes.floors[i]
    }
}

/// A candidate's place among the nodes of its piece, and those nodes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gate<'a> {
    pub(super) interp: Interp,
    pub(super) nodes: PieceView<'a>,
}

/// Groups of the segments from `starts` (with their lengths in ms): runs
/// of fine segments between gaps, cut at `GROUP_MS`; runs of one segment
/// are left out.
fn groups(grid: &Grid, starts: &[usize], spans_ms: &[f64]) -> Vec<Group> {
    let mut out = Vec::new();
    let mut first = 0;
    let mut length = 0.0;
    for k in 0..spans_ms.len() {
        let gap = grid.gap[starts[k]];
        if gap || length + spans_ms[k] > GROUP_MS {
            if k - first >= 2 {
                out.push(Group::new(starts, first, k, length));
            }
            (first, length) = (k + usize::from(gap), 0.0);
        }
        if !gap {
            length += spans_ms[k];
        }
    }
    if spans_ms.len() - first >= 2 {
        out.push(Group::new(starts, first, spans_ms.len(), length));
    }
    out
}

/// c* at the end of fine bins `run` from c* = 0 at their start, as replay
/// advances it bin by bin.
fn local_end(grid: &Grid, dec: &[(f64, f64)], values: &[f32], moments: &[f32], tau: f64, run: Range<usize>) -> f64 {
    run.fold(0.0, |c, b| {
        let (e, h) = dec[grid.index[b] as usize];
        c * e + (f64::from(values[b]) + f64::from(moments[b]) / tau) * h
    })
}

/// An upper bound of c* over fine bins `run` from c* = 0, valid for every
/// τ* from `tau_min` (the piece's lower end) up to `tau`: each bin's gain
/// h·(V + M/τ*) (h = `gain_factor`, which rises with τ*) is at most that
/// at `tau` of V plus the larger of M/τ* at the range's ends, if positive,
/// and the decays at most those at `tau`.
fn local_bound(
    grid: &Grid,
    dec: &[(f64, f64)],
    values: &[f32],
    moments: &[f32],
    (tau_min, tau): (f64, f64),
    run: Range<usize>,
) -> f64 {
    let (mut c, mut top) = (0.0f64, 0.0f64);
    for b in run {
        let (e, h) = dec[grid.index[b] as usize];
        let (v, m) = (f64::from(values[b]), f64::from(moments[b]));
        c = c * e + (v + (m / tau).max(m / tau_min)).max(0.0) * h;
        top = top.max(c);
    }
    top
}

/// A lower bound of c* over fine bins `run` from c* = 0, valid for every
/// τ* of [tau_min, tau_max]: the negative parts of the bins' gains,
/// undecayed (each bin's factor h and the decays after it are at most 1).
fn local_floor(values: &[f32], moments: &[f32], (tau_min, tau_max): (f64, f64), run: Range<usize>) -> f64 {
    run.map(|b| {
        let (v, m) = (f64::from(values[b]), f64::from(moments[b]));
        (v + (m / tau_min).min(m / tau_max)).min(0.0)
    })
    .sum()
}

/// The nearest f32 at or below x.
fn round_down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x {
        f.next_down()
    } else {
        f
    }
}

/// The nearest f32 at or above x.
fn round_up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        f.next_up()
    } else {
        f
    }
}

/// A calibration peak's window: the bins where c*'s largest value falls
/// for the τ* sampled across a piece (`PEAK_SAMPLES`, even in u: ≤ 3.6 ms
/// of τ* apart in the box), widened by `PEAK_MARGIN`, and c* at the
/// window's start at every node. Gated and full peaks agree in
/// `tests/replay.rs`.
#[derive(Debug, Clone)]
pub(super) struct PeakWindow {
    pub(super) bins: Range<usize>,
    pub(super) start: [f64; NODES],
    /// The window's bins, copied from the grid and the synapse's values
    /// so that a candidate's search reads one array.
    pub(super) steps: Vec<WindowStep>,
}

/// A bin of a peak's window.
#[derive(Debug, Clone, Copy)]
pub(super) struct WindowStep {
    pub(super) value: f32,
    pub(super) kind: BinKind,
    /// The largest calcium excess (mM) in this bin or after it in the
    /// window: c* above τ*·that cannot rise in the rest of the window
    /// (see `eval::window_peak`).
    pub(super) excess_after: f64,
}

/// τ* samples (even in u) that locate a calibration peak's window.
const PEAK_SAMPLES: usize = 129;

/// Margin (bins) around the sampled peaks.
const PEAK_MARGIN: usize = 2;

impl PeakWindow {
    /// `pass(τ*, decays, bins)` runs c* over calibration bins from c* = 0
    /// at the first: (peak, bin of the peak, c* at the end); `bin(b)` is
    /// bin b's value and kind, and `excess(b)` its largest calcium excess.
    pub(super) fn new(
        len: usize,
        tables: &Tables,
        pass: impl Fn(f64, &[(f64, f64)], Range<usize>) -> (f64, usize, f64),
        bin: impl Fn(usize) -> (f32, BinKind),
        excess: impl Fn(usize) -> f64,
    ) -> PeakWindow {
        let (mut lo, mut hi) = (usize::MAX, 0);
        for (tau, dec) in &tables.samples {
            let b = pass(*tau, dec, 0..len).1;
            lo = lo.min(b);
            hi = hi.max(b);
        }
        let bins = lo.saturating_sub(PEAK_MARGIN)..(hi + PEAK_MARGIN + 1).min(len);
        let start = std::array::from_fn(|k| {
            let (tau, dec) = &tables.nodes[k];
            pass(*tau, dec, 0..bins.start).2
        });
        let mut steps: Vec<WindowStep> = bins
            .clone()
            .rev()
            .scan(f64::NEG_INFINITY, |top, b| {
                *top = top.max(excess(b));
                let (value, kind) = bin(b);
                Some(WindowStep {
                    value,
                    kind,
                    excess_after: *top,
                })
            })
            .collect();
        steps.reverse();
        PeakWindow { bins, start, steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::cache::Timeline;

    /// Every piece, and τ* drawn evenly in u across it.
    fn pieces_and_taus(per_piece: usize) -> Vec<(Piece, Vec<f64>)> {
        (-1..=LAST_PIECE)
            .map(Piece)
            .map(|p| {
                let (lo, hi) = p.u_range();
                let taus = (0..=per_piece).map(|k| 1.0 / (lo + (hi - lo) * k as f64 / per_piece as f64));
                (p, taus.collect())
            })
            .collect()
    }

    #[test]
    fn interpolation_reproduces_a_sum_of_decays_across_every_piece() {
        // A segment's or group's end contribution: calcium at most
        // `GROUP_MS` before the end decaying with τ*, like Σ a_i·exp(−s_i/τ*).
        // The bound 1e-9 is far below the binning's (7e-4 of a spike's
        // integral).
        let terms: [(f64, f64); 4] = [(1.0, 5.0), (0.5, 80.0), (2.0, 400.0), (0.3, GROUP_MS)];
        let f = |tau: f64| terms.iter().map(|(a, s)| a * (-s / tau).exp()).sum::<f64>();
        for (piece, taus) in pieces_and_taus(200) {
            let at_nodes = piece.node_taus().map(f);
            for tau in taus {
                assert_eq!(
                    Piece::of(tau).map(|p| p.0.abs_diff(piece.0) <= 1),
                    Some(true),
                    "τ* {tau}"
                );
                let got = Interp::at(tau, piece, 0).value(&at_nodes);
                assert!(
                    (got - f(tau)).abs() < 1e-9 * f(tau),
                    "{piece:?}, τ* {tau}: {got} vs {}",
                    f(tau)
                );
            }
        }
    }

    #[test]
    fn pieces_tile_the_tau_axis_from_55_ms_to_10_s_around_the_box() {
        assert_eq!(Piece::BOX.tau_range(), PARAM_BOUNDS[0]);
        for tau in [150.0, 278.318, 350.0] {
            assert_eq!(Piece::of(tau), Some(Piece::BOX), "τ* {tau}");
        }
        assert_eq!(Piece::of(351.0), Some(Piece(-1)));
        assert_eq!(Piece::of(10_000.0), Some(Piece(-1)));
        assert_eq!(Piece::of(149.0), Some(Piece(1)));
        assert_eq!(Piece::of(56.0), Some(Piece(LAST_PIECE)));
        for tau in [54.0, 10_001.0, 0.0, -5.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Piece::of(tau), None, "τ* {tau}");
        }
        for j in -1..LAST_PIECE {
            // Neighbours share an end, and every piece is at most the box's width in u.
            assert_eq!(Piece(j).u_range().1, Piece(j + 1).u_range().0);
            let (lo, hi) = Piece(j).u_range();
            let (blo, bhi) = Piece::BOX.u_range();
            assert!(hi - lo <= (bhi - blo) * (1.0 + 1e-12), "{j}");
        }
        assert_eq!(Piece::spanning(150.0, 350.0), [Piece::BOX]);
        assert_eq!(Piece::spanning(278.0, 278.0), [Piece::BOX]);
        assert_eq!(Piece::spanning(100.0, 1000.0), [Piece(-1), Piece::BOX, Piece(1)]);
        assert_eq!(Piece::spanning(1.0, 1e9).len(), 5);
        assert!(Piece::spanning(20_000.0, 30_000.0).is_empty());
        assert!(Piece::spanning(1.0, 50.0).is_empty());
        assert!(Piece::spanning(400.0, 300.0).is_empty());
        assert!(Piece::spanning(f64::NAN, 300.0).is_empty());
        assert_eq!(Piece::spanning(350.0, 350.0), [Piece::BOX]);
        assert_eq!(Piece::spanning(351.0, 351.0), [Piece(-1)]);
        assert_eq!(Piece::spanning(10.0, 60.0), [Piece(LAST_PIECE)]);
    }

    /// Calcium on a timeline of fine bins and gaps, as recordings leave it:
    /// non-negative integrals (but for rounding), moments within ±V·w/2.
    fn synthetic(seed: u64) -> (Grid, Widths, Vec<f32>, Vec<f32>, Vec<usize>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut widths_ms, mut gap, mut values, mut moments) = (vec![], vec![], vec![], vec![]);
        for b in 0..600 {
            let is_gap = b % 150 == 149;
            let w: f64 = if is_gap {
                rng.gen_range(100.0..3000.0)
            } else {
                rng.gen_range(0.025..32.0)
            };
            let v: f64 = if rng.gen_bool(0.05) {
                -1e-9
            } else {
                rng.gen_range(0.0..1e-3) * w.min(5.0)
            };
            widths_ms.push(w);
            gap.push(is_gap);
            values.push(v as f32);
            moments.push(if is_gap {
                0.0
            } else {
                (v * w * rng.gen_range(-0.5..0.5)) as f32
            });
        }
        let mut widths = Widths::default();
        let grid = Grid::new(&Timeline { widths_ms, gap }, &mut widths);
        let spikes = (0..600).step_by(37).collect();
        (grid, widths, values, moments, spikes)
    }

    /// c* over fine bins `run` from 0 at τ*, as replay steps it: the
    /// smallest and largest values and the end.
    fn stepped(
        grid: &Grid,
        widths: &Widths,
        values: &[f32],
        moments: &[f32],
        tau: f64,
        run: Range<usize>,
    ) -> (f64, f64, f64) {
        let dec = widths.decays(tau);
        let (mut c, mut bottom, mut top) = (0.0f64, 0.0f64, 0.0f64);
        for b in run {
            let (e, h) = dec[grid.index[b] as usize];
            c = c * e + (f64::from(values[b]) + f64::from(moments[b]) / tau) * h;
            (bottom, top) = (bottom.min(c), top.max(c));
        }
        (bottom, top, c)
    }

    #[test]
    fn segment_and_group_bounds_and_floors_hold_and_ends_interpolate_for_any_tau_of_every_piece() {
        use rand::{Rng, SeedableRng};
        let (grid, widths, values, moments, spikes) = synthetic(9);
        let series = [(&values[..], &moments[..])];
        let pieces: Vec<Piece> = [0, -1, 1, LAST_PIECE].into_iter().map(Piece).collect();
        let mut segments = Segments::new(&grid, &spikes, &series, &Tables::new(&widths, pieces[0]));
        for &piece in &pieces[1..] {
            segments.add_piece(&grid, &series, &Tables::new(&widths, piece));
        }
        assert!(segments.starts.len() > 10 && spikes.iter().all(|s| segments.starts.contains(s)));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for (slot, &piece) in pieces.iter().enumerate() {
            let runs = runs_of(&segments, &grid, &values, slot);
            let (mut tightest, mut below_zero): (f64, usize) = (0.0, 0);
            let (ulo, uhi) = piece.u_range();
            for _ in 0..40 {
                let tau = 1.0 / rng.gen_range(ulo..=uhi);
                let ip = Interp::at(tau, piece, slot);
                for (run, nodes, bounds, tolerance, segment) in &runs {
                    assert!(!grid.gap[run.clone()].contains(&true));
                    let (bottom, top, c) = stepped(&grid, &widths, &values, &moments, tau, run.clone());
                    let bound = bounds[ip.above];
                    assert!(
                        top <= bound,
                        "τ* {tau}, bins {run:?}: c* reaches {top} above its bound {bound}"
                    );
                    if *segment {
                        let floor = segments.piece(slot).floor(0);
                        assert!(
                            bottom >= floor,
                            "τ* {tau}, bins {run:?}: c* falls to {bottom} below the floor {floor}"
                        );
                        below_zero += usize::from(bottom < 0.0);
                    }
                    tightest = tightest.max(top / bound);
                    let end = ip.value(&nodes.end);
                    assert!(
                        (end - c).abs() <= tolerance * c.abs().max(1e-12),
                        "{piece:?}, τ* {tau}, bins {run:?}: end {end} vs {c}"
                    );
                }
            }
            // The bound is of use: some segment comes within 10 % of it.
            assert!(tightest > 0.9, "{piece:?}: bounds at most {tightest} reached");
            // Rounding leaves some integrals negative: the floor is tested.
            assert!(below_zero > 0, "{piece:?}: c* never falls below 0");
        }
    }

    /// Every fine segment and group of synapse 0 with its nodes and bounds
    /// at `slot`, and the tolerance of its interpolated end; segments are
    /// flagged, and the segments' and groups' structure is checked.
    #[allow(clippy::type_complexity)]
    fn runs_of<'a>(
        segments: &'a Segments,
        grid: &Grid,
        values: &[f32],
        slot: usize,
    ) -> Vec<(Range<usize>, &'a FineNodes, [f64; NODES], f64, bool)> {
        let mut runs = Vec::new();
        for (k, w) in segments.starts.windows(2).enumerate() {
            assert_eq!(segments.is_gap(k), grid.gap[w[0]]);
            if segments.is_gap(k) {
                assert_eq!(w[1], w[0] + 1, "a gap is a segment of its own");
                assert_eq!(segments.gap_excess(0, k), f64::from(values[w[0]]));
            } else {
                let bounds: [f64; NODES] = std::array::from_fn(|n| segments.piece(slot).bound(0, k, n));
                runs.push((w[0]..w[1], segments.piece(slot).fine_nodes(0, k), bounds, 1e-11, true));
            }
        }
        assert!(segments.groups.len() >= 4, "{} groups", segments.groups.len());
        for (g, group) in segments.groups.iter().enumerate() {
            let run = segments.starts[group.first]..segments.starts[group.end];
            assert_eq!(segments.group_at(group.first), Some(g));
            assert!(group.end - group.first >= 2 && group.span_ms <= GROUP_MS);
            assert_eq!(group.bins, run.len());
            let span: f64 = segments.spans_ms[group.first..group.end].iter().sum();
            assert!((span - group.span_ms).abs() < 1e-9);
            assert!(!segments.is_gap(group.first));
            let bounds: [f64; NODES] = std::array::from_fn(|n| segments.piece(slot).group_bound(0, g, n));
            // Replay checks a group only for a synapse its first segment gates.
            assert!((0..NODES).all(|n| bounds[n] >= segments.piece(slot).bound(0, group.first, n)));
            runs.push((run, segments.piece(slot).group_nodes(0, g), bounds, 1e-10, false));
        }
        runs
    }

    #[test]
    fn the_node_above_has_the_smallest_tau_at_or_above() {
        for (piece, taus) in pieces_and_taus(7) {
            let nodes = piece.node_taus();
            for tau in taus
                .into_iter()
                .chain([278.318, 349.9, 151.0])
                .filter(|&t| Piece::of(t) == Some(piece))
            {
                let k = Interp::at(tau, piece, 0).above;
                assert!(nodes[k] >= tau - 1e-9, "{tau}: node {}", nodes[k]);
                assert!(
                    k == NODES - 1 || nodes[k + 1] < tau + 1e-9,
                    "{tau}: a smaller node above"
                );
            }
        }
    }
}
