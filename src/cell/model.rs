//! A cell description discretised into compartments, with its channels and
//! the implicit (backward-Euler) tree solver of the cable equation.
//!
//! Internal units: mV, ms, nA, µS, nF.

use super::channels::{Channel, ChannelKind, Ion};
use super::description::{CellDescription, SectionTree};
use super::table::RateTable;
use crate::pathway::Tree;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Compartment {
    pub section: usize,
    /// Relative position of the segment centre in its section.
    pub x: f64,
    pub area_um2: f64,
    /// Path distance from the soma centre to the segment centre (µm).
    pub path_um: f64,
    pub tree: SectionTree,
    /// Parent compartment (None for the soma).
    pub parent: Option<usize>,
    /// Axial conductance to the parent (µS).
    pub g_axial_us: f64,
    pub cm_nf: f64,
    pub g_pas_us: f64,
    pub e_pas_mv: f64,
}

/// The discretised cell: structure and channel densities, no state.
#[derive(Debug, Clone)]
pub struct CellModel {
    pub name: String,
    pub compartments: Vec<Compartment>,
    pub channels: Vec<Channel>,
    pub section_names: Vec<String>,
    pub celsius: f64,
    reversal: [f64; 3],
    /// Rate tables by `ChannelKind::index`.
    tables: Vec<RateTable>,
    /// (compartment, parent, axial conductance µS) of every non-root
    /// compartment, deepest first: the solver's elimination order. Siblings
    /// of one depth are independent, so their eliminations overlap in the
    /// processor instead of waiting on one another along each section.
    elimination: Vec<(usize, usize, f64)>,
    /// Per compartment: the axial conductances on its diagonal (its own
    /// and its children's), leak conductance and leak current at 0 mV.
    d_axial: Vec<f64>,
    g_pas: Vec<f64>,
    i_pas: Vec<f64>,
    cm_nf: Vec<f64>,
    /// Channels of each kind (by `ChannelKind::index`), a contiguous range.
    kind_ranges: Vec<std::ops::Range<usize>>,
    /// The resting state, found once on first use.
    rest: std::sync::OnceLock<CellState>,
}

/// The steps the rate tables carry decay factors for (ms): the fine step
/// during activity and the step of relaxation back to rest.
pub const STANDARD_DT_MS: f64 = 0.025;
pub const RELAX_DT_MS: f64 = 0.25;

/// Voltages and gates of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellState {
    pub v: Vec<f64>,
    pub gates: Vec<[f64; 3]>,
}

/// Per-compartment extra conductance and current from synapses and
/// electrodes for one implicit step: the current is linearised as
/// i(v) ≈ i(v₀) + g·(v − v₀), entering as d += g, b += g·v₀ − i(v₀).
#[derive(Debug, Clone)]
pub struct Workspace {
    d: Vec<f64>,
    b: Vec<f64>,
    /// cm/h of every compartment for the step `cap_h`.
    cap: Vec<f64>,
    cap_h: f64,
    pub extra_g: Vec<f64>,
    pub extra_b: Vec<f64>,
}

impl Workspace {
    pub fn new(n: usize) -> Workspace {
        Workspace {
            d: vec![0.0; n],
            b: vec![0.0; n],
            cap: vec![0.0; n],
            cap_h: f64::NAN,
            extra_g: vec![0.0; n],
            extra_b: vec![0.0; n],
        }
    }

    pub fn clear_extra(&mut self) {
        self.extra_g.iter_mut().for_each(|x| *x = 0.0);
        self.extra_b.iter_mut().for_each(|x| *x = 0.0);
    }

    /// Adds a membrane current i(v₀) with slope g at v₀ (outward positive).
    pub fn add_membrane_current(&mut self, comp: usize, v0: f64, i_na: f64, g_us: f64) {
        self.extra_g[comp] += g_us;
        self.extra_b[comp] += g_us * v0 - i_na;
    }

    /// Adds an injected current (nA, depolarising positive).
    pub fn add_injection(&mut self, comp: usize, i_na: f64) {
        self.extra_b[comp] += i_na;
    }

    fn set_step(&mut self, cm_nf: &[f64], h: f64) {
        if self.cap_h != h {
            self.cap.iter_mut().zip(cm_nf).for_each(|(c, cm)| *c = cm / h);
            self.cap_h = h;
        }
    }
}

/// 4·Ra·ℓ/(π·d_a·d_b) of a linear taper, in MΩ (Ra Ω·cm, lengths µm).
fn taper_resistance_mohm(ra: f64, length_um: f64, d_a: f64, d_b: f64) -> f64 {
    4.0 * ra * length_um / (std::f64::consts::PI * d_a * d_b) * 1e-2
}

impl CellModel {
    pub fn build(desc: &CellDescription, celsius: f64) -> Result<CellModel> {
        desc.validate()
            .map_err(|p| Error::Config(format!("cell {}: {p}", desc.name)))?;
        let mut compartments: Vec<Compartment> = Vec::new();
        let mut first_comp = Vec::with_capacity(desc.sections.len());
        let mut channels = Vec::new();
        for (si, s) in desc.sections.iter().enumerate() {
            let n = s.nseg;
            let diam = |x: f64| s.diam_um[0] + (s.diam_um[1] - s.diam_um[0]) * x;
            let resistance = |xa: f64, xb: f64| {
                taper_resistance_mohm(s.ra_ohm_cm, (xb - xa).abs() * s.length_um, diam(xa), diam(xb))
            };
            // Path distance of this section's 0 end, and its connection to the parent node.
            let (base_um, parent_link) = match &s.parent {
                None => (0.0, None),
                Some(pname) => {
                    let pi = desc
                        .sections
                        .iter()
                        .position(|p| &p.name == pname)
                        .expect("validated parent");
                    let ps = &desc.sections[pi];
                    let pseg = ((s.parent_x * ps.nseg as f64) as usize).min(ps.nseg - 1);
                    let pcomp = first_comp[pi] + pseg;
                    let pc: &Compartment = &compartments[pcomp];
                    let pd = |x: f64| ps.diam_um[0] + (ps.diam_um[1] - ps.diam_um[0]) * x;
                    let r_parent = taper_resistance_mohm(
                        ps.ra_ohm_cm,
                        (s.parent_x - pc.x).abs() * ps.length_um,
                        pd(pc.x),
                        pd(s.parent_x),
                    );
                    (section_distance(desc, pi, s.parent_x), Some((pcomp, r_parent)))
                }
            };
            first_comp.push(compartments.len());
            for i in 0..n {
                let (x0, x1) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                let xc = 0.5 * (x0 + x1);
                let area = std::f64::consts::PI * s.length_um * (x1 - x0) * 0.5 * (diam(x0) + diam(x1));
                let path_um = if s.parent.is_none() {
                    (xc - 0.5).abs() * s.length_um
                } else {
                    base_um + xc * s.length_um
                };
                let (parent, r) = if i == 0 {
                    match parent_link {
                        None => (None, f64::INFINITY),
                        Some((p, rp)) => (Some(p), rp + resistance(0.0, xc)),
                    }
                } else {
                    let prev = compartments.len() - 1;
                    (Some(prev), resistance(compartments[prev].x, xc))
                };
                let index = compartments.len();
                for (name, spec) in &s.channels {
                    let kind = ChannelKind::from_name(name).expect("validated channel name");
                    let density = spec.gbar.at(path_um);
                    if density != 0.0 {
                        channels.push(Channel {
                            kind,
                            compartment: index,
                            // pS/µm² × µm² = pS = 1e-6 µS
                            gbar_us: density * area * 1e-6,
                            vshift_mv: spec.vshift_mv + spec.vshift2_mv,
                            g_factor: kind.conductance_factor(celsius),
                        });
                    }
                }
                compartments.push(Compartment {
                    section: si,
                    x: xc,
                    area_um2: area,
                    path_um,
                    tree: s.tree,
                    parent,
                    g_axial_us: 1.0 / r,
                    // µF/cm² × µm² = 1e-8 µF = 1e-5 nF; S/cm² × µm² = 1e-8 S = 1e-2 µS
                    cm_nf: s.cm_uf_cm2 * area * 1e-5,
                    g_pas_us: s.g_pas_s_cm2 * area * 1e-2,
                    e_pas_mv: s.e_pas_mv,
                });
            }
        }
        // Grouped by kind, each rate table stays in cache while it is used.
        channels.sort_by_key(|c: &Channel| (c.kind.index(), c.compartment));
        let elimination = elimination_order(&compartments);
        let g_axial: Vec<f64> = compartments
            .iter()
            .map(|c| if c.parent.is_some() { c.g_axial_us } else { 0.0 })
            .collect();
        let mut d_axial = g_axial.clone();
        for (c, g) in compartments.iter().zip(&g_axial) {
            if let Some(p) = c.parent {
                d_axial[p] += g;
            }
        }
        let kind_ranges = ChannelKind::ALL
            .iter()
            .map(|&k| {
                let start = channels.partition_point(|c| c.kind.index() < k.index());
                start..channels.partition_point(|c| c.kind.index() <= k.index())
            })
            .collect();
        Ok(CellModel {
            name: desc.name.clone(),
            elimination,
            d_axial,
            g_pas: compartments.iter().map(|c| c.g_pas_us).collect(),
            i_pas: compartments.iter().map(|c| c.g_pas_us * c.e_pas_mv).collect(),
            cm_nf: compartments.iter().map(|c| c.cm_nf).collect(),
            kind_ranges,
            compartments,
            channels,
            section_names: desc.sections.iter().map(|s| s.name.clone()).collect(),
            celsius,
            reversal: [desc.ena_mv, desc.ek_mv, desc.eh_mv],
            tables: ChannelKind::ALL
                .iter()
                .map(|&k| RateTable::new(k, celsius, [STANDARD_DT_MS, RELAX_DT_MS]))
                .collect(),
            rest: std::sync::OnceLock::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.compartments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.compartments.is_empty()
    }

    fn reversal(&self, ion: Ion) -> f64 {
        match ion {
            Ion::Na => self.reversal[0],
            Ion::K => self.reversal[1],
            Ion::H => self.reversal[2],
        }
    }

    /// A state with every compartment at v and gates at their steady state.
    pub fn state_at(&self, v: f64) -> CellState {
        CellState {
            v: vec![v; self.len()],
            gates: self.channels.iter().map(|c| c.steady_gates(v, self.celsius)).collect(),
        }
    }

    /// One backward-Euler step of h ms: voltages first, then gates at the
    /// new voltages (the staggered scheme of NEURON's default method).
    pub fn step(&self, state: &mut CellState, ws: &mut Workspace, h: f64) {
        ws.set_step(&self.cm_nf, h);
        let rows = ws.d.iter_mut().zip(ws.b.iter_mut()).zip(&ws.cap).zip(&state.v);
        let fixed = self.g_pas.iter().zip(&self.d_axial).zip(&self.i_pas);
        let extra = ws.extra_g.iter().zip(&ws.extra_b);
        for ((((d, b), cap), v), (((g_pas, d_axial), i_pas), (eg, eb))) in rows.zip(fixed.zip(extra)) {
            *d = cap + g_pas + d_axial + eg;
            *b = cap * v + i_pas + eb;
        }
        self.add_channel_conductances(&state.gates, &mut ws.d, &mut ws.b);
        self.solve_tree(&mut ws.d, &mut ws.b, &mut state.v);
        self.advance_gates(state, h);
    }

    /// Adds every channel's conductance g to the diagonal and g·E to the
    /// right-hand side, one kind at a time so the open fraction is inlined.
    fn add_channel_conductances(&self, gates: &[[f64; 3]], d: &mut [f64], b: &mut [f64]) {
        let mut add = |kind: ChannelKind, open: fn(&[f64; 3]) -> f64| {
            let range = self.kind_ranges[kind.index()].clone();
            let e = self.reversal(kind.ion());
            for (ch, g) in self.channels[range.clone()].iter().zip(&gates[range]) {
                let gc = ch.gbar_us * ch.g_factor * open(g);
                d[ch.compartment] += gc;
                b[ch.compartment] += gc * e;
            }
        };
        add(ChannelKind::Nat, |g| g[0] * g[0] * g[0] * g[1]);
        add(ChannelKind::Kfast, |g| g[0]);
        add(ChannelKind::Kslow, |g| g[0] * g[0] * 0.5 * (g[1] + g[2]));
        add(ChannelKind::Nap, |g| g[0]);
        add(ChannelKind::Km, |g| g[0]);
        add(ChannelKind::Ih, |g| g[0]);
    }

    /// Solves the tree system (diagonal d with the axial terms, rhs b) into
    /// v: eliminated from the leaves to the root (parents precede children),
    /// keeping 1/d of each eliminated row for the substitution back.
    fn solve_tree(&self, d: &mut [f64], b: &mut [f64], v: &mut [f64]) {
        for &(i, p, g) in &self.elimination {
            let inv = 1.0 / d[i];
            let f = g * inv;
            d[i] = inv;
            d[p] -= f * g;
            b[p] += f * b[i];
        }
        v[0] = b[0] / d[0];
        for &(i, p, g) in self.elimination.iter().rev() {
            v[i] = (b[i] + g * v[p]) * d[i];
        }
    }

    /// Gates over h at the state's voltages.
    pub fn advance_gates(&self, state: &mut CellState, h: f64) {
        let CellState { v, gates } = state;
        for kind in ChannelKind::ALL {
            let range = self.kind_ranges[kind.index()].clone();
            let table = &self.tables[kind.index()];
            let group = self.channels[range.clone()].iter().zip(&mut gates[range]);
            let Some(k) = table.step_index(h) else {
                group.for_each(|(ch, g)| table.advance_untabulated(g, v[ch.compartment] - ch.vshift_mv, h));
                continue;
            };
            match kind.gate_count() {
                1 => group.for_each(|(ch, g)| table.advance_tabulated::<1>(g, v[ch.compartment] - ch.vshift_mv, k)),
                2 => group.for_each(|(ch, g)| table.advance_tabulated::<2>(g, v[ch.compartment] - ch.vshift_mv, k)),
                _ => group.for_each(|(ch, g)| table.advance_tabulated::<3>(g, v[ch.compartment] - ch.vshift_mv, k)),
            }
        }
    }

    /// The resting state: the voltages where every membrane current, with
    /// gates at their steady states, balances the axial currents; found by
    /// Newton's method on the tree (a few iterations) and cached.
    pub fn resting_state(&self) -> Result<CellState> {
        if let Some(rest) = self.rest.get() {
            return Ok(rest.clone());
        }
        let n = self.len();
        let mut v = vec![self.compartments[0].e_pas_mv; n];
        let (mut d, mut b, mut dv) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for _ in 0..100 {
            let (i0, di) = (self.steady_current(&v, 0.0), self.steady_current(&v, 1e-6));
            for k in 0..n {
                d[k] = (di[k] - i0[k]) / 1e-6;
                // Residual: membrane current plus net axial current out.
                b[k] = -i0[k];
            }
            for (k, c) in self.compartments.iter().enumerate().skip(1) {
                let p = c.parent.expect("non-root");
                let i_ax = c.g_axial_us * (v[k] - v[p]);
                b[k] -= i_ax;
                b[p] += i_ax;
            }
            d.iter_mut().zip(&self.d_axial).for_each(|(d, a)| *d += a);
            self.solve_tree(&mut d, &mut b, &mut dv);
            let step = dv.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            // Damped: never move more than 5 mV in one iteration.
            let scale = (5.0 / step).min(1.0);
            v.iter_mut().zip(&dv).for_each(|(x, d)| *x += scale * d);
            if !step.is_finite() {
                break;
            }
            if step < 1e-10 {
                let gates = self
                    .channels
                    .iter()
                    .map(|c| c.steady_gates(v[c.compartment], self.celsius))
                    .collect();
                return Ok(self.rest.get_or_init(|| CellState { v, gates }).clone());
            }
        }
        Err(Error::Numerical {
            context: format!("cell {}", self.name),
            time_ms: 0.0,
            problem: "no stable resting potential found".into(),
        })
    }

    /// Membrane current (nA) of every compartment at v + shift with all gates
    /// at their steady states.
    fn steady_current(&self, v: &[f64], shift: f64) -> Vec<f64> {
        let mut i: Vec<f64> = self
            .compartments
            .iter()
            .zip(v)
            .map(|(c, &v)| c.g_pas_us * (v + shift - c.e_pas_mv))
            .collect();
        for ch in &self.channels {
            let vc = v[ch.compartment] + shift;
            let g = ch.conductance(&ch.steady_gates(vc, self.celsius));
            i[ch.compartment] += g * (vc - self.reversal(ch.kind.ion()));
        }
        i
    }

    /// Compartment of `tree` whose centre is nearest to path distance d.
    pub fn locate(&self, tree: Tree, path_um: f64) -> Option<usize> {
        let wanted = match tree {
            Tree::Basal => SectionTree::Basal,
            Tree::Apical => SectionTree::Apical,
        };
        self.nearest_in(wanted, path_um)
    }

    pub fn nearest_in(&self, tree: SectionTree, path_um: f64) -> Option<usize> {
        self.compartments
            .iter()
            .enumerate()
            .filter(|(_, c)| c.tree == tree)
            .min_by(|a, b| (a.1.path_um - path_um).abs().total_cmp(&(b.1.path_um - path_um).abs()))
            .map(|(i, _)| i)
    }

    /// Path-distance range (min, max) of the segment centres of a tree.
    pub fn tree_extent(&self, tree: SectionTree) -> Option<(f64, f64)> {
        let ds = self.compartments.iter().filter(|c| c.tree == tree).map(|c| c.path_um);
        let (lo, hi) = ds.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), d| (lo.min(d), hi.max(d)));
        (lo <= hi).then_some((lo, hi))
    }

    /// Total membrane area (µm²).
    pub fn area_um2(&self) -> f64 {
        self.compartments.iter().map(|c| c.area_um2).sum()
    }
}

/// Non-root compartments with their parent and axial conductance, ordered
/// by depth from the root, deepest first (every child before its parent).
fn elimination_order(compartments: &[Compartment]) -> Vec<(usize, usize, f64)> {
    let mut depth = vec![0usize; compartments.len()];
    for (i, c) in compartments.iter().enumerate() {
        if let Some(p) = c.parent {
            depth[i] = depth[p] + 1;
        }
    }
    let mut order: Vec<(usize, usize, f64)> = compartments
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.parent.map(|p| (i, p, c.g_axial_us)))
        .collect();
    order.sort_by_key(|&(i, _, _)| (std::cmp::Reverse(depth[i]), i));
    order
}

/// Path distance of point x of section `si` from the soma centre.
fn section_distance(desc: &CellDescription, si: usize, x: f64) -> f64 {
    let s = &desc.sections[si];
    match &s.parent {
        None => (x - 0.5).abs() * s.length_um,
        Some(p) => {
            let pi = desc
                .sections
                .iter()
                .position(|q| &q.name == p)
                .expect("validated parent");
            section_distance(desc, pi, s.parent_x) + x * s.length_um
        }
    }
}
