//! Validation reports: statistics, figures and documents.
//!
//! - [`stats`]: mean, SD, SEM and Welch's two-sided t-test, from samples or
//!   from a published mean ± SEM (how the held-out protocols are judged).
//! - [`svg`]: a small dependency-free SVG plotter for paper figures (means
//!   with error bars per protocol, per-connection distributions, x–y lines,
//!   heatmaps with a diverging colour map).
//! - [`document`]: tables as Markdown or HTML, and a self-contained HTML page
//!   (inline SVG, inline CSS, no scripts, no external resources).
//! - [`validation`]: the per-protocol validation table (Welch tests against
//!   the in-vitro mean ± SEM) and its figures.
//!
//! Everything here returns `String`s; writing files is the caller's job. All
//! output is deterministic: the same input gives the same bytes.

pub mod document;
pub mod stats;
pub mod svg;
pub mod validation;

pub use document::{Align, Block, Page, Section, Table};
pub use stats::{
    mean, sample_sd, sem, two_sided_p, welch_sample_vs_summary, welch_samples, welch_summaries, StatsError, Summary,
    WelchResult,
};
pub use svg::{
    compare_means, distributions, heatmap, lines, CategorySeries, DistributionOptions, DistributionStyle, Frame,
    HeatmapOptions, LinesOptions, MeanSem, Plot, XyPoint, XySeries,
};

/// A figure or table could not be built from the data given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// Two inputs that must match in length do not.
    #[error("{what}: expected {expected} entries, got {got}")]
    Shape { what: String, expected: usize, got: usize },
    /// An option is out of range.
    #[error("invalid {what}: {problem}")]
    Invalid { what: String, problem: String },
}
