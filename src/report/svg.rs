//! A small, dependency-free SVG plotter for paper figures.
//!
//! Four figure kinds, each a pure function from data to a [`Plot`]:
//! - [`compare_means`]: protocols on a categorical x axis, one or more series
//!   of mean ± SEM (in silico against in vitro), a horizontal reference line;
//! - [`distributions`]: per category, the per-connection values as a
//!   deterministic strip (jitter) plot and/or a box plot, mean marked;
//! - [`lines`]: x–y series with optional error bars, linear or log x;
//! - [`heatmap`]: a grid coloured by a diverging map centred on a value, with
//!   a colour bar; cells without a value are grey and listed.
//!
//! Output conventions:
//! - a self-contained `<svg>` element (no ids, no external references, no
//!   scripts, presentation attributes instead of CSS), so several figures can
//!   be inlined in one HTML page or written as `.svg` files;
//! - every coordinate is written with two decimals and every label through a
//!   fixed-precision formatter, so the same input gives the same bytes;
//! - all text is XML-escaped;
//! - values that cannot be drawn (NaN, ±∞, ≤ 0 on a log axis, outside a fixed
//!   y range) are left out, never written as "NaN"; each is described in
//!   [`Plot::notes`], in the figure's `<desc>` and in a footnote;
//! - data elements carry a `class`: `mark` (a mean or an x–y point),
//!   `errorbar`, `point` (one per-connection value), `mean`, `box`, `median`,
//!   `whisker`, `outlier`, `line`, `reference`, `cell`, `cell-missing`,
//!   `cell-label`, so tests and style sheets can find them.

use super::ReportError;
use std::fmt::Write;

/// Default figure width in pixels (a single-column figure at ~100 dpi).
pub const DEFAULT_WIDTH: f64 = 640.0;
/// Default figure height in pixels.
pub const DEFAULT_HEIGHT: f64 = 420.0;

/// Series colours: the colour-blind-safe set of Okabe & Ito (2008), series 0
/// blue and series 1 vermillion.
const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
const AXIS_COLOUR: &str = "#333333";
const GRID_COLOUR: &str = "#e6e6e6";
const NOTE_COLOUR: &str = "#555555";
const MISSING_FILL: &str = "#bdbdbd";
const FONT: &str = "Helvetica, Arial, sans-serif";
const TICK_FONT: f64 = 11.0;
const LABEL_FONT: f64 = 12.0;
const TITLE_FONT: f64 = 14.0;
const NOTE_FONT: f64 = 10.0;

/// Size, title, axis labels and optional fixed y range of a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Width in pixels (≥ 200).
    pub width: f64,
    /// Height in pixels (≥ 150).
    pub height: f64,
    pub title: String,
    /// x-axis label, with units, e.g. "frequency (Hz)".
    pub x_label: String,
    /// y-axis label, with units, e.g. "EPSP ratio (after/before)".
    pub y_label: String,
    /// Fixed y range `(low, high)`; `None` chooses a range with nice ticks that
    /// holds every drawn value (and the reference line).
    pub y_range: Option<(f64, f64)>,
}

impl Frame {
    /// A 640×420 frame with an automatic y range.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Frame {
        Frame {
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            y_range: None,
        }
    }

    /// The same frame with another size in pixels.
    pub fn with_size(mut self, width: f64, height: f64) -> Frame {
        self.width = width;
        self.height = height;
        self
    }

    /// The same frame with a fixed y range.
    pub fn with_y_range(mut self, low: f64, high: f64) -> Frame {
        self.y_range = Some((low, high));
        self
    }

    fn validate(&self) -> Result<(), ReportError> {
        let at_least = |v: f64, min: f64| v.is_finite() && v >= min;
        if !at_least(self.width, 200.0) || !at_least(self.height, 150.0) {
            return Err(ReportError::Invalid {
                what: "figure size".into(),
                problem: format!("{} × {} px; at least 200 × 150 is needed", self.width, self.height),
            });
        }
        if let Some((lo, hi)) = self.y_range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(ReportError::Invalid {
                    what: "y range".into(),
                    problem: format!("({lo}, {hi}); need finite low < high"),
                });
            }
        }
        Ok(())
    }
}

/// A finished figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// The `<svg>` element, ready to be written to a `.svg` file or inlined.
    pub svg: String,
    /// What could not be drawn and why (also in the SVG's `<desc>`).
    pub notes: Vec<String>,
}

/// A mean with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSem {
    pub mean: f64,
    pub sem: f64,
}

/// A named series with one optional mean ± SEM per category.
#[derive(Debug, Clone, PartialEq)]
pub struct CategorySeries {
    pub name: String,
    /// One entry per category, in category order; `None` = no value.
    pub values: Vec<Option<MeanSem>>,
}

/// How [`distributions`] draws the per-connection values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DistributionStyle {
    /// Every value as a jittered point.
    #[default]
    Strip,
    /// Box (quartiles), median, whiskers to the furthest value within 1.5
    /// IQR of the box, values beyond as outliers.
    Box,
    /// A box plot with every value as a jittered point over it.
    BoxAndStrip,
}

/// Options of [`distributions`].
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionOptions {
    pub style: DistributionStyle,
    /// Legend text for the individual values.
    pub points_label: String,
    /// Horizontal dashed line, e.g. `Some(1.0)` for EPSP ratios.
    pub reference_y: Option<f64>,
    /// A mean ± SEM drawn to the right of each category, e.g. in vitro.
    pub overlay: Option<CategorySeries>,
    /// Seed of the deterministic horizontal jitter.
    pub jitter_seed: u64,
}

impl Default for DistributionOptions {
    fn default() -> Self {
        DistributionOptions {
            style: DistributionStyle::Strip,
            points_label: "per-connection values".into(),
            reference_y: None,
            overlay: None,
            jitter_seed: 0,
        }
    }
}

/// One point of an x–y series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XyPoint {
    pub x: f64,
    pub y: f64,
    /// Half-length of a symmetric error bar (e.g. SEM).
    pub err: Option<f64>,
}

/// A named x–y series.
#[derive(Debug, Clone, PartialEq)]
pub struct XySeries {
    pub name: String,
    pub points: Vec<XyPoint>,
}

/// Options of [`lines`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinesOptions {
    /// Logarithmic x axis (points with x ≤ 0 are left out and noted).
    pub log_x: bool,
    /// Horizontal dashed line, e.g. `Some(1.0)` for EPSP ratios.
    pub reference_y: Option<f64>,
}

/// Options of [`heatmap`].
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapOptions {
    /// Value drawn white; lower values blue, higher red.
    pub center: f64,
    /// The colour scale spans `center ± half_range`; values beyond take the end
    /// colour (and are noted). `None`: the largest |z − center|, or 1 when
    /// that is 0 or there is no value.
    pub half_range: Option<f64>,
    /// Label of the colour bar, with units.
    pub z_label: String,
    /// Write each value in its cell with this many decimals.
    pub annotate: Option<usize>,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            center: 1.0,
            half_range: None,
            z_label: "EPSP ratio".into(),
            annotate: None,
        }
    }
}

// ---------------------------------------------------------------------------
// Number and text formatting.

/// A coordinate: two decimals, "-0.00" written as "0.00". Non-finite values
/// never reach here (callers filter them); if one did, it is written as 0.
fn num(v: f64) -> String {
    debug_assert!(v.is_finite(), "non-finite coordinate {v}");
    fixed(if v.is_finite() { v } else { 0.0 }, 2)
}

/// `v` with `decimals` decimals, without a minus sign on zero.
fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A value label: integers without decimals, others with up to three
/// decimals and no trailing zeros.
fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "no value".into();
    }
    let s = fixed(v, 3);
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" {
            "0".into()
        } else {
            t.to_string()
        }
    } else {
        s
    }
}

/// XML escaping of text and attribute values; characters XML 1.0 forbids
/// are replaced by U+FFFD.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Rough rendered width of a text in a sans-serif font.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.6
}

/// `s` shortened to at most `max` characters, with an ellipsis.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

// ---------------------------------------------------------------------------
// Scales and ticks.

#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// Pixel of `lo` and of `hi`.
    p0: f64,
    p1: f64,
}

impl Axis {
    fn px(&self, v: f64) -> f64 {
        let (a, b, x) = if self.log {
            (self.lo.log10(), self.hi.log10(), v.log10())
        } else {
            (self.lo, self.hi, v)
        };
        self.p0 + (x - a) / (b - a) * (self.p1 - self.p0)
    }

    /// Pixel of `v` clamped to the axis.
    fn px_clamped(&self, v: f64) -> f64 {
        self.px(v.clamp(self.lo, self.hi))
    }

    fn contains(&self, v: f64) -> bool {
        let eps = 1e-9 * (self.hi - self.lo).abs();
        v >= self.lo - eps && v <= self.hi + eps
    }
}

#[derive(Debug, Clone, Default)]
struct Ticks {
    values: Vec<f64>,
    labels: Vec<String>,
}

/// Smallest of 1, 2, 5 × 10^k that is ≥ `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() { raw } else { 1.0 };
    let e = 10f64.powf(raw.log10().floor());
    let f = raw / e;
    let m = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * e
}

/// Decimals needed to tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    let d = -(step.log10() + 1e-9).floor();
    if d > 0.0 {
        d as usize
    } else {
        0
    }
}

/// Ticks at multiples of a nice step inside `[lo, hi]`, about `target` of them.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    ticks_with_step(lo, hi, nice_step((hi - lo) / target.max(1) as f64))
}

/// Ticks at the multiples of `step` inside `[lo, hi]`.
fn ticks_with_step(lo: f64, hi: f64, step: f64) -> Ticks {
    let decimals = decimals_for(step);
    let k0 = (lo / step - 1e-9).ceil() as i64;
    let k1 = (hi / step + 1e-9).floor() as i64;
    let mut t = Ticks::default();
    if k1.saturating_sub(k0) > 100 {
        // Cannot happen with a step from `nice_step(span / target)`; guards
        // against a step far too small for the range.
        return t;
    }
    for k in k0..=k1 {
        let v = k as f64 * step;
        t.values.push(v);
        t.labels.push(fixed(v, decimals));
    }
    t
}

/// Running minimum and maximum of finite values.
#[derive(Debug, Clone, Copy, Default)]
struct Extent(Option<(f64, f64)>);

impl Extent {
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.0 = Some(match self.0 {
                None => (v, v),
                Some((a, b)) => (a.min(v), b.max(v)),
            });
        }
    }

    /// A value with its optional error bar.
    fn add_with_error(&mut self, v: f64, err: Option<f64>) {
        self.add(v);
        if let Some(e) = err {
            self.add(v - e);
            self.add(v + e);
        }
    }
}

/// A linear domain with nice ticks holding `extent` (or the fixed range).
fn linear_domain(extent: Extent, fixed_range: Option<(f64, f64)>, target: usize) -> (f64, f64, Ticks) {
    if let Some((lo, hi)) = fixed_range {
        return (lo, hi, linear_ticks(lo, hi, target));
    }
    let (mut lo, mut hi) = extent.0.unwrap_or((0.0, 1.0));
    if hi - lo <= 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        let pad = if lo == 0.0 { 0.5 } else { 0.1 * lo.abs() };
        lo -= pad;
        hi += pad;
    }
    let span = hi - lo;
    // Pad by 5 %, without crossing zero when the data do not.
    lo = if lo >= 0.0 {
        (lo - 0.05 * span).max(0.0)
    } else {
        lo - 0.05 * span
    };
    hi = if hi <= 0.0 {
        (hi + 0.05 * span).min(0.0)
    } else {
        hi + 0.05 * span
    };
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let lo = (lo / step).floor() * step;
    let hi = (hi / step).ceil() * step;
    (lo, hi, ticks_with_step(lo, hi, step))
}

/// A log10 domain holding `extent` (all > 0), ticks at 1, 2, 5 × 10^k (only
/// 10^k over more than 3.5 decades).
fn log_domain(extent: Extent) -> (f64, f64, Ticks) {
    let (lo, hi) = extent.0.unwrap_or((1.0, 10.0));
    let (mut a, mut b) = (lo.log10(), hi.log10());
    if b - a < 1e-12 {
        a -= 0.5;
        b += 0.5;
    }
    let pad = 0.05 * (b - a);
    a -= pad;
    b += pad;
    let multiples: &[f64] = if b - a > 3.5 { &[1.0] } else { &[1.0, 2.0, 5.0] };
    let mut t = Ticks::default();
    for k in (a.floor() as i32)..=(b.ceil() as i32) {
        for &m in multiples {
            let v = m * 10f64.powi(k);
            let lv = v.log10();
            if lv >= a - 1e-9 && lv <= b + 1e-9 {
                t.values.push(v);
                t.labels.push(fixed(v, if k < 0 { (-k) as usize } else { 0 }));
            }
        }
    }
    let (dlo, dhi) = (10f64.powf(a), 10f64.powf(b));
    if t.values.len() < 2 {
        // A narrow range between two 1-2-5 ticks: plain ticks inside it.
        t = linear_ticks(dlo, dhi, 3);
    }
    (dlo, dhi, t)
}

// ---------------------------------------------------------------------------
// The document writer.

#[derive(Debug, Clone, Copy)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
}

const SHAPES: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Diamond];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

struct Doc {
    width: f64,
    height: f64,
    title: String,
    body: String,
}

impl Doc {
    fn new(frame: &Frame) -> Doc {
        let mut d = Doc {
            width: frame.width,
            height: frame.height,
            title: frame.title.clone(),
            body: String::new(),
        };
        let _ = writeln!(
            d.body,
            r##"<rect class="background" x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
            num(frame.width),
            num(frame.height)
        );
        d
    }

    #[allow(clippy::too_many_arguments)]
    fn line(&mut self, class: &str, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) {
        let _ = writeln!(
            self.body,
            r#"<line class="{class}" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="{}"/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            num(width)
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn rect(&mut self, class: &str, x: f64, y: f64, w: f64, h: f64, fill: &str, extra: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}" fill="{fill}"{extra}/>"#,
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0))
        );
    }

    fn path(&mut self, class: &str, d: &str, attrs: &str) {
        let _ = writeln!(self.body, r#"<path class="{class}" d="{d}" {attrs}/>"#);
    }

    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        class: &str,
        x: f64,
        y: f64,
        content: &str,
        size: f64,
        anchor: Anchor,
        rotate: Option<f64>,
        extra: &str,
    ) {
        let transform = match rotate {
            Some(a) => format!(r#" transform="rotate({} {} {})""#, num(a), num(x), num(y)),
            None => String::new(),
        };
        let _ = writeln!(
            self.body,
            r#"<text class="{class}" x="{}" y="{}" font-size="{}" text-anchor="{}"{transform}{extra}>{}</text>"#,
            num(x),
            num(y),
            num(size),
            anchor.as_str(),
            escape(content)
        );
    }

    /// A data marker centred on (x, y) with "radius" r.
    #[allow(clippy::too_many_arguments)]
    fn marker(&mut self, class: &str, shape: Shape, x: f64, y: f64, r: f64, fill: &str, stroke: &str) {
        let style = format!(r#"fill="{fill}" stroke="{stroke}" stroke-width="1""#);
        match shape {
            Shape::Circle => {
                let _ = writeln!(
                    self.body,
                    r#"<circle class="{class}" cx="{}" cy="{}" r="{}" {style}/>"#,
                    num(x),
                    num(y),
                    num(r)
                );
            }
            Shape::Square => {
                let s = r * 0.9;
                let _ = writeln!(
                    self.body,
                    r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}" {style}/>"#,
                    num(x - s),
                    num(y - s),
                    num(2.0 * s),
                    num(2.0 * s)
                );
            }
            Shape::Triangle => {
                let d = format!(
                    "M{} {}L{} {}L{} {}Z",
                    num(x),
                    num(y - 1.2 * r),
                    num(x + 1.1 * r),
                    num(y + 0.8 * r),
                    num(x - 1.1 * r),
                    num(y + 0.8 * r)
                );
                self.path(class, &d, &style);
            }
            Shape::Diamond => {
                let s = r * 1.25;
                let d = format!(
                    "M{} {}L{} {}L{} {}L{} {}Z",
                    num(x),
                    num(y - s),
                    num(x + s),
                    num(y),
                    num(x),
                    num(y + s),
                    num(x - s),
                    num(y)
                );
                self.path(class, &d, &style);
            }
        }
    }

    /// A vertical error bar from y_lo to y_hi (pixels) with caps.
    fn error_bar(&mut self, x: f64, y_lo: f64, y_hi: f64, cap: f64, colour: &str) {
        let d = format!(
            "M{} {}V{}M{} {}H{}M{} {}H{}",
            num(x),
            num(y_lo),
            num(y_hi),
            num(x - cap),
            num(y_lo),
            num(x + cap),
            num(x - cap),
            num(y_hi),
            num(x + cap)
        );
        self.path(
            "errorbar",
            &d,
            &format!(r#"fill="none" stroke="{colour}" stroke-width="1.2""#),
        );
    }

    fn finish(self, notes: &[String]) -> String {
        let mut out = String::with_capacity(self.body.len() + 512);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" fill="{AXIS_COLOUR}">"#,
            w = num(self.width),
            h = num(self.height)
        );
        let _ = writeln!(out, "<title>{}</title>", escape(&self.title));
        if !notes.is_empty() {
            let _ = writeln!(out, "<desc>{}</desc>", escape(&notes.join("\n")));
        }
        out.push_str(&self.body);
        out.push_str("</svg>\n");
        out
    }
}

// ---------------------------------------------------------------------------
// Layout: title, legend, axes, footnote.

#[derive(Debug, Clone, Copy)]
enum Key {
    Marker(Shape, &'static str),
    Line(Shape, &'static str),
    Points(&'static str),
    Mean,
    Box(&'static str),
    Reference,
}

#[derive(Debug, Clone)]
struct LegendEntry {
    key: Key,
    label: String,
}

const LEGEND_ROW: f64 = 18.0;
const LEGEND_KEY: f64 = 22.0;

fn legend_entry_width(e: &LegendEntry) -> f64 {
    LEGEND_KEY + 6.0 + text_width(&e.label, LABEL_FONT) + 16.0
}

/// Entries split into rows that fit `width`.
fn legend_rows(entries: &[LegendEntry], width: f64) -> Vec<Vec<LegendEntry>> {
    let mut rows: Vec<Vec<LegendEntry>> = Vec::new();
    let mut used = 0.0;
    for e in entries {
        let w = legend_entry_width(e);
        match rows.last_mut() {
            Some(row) if used + w <= width => {
                row.push(e.clone());
                used += w;
            }
            _ => {
                rows.push(vec![e.clone()]);
                used = w;
            }
        }
    }
    rows
}

fn draw_legend(doc: &mut Doc, rows: &[Vec<LegendEntry>], x0: f64, y0: f64) {
    for (r, row) in rows.iter().enumerate() {
        let cy = y0 + r as f64 * LEGEND_ROW + LEGEND_ROW / 2.0;
        let mut x = x0;
        for e in row {
            let kx = x + LEGEND_KEY / 2.0;
            match e.key {
                Key::Marker(shape, colour) => doc.marker("legend-key", shape, kx, cy, 4.0, colour, colour),
                Key::Line(shape, colour) => {
                    doc.line("legend-key", x, cy, x + LEGEND_KEY, cy, colour, 1.8);
                    doc.marker("legend-key", shape, kx, cy, 3.5, colour, colour);
                }
                Key::Points(colour) => {
                    for dx in [-6.0, 0.0, 6.0] {
                        let _ = writeln!(
                            doc.body,
                            r#"<circle class="legend-key" cx="{}" cy="{}" r="2.50" fill="{colour}" fill-opacity="0.55"/>"#,
                            num(kx + dx),
                            num(cy + dx / 3.0)
                        );
                    }
                }
                Key::Mean => doc.marker("legend-key", Shape::Diamond, kx, cy, 4.0, "#ffffff", "#000000"),
                Key::Box(colour) => doc.rect(
                    "legend-key",
                    x + 4.0,
                    cy - 6.0,
                    LEGEND_KEY - 8.0,
                    12.0,
                    colour,
                    &format!(r#" fill-opacity="0.18" stroke="{colour}""#),
                ),
                Key::Reference => {
                    let _ = writeln!(
                        doc.body,
                        r#"<line class="legend-key" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{NOTE_COLOUR}" stroke-width="1.2" stroke-dasharray="5 3"/>"#,
                        num(x),
                        num(cy),
                        num(x + LEGEND_KEY),
                        num(cy)
                    );
                }
            }
            doc.text(
                "legend-label",
                x + LEGEND_KEY + 6.0,
                cy + LABEL_FONT * 0.35,
                &e.label,
                LABEL_FONT,
                Anchor::Start,
                None,
                "",
            );
            x += legend_entry_width(e);
        }
    }
}

/// Plot area in pixels.
#[derive(Debug, Clone, Copy)]
struct Area {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Area {
    fn width(&self) -> f64 {
        self.x1 - self.x0
    }
    fn height(&self) -> f64 {
        self.y1 - self.y0
    }
}

/// Everything around the plot area.
struct Chrome {
    legend: Vec<Vec<LegendEntry>>,
    area: Area,
    footnote: Option<String>,
}

/// Works out the plot area from the frame, the widest left-hand label, the
/// space the x tick labels need, what sits right of the plot, the legend and
/// the notes.
fn layout(
    frame: &Frame,
    left_labels_width: f64,
    x_tick_space: f64,
    right_space: f64,
    legend: &[LegendEntry],
    notes: &[String],
) -> Chrome {
    let y_label_space = if frame.y_label.is_empty() { 0.0 } else { 22.0 };
    let left = (10.0 + y_label_space + left_labels_width + 10.0).min(frame.width * 0.4);
    let right = 16.0 + right_space;
    let rows = legend_rows(legend, frame.width - left - right);
    let title_space = if frame.title.is_empty() { 0.0 } else { 26.0 };
    let top = 10.0 + title_space + rows.len() as f64 * LEGEND_ROW + 6.0;
    let footnote = footnote_text(frame, notes);
    let x_label_space = if frame.x_label.is_empty() { 0.0 } else { 22.0 };
    let note_space = if footnote.is_some() { 16.0 } else { 0.0 };
    let bottom = (x_tick_space + x_label_space + note_space + 8.0).min(frame.height * 0.5);
    Chrome {
        legend: rows,
        area: Area {
            x0: left,
            y0: top,
            x1: frame.width - right,
            y1: frame.height - bottom,
        },
        footnote,
    }
}

fn footnote_text(frame: &Frame, notes: &[String]) -> Option<String> {
    if notes.is_empty() {
        return None;
    }
    let max_chars = ((frame.width - 20.0) / (NOTE_FONT * 0.6)) as usize;
    Some(truncate(&notes.join("; "), max_chars))
}

/// Title, legend, axis labels and footnote.
fn draw_chrome(doc: &mut Doc, frame: &Frame, chrome: &Chrome) {
    if !frame.title.is_empty() {
        doc.text(
            "title",
            frame.width / 2.0,
            10.0 + TITLE_FONT + 2.0,
            &frame.title,
            TITLE_FONT,
            Anchor::Middle,
            None,
            r#" font-weight="bold""#,
        );
    }
    let legend_top = if frame.title.is_empty() { 10.0 } else { 36.0 };
    draw_legend(doc, &chrome.legend, chrome.area.x0, legend_top);
    let a = chrome.area;
    let note_space = if chrome.footnote.is_some() { 16.0 } else { 0.0 };
    if !frame.x_label.is_empty() {
        doc.text(
            "axis-label",
            (a.x0 + a.x1) / 2.0,
            frame.height - 10.0 - note_space,
            &frame.x_label,
            LABEL_FONT,
            Anchor::Middle,
            None,
            "",
        );
    }
    if !frame.y_label.is_empty() {
        doc.text(
            "axis-label",
            10.0 + LABEL_FONT,
            (a.y0 + a.y1) / 2.0,
            &frame.y_label,
            LABEL_FONT,
            Anchor::Middle,
            Some(-90.0),
            "",
        );
    }
    if let Some(note) = &chrome.footnote {
        doc.text(
            "footnote",
            10.0,
            frame.height - 6.0,
            note,
            NOTE_FONT,
            Anchor::Start,
            None,
            &format!(r#" fill="{NOTE_COLOUR}""#),
        );
    }
}

fn max_label_width(labels: &[String], size: f64) -> f64 {
    labels.iter().map(|l| text_width(l, size)).fold(0.0, f64::max)
}

/// Horizontal grid lines, y ticks and their labels, and the left and bottom
/// axis lines.
fn draw_y_axis(doc: &mut Doc, area: Area, axis: &Axis, ticks: &Ticks) {
    for (v, label) in ticks.values.iter().zip(&ticks.labels) {
        if !axis.contains(*v) {
            continue;
        }
        let y = axis.px(*v);
        doc.line("grid", area.x0, y, area.x1, y, GRID_COLOUR, 1.0);
        doc.line("tick", area.x0 - 5.0, y, area.x0, y, AXIS_COLOUR, 1.0);
        doc.text(
            "tick-label",
            area.x0 - 8.0,
            y + TICK_FONT * 0.35,
            label,
            TICK_FONT,
            Anchor::End,
            None,
            "",
        );
    }
    draw_axis_lines(doc, area);
}

fn draw_axis_lines(doc: &mut Doc, area: Area) {
    doc.line("axis", area.x0, area.y0, area.x0, area.y1, AXIS_COLOUR, 1.0);
    doc.line("axis", area.x0, area.y1, area.x1, area.y1, AXIS_COLOUR, 1.0);
}

/// Numeric x ticks and labels below the plot.
fn draw_x_ticks(doc: &mut Doc, area: Area, axis: &Axis, ticks: &Ticks) {
    for (v, label) in ticks.values.iter().zip(&ticks.labels) {
        if !axis.contains(*v) {
            continue;
        }
        let x = axis.px(*v);
        doc.line("tick", x, area.y1, x, area.y1 + 5.0, AXIS_COLOUR, 1.0);
        doc.text(
            "tick-label",
            x,
            area.y1 + 8.0 + TICK_FONT,
            label,
            TICK_FONT,
            Anchor::Middle,
            None,
            "",
        );
    }
}

/// How much room categorical labels need below the axis, and whether they
/// are rotated.
fn category_label_space(labels: &[String], band: f64) -> (f64, bool) {
    let w = max_label_width(labels, TICK_FONT);
    if w <= band * 0.9 {
        (8.0 + TICK_FONT + 4.0, false)
    } else {
        (8.0 + (w + TICK_FONT) * std::f64::consts::FRAC_1_SQRT_2 + 4.0, true)
    }
}

fn draw_x_categories(doc: &mut Doc, area: Area, labels: &[String], rotate: bool) {
    let band = area.width() / labels.len().max(1) as f64;
    for (i, label) in labels.iter().enumerate() {
        let x = area.x0 + (i as f64 + 0.5) * band;
        doc.line("tick", x, area.y1, x, area.y1 + 5.0, AXIS_COLOUR, 1.0);
        if rotate {
            let (tx, ty) = (x + 3.0, area.y1 + 10.0);
            doc.text("tick-label", tx, ty, label, TICK_FONT, Anchor::End, Some(-45.0), "");
        } else {
            doc.text(
                "tick-label",
                x,
                area.y1 + 8.0 + TICK_FONT,
                label,
                TICK_FONT,
                Anchor::Middle,
                None,
                "",
            );
        }
    }
}

fn draw_reference(doc: &mut Doc, area: Area, axis: &Axis, y: f64) {
    if !axis.contains(y) {
        return;
    }
    let py = axis.px(y);
    let _ = writeln!(
        doc.body,
        r#"<line class="reference" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{NOTE_COLOUR}" stroke-width="1.2" stroke-dasharray="5 3"/>"#,
        num(area.x0),
        num(py),
        num(area.x1),
        num(py)
    );
}

fn draw_no_data(doc: &mut Doc, area: Area) {
    doc.text(
        "empty",
        (area.x0 + area.x1) / 2.0,
        (area.y0 + area.y1) / 2.0,
        "no data",
        LABEL_FONT,
        Anchor::Middle,
        None,
        &format!(r#" fill="{NOTE_COLOUR}""#),
    );
}

fn reference_entry(y: f64) -> LegendEntry {
    LegendEntry {
        key: Key::Reference,
        label: format!("y = {}", compact(y)),
    }
}

fn check_reference(reference: Option<f64>) -> Result<(), ReportError> {
    match reference {
        Some(r) if !r.is_finite() => Err(ReportError::Invalid {
            what: "reference line".into(),
            problem: format!("y = {r}"),
        }),
        _ => Ok(()),
    }
}

/// A mean to draw, with the SEM of its error bar if it has one.
type Drawable = Option<(f64, Option<f64>)>;

/// Checks a mean ± SEM; returns the SEM to draw (None = no bar) and adds
/// notes for what is dropped. Returns None overall when the mean is unusable.
fn usable_mean_sem(ms: Option<MeanSem>, series: &str, category: &str, notes: &mut Vec<String>) -> Drawable {
    let Some(ms) = ms else {
        notes.push(format!("{series}, {category}: no value"));
        return None;
    };
    if !ms.mean.is_finite() {
        notes.push(format!("{series}, {category}: non-finite mean, not drawn"));
        return None;
    }
    if ms.sem.is_finite() && ms.sem >= 0.0 {
        Some((ms.mean, Some(ms.sem)))
    } else {
        notes.push(format!(
            "{series}, {category}: SEM missing or invalid, drawn without error bar"
        ));
        Some((ms.mean, None))
    }
}

fn check_len(what: String, expected: usize, got: usize) -> Result<(), ReportError> {
    if expected == got {
        Ok(())
    } else {
        Err(ReportError::Shape { what, expected, got })
    }
}

fn y_ticks_target(frame: &Frame) -> usize {
    ((frame.height / 70.0).round() as usize).clamp(3, 8)
}

// ---------------------------------------------------------------------------
// compare_means

/// The frame of a categorical plot: layout (band width estimated from the
/// frame before the exact layout), y axis, category labels and the optional
/// reference line.
fn categorical_frame(
    frame: &Frame,
    ticks: &Ticks,
    (lo, hi): (f64, f64),
    labels: &[String],
    legend: &[LegendEntry],
    notes: &[String],
    reference_y: Option<f64>,
) -> (Doc, Chrome, Axis) {
    let left_w = max_label_width(&ticks.labels, TICK_FONT);
    let approx_band = (frame.width - left_w - 60.0) / labels.len().max(1) as f64;
    let (x_space, rotate) = category_label_space(labels, approx_band);
    let chrome = layout(frame, left_w, x_space, 0.0, legend, notes);
    let area = chrome.area;
    let axis = Axis {
        lo,
        hi,
        log: false,
        p0: area.y1,
        p1: area.y0,
    };
    let mut doc = Doc::new(frame);
    draw_y_axis(&mut doc, area, &axis, ticks);
    draw_x_categories(&mut doc, area, labels, rotate);
    if let Some(r) = reference_y {
        draw_reference(&mut doc, area, &axis, r);
    }
    (doc, chrome, axis)
}

/// Means ± SEM per category for several series (e.g. in silico and in vitro
/// per protocol), side by side, with an optional dashed horizontal reference
/// line (`Some(1.0)` for EPSP ratios).
///
/// Series `s` is drawn in colour and shape `s` (circle, square, triangle,
/// diamond); each mean is one element of class `mark`, each error bar one
/// path of class `errorbar`. Category labels are rotated by 45° when they do
/// not fit horizontally. `None` entries, non-finite means and means outside
/// a fixed y range are left out and noted.
pub fn compare_means<S: AsRef<str>>(
    frame: &Frame,
    categories: &[S],
    series: &[CategorySeries],
    reference_y: Option<f64>,
) -> Result<Plot, ReportError> {
    frame.validate()?;
    check_reference(reference_y)?;
    for s in series {
        check_len(
            format!("series '{}' values per category", s.name),
            categories.len(),
            s.values.len(),
        )?;
    }
    let labels: Vec<String> = categories.iter().map(|c| c.as_ref().to_string()).collect();
    let mut notes = Vec::new();

    // What can be drawn, per series and category.
    let mut items: Vec<Vec<Drawable>> = Vec::new();
    let mut extent = Extent::default();
    for s in series {
        let mut row = Vec::new();
        for (c, ms) in labels.iter().zip(&s.values) {
            let item = usable_mean_sem(*ms, &s.name, c, &mut notes);
            if let Some((m, e)) = item {
                extent.add_with_error(m, e);
            }
            row.push(item);
        }
        items.push(row);
    }
    if let Some(r) = reference_y {
        extent.add(r);
    }
    let (lo, hi, ticks) = linear_domain(extent, frame.y_range, y_ticks_target(frame));
    if frame.y_range.is_some() {
        for (s, row) in series.iter().zip(items.iter_mut()) {
            for (c, item) in labels.iter().zip(row.iter_mut()) {
                if let Some((m, _)) = *item {
                    if m < lo || m > hi {
                        notes.push(format!(
                            "{}, {c}: mean {} outside the y range, not drawn",
                            s.name,
                            compact(m)
                        ));
                        *item = None;
                    }
                }
            }
        }
    }

    let mut legend: Vec<LegendEntry> = series
        .iter()
        .enumerate()
        .map(|(i, s)| LegendEntry {
            key: Key::Marker(SHAPES[i % SHAPES.len()], PALETTE[i % PALETTE.len()]),
            label: s.name.clone(),
        })
        .collect();
    if let Some(r) = reference_y {
        legend.push(reference_entry(r));
    }

    let (mut doc, chrome, axis) = categorical_frame(frame, &ticks, (lo, hi), &labels, &legend, &notes, reference_y);
    let area = chrome.area;
    let band = area.width() / labels.len().max(1) as f64;
    let n = series.len().max(1) as f64;
    let spacing = (band * 0.7 / n).min(14.0);
    let mut drawn = 0usize;
    for (s, row) in items.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let shape = SHAPES[s % SHAPES.len()];
        let offset = (s as f64 - (n - 1.0) / 2.0) * spacing;
        for (c, item) in row.iter().enumerate() {
            let Some((m, e)) = *item else { continue };
            let x = area.x0 + (c as f64 + 0.5) * band + offset;
            if let Some(e) = e {
                if e > 0.0 {
                    let y_lo = axis.px_clamped(m - e);
                    let y_hi = axis.px_clamped(m + e);
                    doc.error_bar(x, y_lo, y_hi, 3.5, colour);
                }
            }
            doc.marker("mark", shape, x, axis.px(m), 4.0, colour, colour);
            drawn += 1;
        }
    }
    if drawn == 0 {
        draw_no_data(&mut doc, area);
    }
    draw_chrome(&mut doc, frame, &chrome);
    Ok(Plot {
        svg: doc.finish(&notes),
        notes,
    })
}

// ---------------------------------------------------------------------------
// distributions

/// Quartiles by linear interpolation between order statistics (the
/// "type 7" definition); `sorted` must be sorted and non-empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let i = h.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (h - i as f64) * (sorted[j] - sorted[i])
}

/// Deterministic pseudo-random number in [-1, 1) from a seed and two indices
/// (a SplitMix64 finaliser over the mixed inputs).
fn jitter(seed: u64, a: usize, b: usize) -> f64 {
    let mut z = seed
        ^ (a as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Per category, the individual values (e.g. one EPSP ratio per connection)
/// as a strip plot with deterministic jitter and/or a box plot; the mean of
/// each category is a white diamond (class `mean`).
///
/// Each value drawn as a point is one `<circle class="point">`; a box plot
/// adds one `box`, `median` and `whisker` element per non-empty category and
/// one `outlier` circle per value beyond the whiskers (box-only style).
/// Non-finite values are left out and counted in the notes. An optional
/// overlay series (e.g. in vitro mean ± SEM) is drawn right of each
/// category as a `mark` with an `errorbar`.
pub fn distributions<S: AsRef<str>>(
    frame: &Frame,
    categories: &[S],
    values: &[Vec<f64>],
    options: &DistributionOptions,
) -> Result<Plot, ReportError> {
    frame.validate()?;
    check_reference(options.reference_y)?;
    check_len("value lists per category".into(), categories.len(), values.len())?;
    if let Some(o) = &options.overlay {
        check_len(
            format!("overlay '{}' values per category", o.name),
            categories.len(),
            o.values.len(),
        )?;
    }
    let labels: Vec<String> = categories.iter().map(|c| c.as_ref().to_string()).collect();
    let mut notes = Vec::new();
    let mut extent = Extent::default();

    // Finite values per category, in input order (for the jitter), and sorted.
    let mut finite: Vec<Vec<f64>> = Vec::with_capacity(values.len());
    for (c, v) in labels.iter().zip(values) {
        let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if f.len() < v.len() {
            notes.push(format!("{c}: {} non-finite value(s) left out", v.len() - f.len()));
        }
        if f.is_empty() {
            notes.push(format!("{c}: no value"));
        }
        f.iter().for_each(|x| extent.add(*x));
        finite.push(f);
    }
    let mut overlay_items: Vec<Drawable> = vec![None; labels.len()];
    if let Some(o) = &options.overlay {
        for (i, (c, ms)) in labels.iter().zip(&o.values).enumerate() {
            overlay_items[i] = usable_mean_sem(*ms, &o.name, c, &mut notes);
            if let Some((m, e)) = overlay_items[i] {
                extent.add_with_error(m, e);
            }
        }
    }
    if let Some(r) = options.reference_y {
        extent.add(r);
    }
    let (lo, hi, ticks) = linear_domain(extent, frame.y_range, y_ticks_target(frame));
    if frame.y_range.is_some() {
        for (c, f) in labels.iter().zip(finite.iter_mut()) {
            let before = f.len();
            f.retain(|x| *x >= lo && *x <= hi);
            if f.len() < before {
                notes.push(format!(
                    "{c}: {} value(s) outside the y range left out",
                    before - f.len()
                ));
            }
        }
        if let Some(o) = &options.overlay {
            for (c, item) in labels.iter().zip(overlay_items.iter_mut()) {
                if let Some((m, _)) = *item {
                    if m < lo || m > hi {
                        notes.push(format!(
                            "{}, {c}: mean {} outside the y range, not drawn",
                            o.name,
                            compact(m)
                        ));
                        *item = None;
                    }
                }
            }
        }
    }

    let colour = PALETTE[0];
    let overlay_colour = PALETTE[1];
    let mut legend = Vec::new();
    let strip = options.style != DistributionStyle::Box;
    let boxes = options.style != DistributionStyle::Strip;
    if strip {
        legend.push(LegendEntry {
            key: Key::Points(colour),
            label: options.points_label.clone(),
        });
    }
    if boxes {
        legend.push(LegendEntry {
            key: Key::Box(colour),
            label: "median, quartiles, 1.5 IQR".into(),
        });
    }
    legend.push(LegendEntry {
        key: Key::Mean,
        label: "mean".into(),
    });
    if let Some(o) = &options.overlay {
        legend.push(LegendEntry {
            key: Key::Marker(Shape::Square, overlay_colour),
            label: o.name.clone(),
        });
    }
    if let Some(r) = options.reference_y {
        legend.push(reference_entry(r));
    }

    let (mut doc, chrome, axis) =
        categorical_frame(frame, &ticks, (lo, hi), &labels, &legend, &notes, options.reference_y);
    let area = chrome.area;
    let band = area.width() / labels.len().max(1) as f64;
    let half = (band * 0.22).min(18.0);
    let mut drawn = 0usize;
    for (c, f) in finite.iter().enumerate() {
        let xc = area.x0 + (c as f64 + 0.5) * band;
        if f.is_empty() {
            continue;
        }
        let mut sorted = f.clone();
        sorted.sort_by(f64::total_cmp);
        let (q1, med, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.5), quantile(&sorted, 0.75));
        let iqr = q3 - q1;
        let (fence_lo, fence_hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
        if boxes {
            let w_lo = sorted.iter().copied().find(|x| *x >= fence_lo).unwrap_or(q1);
            let w_hi = sorted.iter().rev().copied().find(|x| *x <= fence_hi).unwrap_or(q3);
            let d = format!(
                "M{x} {a}V{b}M{x} {c}V{e}M{l} {a}H{r}M{l} {e}H{r}",
                x = num(xc),
                a = num(axis.px(w_lo)),
                b = num(axis.px(q1)),
                c = num(axis.px(q3)),
                e = num(axis.px(w_hi)),
                l = num(xc - half * 0.5),
                r = num(xc + half * 0.5)
            );
            doc.path(
                "whisker",
                &d,
                &format!(r#"fill="none" stroke="{colour}" stroke-width="1.2""#),
            );
            doc.rect(
                "box",
                xc - half,
                axis.px(q3),
                2.0 * half,
                axis.px(q1) - axis.px(q3),
                colour,
                &format!(r#" fill-opacity="0.18" stroke="{colour}" stroke-width="1.2""#),
            );
            doc.line("median", xc - half, axis.px(med), xc + half, axis.px(med), colour, 2.0);
            if !strip {
                for &v in sorted.iter().filter(|v| **v < fence_lo || **v > fence_hi) {
                    let _ = writeln!(
                        doc.body,
                        r#"<circle class="outlier" cx="{}" cy="{}" r="2.50" fill="none" stroke="{colour}" stroke-width="1"/>"#,
                        num(xc),
                        num(axis.px(v))
                    );
                }
            }
        }
        if strip {
            for (i, &v) in f.iter().enumerate() {
                let dx = jitter(options.jitter_seed, c, i) * half;
                let _ = writeln!(
                    doc.body,
                    r#"<circle class="point" cx="{}" cy="{}" r="2.50" fill="{colour}" fill-opacity="0.55"/>"#,
                    num(xc + dx),
                    num(axis.px(v))
                );
            }
        }
        let m = f.iter().sum::<f64>() / f.len() as f64;
        doc.marker("mean", Shape::Diamond, xc, axis.px(m), 4.0, "#ffffff", "#000000");
        drawn += 1;
    }
    for (c, item) in overlay_items.iter().enumerate() {
        let Some((m, e)) = *item else { continue };
        let x = area.x0 + (c as f64 + 0.5) * band + half + 8.0;
        if let Some(e) = e {
            if e > 0.0 {
                doc.error_bar(x, axis.px_clamped(m - e), axis.px_clamped(m + e), 3.5, overlay_colour);
            }
        }
        doc.marker(
            "mark",
            Shape::Square,
            x,
            axis.px(m),
            4.0,
            overlay_colour,
            overlay_colour,
        );
        drawn += 1;
    }
    if drawn == 0 {
        draw_no_data(&mut doc, area);
    }
    draw_chrome(&mut doc, frame, &chrome);
    Ok(Plot {
        svg: doc.finish(&notes),
        notes,
    })
}

// ---------------------------------------------------------------------------
// lines

/// x–y series (e.g. EPSP ratio against pairing frequency), each a polyline
/// through its points sorted by x, with markers (class `mark`) and optional
/// error bars (class `errorbar`); log x on request.
///
/// Points with a non-finite x or y, or x ≤ 0 on a log axis, or y outside a
/// fixed y range, are left out and noted; a non-finite or negative error
/// draws the point without a bar.
pub fn lines(frame: &Frame, series: &[XySeries], options: &LinesOptions) -> Result<Plot, ReportError> {
    frame.validate()?;
    check_reference(options.reference_y)?;
    let mut notes = Vec::new();
    let mut x_extent = Extent::default();
    let mut y_extent = Extent::default();
    let mut kept: Vec<Vec<(f64, f64, Option<f64>)>> = Vec::new();
    for s in series {
        let mut pts = Vec::new();
        for (k, p) in s.points.iter().enumerate() {
            if !p.x.is_finite() || !p.y.is_finite() {
                notes.push(format!(
                    "{}: point {} has a non-finite coordinate, left out",
                    s.name,
                    k + 1
                ));
                continue;
            }
            if options.log_x && p.x <= 0.0 {
                notes.push(format!(
                    "{}: point at x = {} left out of the log axis",
                    s.name,
                    compact(p.x)
                ));
                continue;
            }
            let err = match p.err {
                Some(e) if e.is_finite() && e >= 0.0 => Some(e),
                Some(_) => {
                    notes.push(format!(
                        "{}: error at x = {} invalid, drawn without error bar",
                        s.name,
                        compact(p.x)
                    ));
                    None
                }
                None => None,
            };
            pts.push((p.x, p.y, err));
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        kept.push(pts);
    }
    if let Some((lo, hi)) = frame.y_range {
        for (s, pts) in series.iter().zip(kept.iter_mut()) {
            let before = pts.len();
            pts.retain(|p| p.1 >= lo && p.1 <= hi);
            if pts.len() < before {
                notes.push(format!(
                    "{}: {} point(s) outside the y range left out",
                    s.name,
                    before - pts.len()
                ));
            }
        }
    }
    for pts in &kept {
        for &(x, y, e) in pts {
            x_extent.add(x);
            y_extent.add_with_error(y, e);
        }
    }
    if let Some(r) = options.reference_y {
        y_extent.add(r);
    }
    let (ylo, yhi, yticks) = linear_domain(y_extent, frame.y_range, y_ticks_target(frame));
    let x_target = ((frame.width / 100.0).round() as usize).clamp(3, 10);
    let (xlo, xhi, xticks) = if options.log_x {
        log_domain(x_extent)
    } else {
        linear_domain(x_extent, None, x_target)
    };

    let mut legend: Vec<LegendEntry> = series
        .iter()
        .enumerate()
        .map(|(i, s)| LegendEntry {
            key: Key::Line(SHAPES[i % SHAPES.len()], PALETTE[i % PALETTE.len()]),
            label: s.name.clone(),
        })
        .collect();
    if let Some(r) = options.reference_y {
        legend.push(reference_entry(r));
    }
    let left_w = max_label_width(&yticks.labels, TICK_FONT);
    let chrome = layout(frame, left_w, 8.0 + TICK_FONT + 4.0, 0.0, &legend, &notes);
    let area = chrome.area;
    let yaxis = Axis {
        lo: ylo,
        hi: yhi,
        log: false,
        p0: area.y1,
        p1: area.y0,
    };
    let xaxis = Axis {
        lo: xlo,
        hi: xhi,
        log: options.log_x,
        p0: area.x0,
        p1: area.x1,
    };

    let mut doc = Doc::new(frame);
    draw_y_axis(&mut doc, area, &yaxis, &yticks);
    draw_x_ticks(&mut doc, area, &xaxis, &xticks);
    if let Some(r) = options.reference_y {
        draw_reference(&mut doc, area, &yaxis, r);
    }
    let mut drawn = 0usize;
    for (s, pts) in kept.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let shape = SHAPES[s % SHAPES.len()];
        if pts.len() >= 2 {
            let coords: Vec<String> = pts
                .iter()
                .map(|&(x, y, _)| format!("{},{}", num(xaxis.px(x)), num(yaxis.px(y))))
                .collect();
            let _ = writeln!(
                doc.body,
                r#"<polyline class="line" points="{}" fill="none" stroke="{colour}" stroke-width="1.8"/>"#,
                coords.join(" ")
            );
        }
        for &(x, y, e) in pts {
            let px = xaxis.px(x);
            if let Some(e) = e {
                if e > 0.0 {
                    doc.error_bar(px, yaxis.px_clamped(y - e), yaxis.px_clamped(y + e), 3.5, colour);
                }
            }
            doc.marker("mark", shape, px, yaxis.px(y), 3.5, colour, colour);
            drawn += 1;
        }
    }
    if drawn == 0 {
        draw_no_data(&mut doc, area);
    }
    draw_chrome(&mut doc, frame, &chrome);
    Ok(Plot {
        svg: doc.finish(&notes),
        notes,
    })
}

// ---------------------------------------------------------------------------
// heatmap

/// Colour ramp from blue (t = −1) through near-white (t = 0) to red (t = 1).
const RAMP: [(f64, [f64; 3]); 5] = [
    (-1.0, [38.0, 84.0, 160.0]),
    (-0.5, [132.0, 172.0, 214.0]),
    (0.0, [246.0, 246.0, 246.0]),
    (0.5, [232.0, 150.0, 124.0]),
    (1.0, [170.0, 28.0, 42.0]),
];

/// Colour of `t` in [-1, 1] (clamped) as `#rrggbb`.
fn diverging(t: f64) -> String {
    let t = t.clamp(-1.0, 1.0);
    let k = RAMP.windows(2).position(|w| t <= w[1].0).unwrap_or(RAMP.len() - 2);
    let (t0, c0) = RAMP[k];
    let (t1, c1) = RAMP[k + 1];
    let f = (t - t0) / (t1 - t0);
    let ch = |i: usize| (c0[i] + f * (c1[i] - c0[i])).round().clamp(0.0, 255.0) as u8;
    format!("#{:02x}{:02x}{:02x}", ch(0), ch(1), ch(2))
}

/// Relative luminance proxy of a `#rrggbb` colour, 0-255.
fn luminance(hex: &str) -> f64 {
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0) as f64;
    0.299 * c(1) + 0.587 * c(3) + 0.114 * c(5)
}

/// A grid of values over x (columns) and y (rows): `z[j][i]` is the value at
/// `(x[i], y[j])`, row 0 at the bottom. Colours follow a diverging map
/// centred on `options.center` (white), blue below and red above, with a
/// colour bar. Each cell is one `<rect class="cell">`, or
/// `<rect class="cell-missing">` in grey when its value is NaN or infinite; those
/// cells are listed in the notes and the footnote.
pub fn heatmap(
    frame: &Frame,
    x: &[f64],
    y: &[f64],
    z: &[Vec<f64>],
    options: &HeatmapOptions,
) -> Result<Plot, ReportError> {
    frame.validate()?;
    check_len("heatmap rows (one per y value)".into(), y.len(), z.len())?;
    for (j, row) in z.iter().enumerate() {
        check_len(format!("heatmap row {j} (one per x value)"), x.len(), row.len())?;
    }
    if let Some(v) = x.iter().chain(y).find(|v| !v.is_finite()) {
        return Err(ReportError::Invalid {
            what: "heatmap coordinates".into(),
            problem: format!("{v} among the x or y values"),
        });
    }
    if !options.center.is_finite() {
        return Err(ReportError::Invalid {
            what: "heatmap centre".into(),
            problem: format!("{}", options.center),
        });
    }
    if let Some(h) = options.half_range {
        if !(h.is_finite() && h > 0.0) {
            return Err(ReportError::Invalid {
                what: "heatmap half range".into(),
                problem: format!("{h}; need a finite value > 0"),
            });
        }
    }
    let c = options.center;
    let mut notes = Vec::new();
    let mut missing = Vec::new();
    let mut max_dev: f64 = 0.0;
    for (j, row) in z.iter().enumerate() {
        for (i, v) in row.iter().enumerate() {
            if v.is_finite() {
                max_dev = max_dev.max((v - c).abs());
            } else {
                missing.push(format!("({}, {})", compact(x[i]), compact(y[j])));
            }
        }
    }
    let h = options.half_range.unwrap_or(if max_dev > 0.0 { max_dev } else { 1.0 });
    if !missing.is_empty() {
        notes.push(format!("grey: no value at (x, y) = {}", missing.join(", ")));
    }
    let clipped = z
        .iter()
        .flatten()
        .filter(|v| v.is_finite() && (*v - c).abs() > h * (1.0 + 1e-12))
        .count();
    if clipped > 0 {
        notes.push(format!(
            "{clipped} value(s) beyond {} ± {} drawn in the end colour",
            compact(c),
            compact(h)
        ));
    }

    let x_labels: Vec<String> = x.iter().map(|v| compact(*v)).collect();
    let y_labels: Vec<String> = y.iter().map(|v| compact(*v)).collect();
    let bar_ticks = linear_ticks(c - h, c + h, 4);
    let bar_w = 14.0;
    let bar_label_w = max_label_width(&bar_ticks.labels, TICK_FONT);
    let z_label_space = if options.z_label.is_empty() { 0.0 } else { 20.0 };
    let right_space = 18.0 + bar_w + 8.0 + bar_label_w + 6.0 + z_label_space;
    let left_w = max_label_width(&y_labels, TICK_FONT);
    let approx_band = (frame.width - left_w - right_space - 60.0) / x.len().max(1) as f64;
    let (x_space, rotate) = category_label_space(&x_labels, approx_band);
    let chrome = layout(frame, left_w, x_space, right_space, &[], &notes);
    let area = chrome.area;

    let mut doc = Doc::new(frame);
    let cw = area.width() / x.len().max(1) as f64;
    let chh = area.height() / y.len().max(1) as f64;
    for (j, row) in z.iter().enumerate() {
        let top = area.y1 - (j as f64 + 1.0) * chh;
        for (i, &v) in row.iter().enumerate() {
            let left = area.x0 + i as f64 * cw;
            if v.is_finite() {
                let fill = diverging((v - c) / h);
                doc.rect(
                    "cell",
                    left,
                    top,
                    cw,
                    chh,
                    &fill,
                    r##" stroke="#ffffff" stroke-width="1""##,
                );
                if let Some(dec) = options.annotate {
                    let ink = if luminance(&fill) < 140.0 { "#ffffff" } else { "#000000" };
                    doc.text(
                        "cell-label",
                        left + cw / 2.0,
                        top + chh / 2.0 + TICK_FONT * 0.35,
                        &fixed(v, dec),
                        TICK_FONT,
                        Anchor::Middle,
                        None,
                        &format!(r#" fill="{ink}""#),
                    );
                }
            } else {
                doc.rect(
                    "cell-missing",
                    left,
                    top,
                    cw,
                    chh,
                    MISSING_FILL,
                    r##" stroke="#ffffff" stroke-width="1""##,
                );
            }
        }
    }
    if x.is_empty() || y.is_empty() {
        draw_no_data(&mut doc, area);
    }
    // y labels at row centres, x labels at column centres.
    for (j, label) in y_labels.iter().enumerate() {
        let cy = area.y1 - (j as f64 + 0.5) * chh;
        doc.line("tick", area.x0 - 5.0, cy, area.x0, cy, AXIS_COLOUR, 1.0);
        doc.text(
            "tick-label",
            area.x0 - 8.0,
            cy + TICK_FONT * 0.35,
            label,
            TICK_FONT,
            Anchor::End,
            None,
            "",
        );
    }
    draw_x_categories(&mut doc, area, &x_labels, rotate);
    draw_axis_lines(&mut doc, area);

    // Colour bar: stacked bands from c − h (bottom) to c + h (top).
    let bx = area.x1 + 18.0;
    let steps = 64;
    let step_h = area.height() / steps as f64;
    for k in 0..steps {
        let t = -1.0 + 2.0 * (k as f64 + 0.5) / steps as f64;
        let top = area.y1 - (k as f64 + 1.0) * step_h;
        // Slight overlap hides seams between bands.
        doc.rect("colorbar", bx, top, bar_w, step_h + 0.5, &diverging(t), "");
    }
    doc.rect(
        "colorbar-frame",
        bx,
        area.y0,
        bar_w,
        area.height(),
        "none",
        &format!(r#" stroke="{AXIS_COLOUR}" stroke-width="1""#),
    );
    let bar_axis = Axis {
        lo: c - h,
        hi: c + h,
        log: false,
        p0: area.y1,
        p1: area.y0,
    };
    for (v, label) in bar_ticks.values.iter().zip(&bar_ticks.labels) {
        let py = bar_axis.px(*v);
        doc.line("tick", bx + bar_w, py, bx + bar_w + 4.0, py, AXIS_COLOUR, 1.0);
        doc.text(
            "tick-label",
            bx + bar_w + 7.0,
            py + TICK_FONT * 0.35,
            label,
            TICK_FONT,
            Anchor::Start,
            None,
            "",
        );
    }
    if !options.z_label.is_empty() {
        doc.text(
            "axis-label",
            bx + bar_w + 8.0 + bar_label_w + 6.0 + LABEL_FONT,
            (area.y0 + area.y1) / 2.0,
            &options.z_label,
            LABEL_FONT,
            Anchor::Middle,
            Some(-90.0),
            "",
        );
    }
    draw_chrome(&mut doc, frame, &chrome);
    Ok(Plot {
        svg: doc.finish(&notes),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_fixed_and_signless_at_zero() {
        assert_eq!(num(1.0), "1.00");
        assert_eq!(num(-0.001), "0.00");
        assert_eq!(num(-0.0), "0.00");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(compact(10.0), "10");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(-0.0001), "0");
        assert_eq!(compact(-12.5), "-12.5");
    }

    #[test]
    fn escape_covers_markup_and_control_characters() {
        assert_eq!(escape(r#"<a & "b">'"#), "&lt;a &amp; &quot;b&quot;&gt;&#39;");
        assert_eq!(escape("x\u{1}y"), "x\u{FFFD}y");
    }

    #[test]
    fn nice_steps_and_ticks() {
        assert_eq!(nice_step(0.23), 0.5);
        assert_eq!(nice_step(0.2), 0.2);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        let t = linear_ticks(0.0, 2.0, 5);
        assert_eq!(t.labels, ["0.0", "0.5", "1.0", "1.5", "2.0"]);
        let (lo, hi, t) = linear_domain(Extent(Some((0.62, 1.57))), None, 5);
        assert!(lo <= 0.62 && hi >= 1.57);
        assert!(t.values.len() >= 3 && t.values.len() <= 9, "{:?}", t.labels);
        // A single value still gets a proper range.
        let (lo, hi, _) = linear_domain(Extent(Some((1.0, 1.0))), None, 5);
        assert!(lo < 1.0 && hi > 1.0);
    }

    #[test]
    fn log_ticks_are_decades_or_1_2_5() {
        let (lo, hi, t) = log_domain(Extent(Some((0.1, 100.0))));
        assert!(lo < 0.1 && hi > 100.0);
        assert_eq!(t.labels, ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "50", "100"]);
        let (_, _, t) = log_domain(Extent(Some((0.01, 1000.0))));
        assert_eq!(t.labels, ["0.01", "0.1", "1", "10", "100", "1000"]);
        let (lo, hi, t) = log_domain(Extent(Some((3.0, 4.0))));
        assert!(t.values.len() >= 2);
        assert!(t.values.iter().all(|v| *v >= lo && *v <= hi));
    }

    #[test]
    fn diverging_map_is_white_in_the_middle_and_ordered() {
        assert_eq!(diverging(0.0), "#f6f6f6");
        assert_eq!(diverging(-1.0), "#2654a0");
        assert_eq!(diverging(1.0), "#aa1c2a");
        assert_eq!(diverging(5.0), diverging(1.0));
        // Blue dominates below the centre, red above.
        let lo = diverging(-0.3);
        let hi = diverging(0.3);
        let ch = |s: &str, i: usize| u8::from_str_radix(&s[i..i + 2], 16).unwrap();
        assert!(ch(&lo, 5) > ch(&lo, 1));
        assert!(ch(&hi, 1) > ch(&hi, 5));
    }

    #[test]
    fn jitter_is_deterministic_and_bounded() {
        let a: Vec<f64> = (0..100).map(|i| jitter(7, 3, i)).collect();
        let b: Vec<f64> = (0..100).map(|i| jitter(7, 3, i)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(a.iter().any(|v| *v < -0.5) && a.iter().any(|v| *v > 0.5));
        assert_ne!(jitter(7, 3, 0), jitter(8, 3, 0));
    }

    #[test]
    fn quartiles_type7() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&s, 0.25), 1.75);
        assert_eq!(quantile(&s, 0.5), 2.5);
        assert_eq!(quantile(&s, 0.75), 3.25);
        assert_eq!(quantile(&[5.0], 0.5), 5.0);
    }
}
