//! A rule judged on in-vitro protocols: per protocol, the in-silico mean ±
//! SEM against the in-vitro one, and Welch's two-sided test between the
//! per-connection ratios and the published mean ± SEM over its n cells.

use super::stats::welch_sample_vs_summary;
use super::svg::{
    compare_means, distributions, lines, CategorySeries, DistributionOptions, DistributionStyle, Frame, LinesOptions,
    MeanSem, Plot, XyPoint, XySeries,
};
use super::ReportError;
use crate::protocol::{Exclusion, ProtocolResult};
use serde::Serialize;

/// Significance level of the validation table.
pub const ALPHA: f64 = 0.05;

/// Whether a protocol was fitted or held out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Train,
    Heldout,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Train => "train",
            Role::Heldout => "heldout",
        }
    }
}

/// A row of validation.csv. The Welch fields are empty when either side has
/// fewer than two values (a one-cell in-vitro result cannot be tested).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationRow {
    pub protocol_id: String,
    pub pathway: String,
    pub role: Role,
    pub cao_mm: f64,
    pub frequency_hz: f64,
    pub delta_t_ms: f64,
    pub n: usize,
    pub n_excluded: usize,
    pub insilico_mean: f64,
    pub insilico_sem: f64,
    pub invitro_mean: f64,
    pub invitro_sem: f64,
    pub invitro_n: usize,
    pub error_sem: f64,
    pub welch_t: Option<f64>,
    pub welch_df: Option<f64>,
    pub p_value: Option<f64>,
    pub significant_0_05: Option<bool>,
}

/// The validation row of one protocol's result, run at `cao_mm`.
pub fn validation_row(result: &ProtocolResult, role: Role, cao_mm: f64) -> ValidationRow {
    let s = result.summary();
    let p = &result.protocol;
    let welch = welch_sample_vs_summary(
        &result.ratios(),
        p.epsp_ratio_mean,
        p.epsp_ratio_sem,
        p.n_connections as usize,
    )
    .ok();
    ValidationRow {
        protocol_id: s.protocol_id,
        pathway: s.pathway,
        role,
        cao_mm,
        frequency_hz: p.frequency_hz,
        delta_t_ms: p.delta_t_ms,
        n: s.n_connections,
        n_excluded: s.n_excluded,
        insilico_mean: s.epsp_ratio_mean,
        insilico_sem: s.epsp_ratio_sem,
        invitro_mean: s.invitro_mean,
        invitro_sem: s.invitro_sem,
        invitro_n: p.n_connections as usize,
        error_sem: s.error_sem,
        welch_t: welch.map(|w| w.t),
        welch_df: welch.map(|w| w.df),
        p_value: welch.map(|w| w.p_value),
        significant_0_05: welch.map(|w| w.p_value < ALPHA),
    }
}

/// Excludes connections whose baseline EPSP (mV) is below `min_mv`, with
/// the reason, as some in-vitro studies did; returns how many were excluded.
pub fn exclude_small_baselines(result: &mut ProtocolResult, min_mv: f64) -> usize {
    let mut count = 0;
    for o in &mut result.outcomes {
        if let Ok(c) = o {
            if c.baseline_epsp_mv < min_mv {
                *o = Err(Exclusion {
                    connection_id: c.connection_id,
                    reason: format!(
                        "baseline EPSP {:.3} mV below the minimum {min_mv} mV",
                        c.baseline_epsp_mv
                    ),
                });
                count += 1;
            }
        }
    }
    count
}

fn mean_sem(mean: f64, sem: f64) -> Option<MeanSem> {
    (mean.is_finite() && sem.is_finite()).then_some(MeanSem { mean, sem })
}

/// In-silico vs in-vitro mean ± SEM per protocol.
pub fn means_figure(title: &str, rows: &[&ValidationRow]) -> Result<Plot, ReportError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.protocol_id.as_str()).collect();
    let series = vec![
        CategorySeries {
            name: "in silico".into(),
            values: rows.iter().map(|r| mean_sem(r.insilico_mean, r.insilico_sem)).collect(),
        },
        CategorySeries {
            name: "in vitro".into(),
            values: rows.iter().map(|r| mean_sem(r.invitro_mean, r.invitro_sem)).collect(),
        },
    ];
    let frame = Frame::new(title, "protocol", "EPSP ratio (after/before)").with_size(wide(ids.len()), 420.0);
    compare_means(&frame, &ids, &series, Some(1.0))
}

/// Per-connection EPSP ratios per protocol, with the in-vitro mean ± SEM beside.
pub fn distributions_figure(title: &str, results: &[&ProtocolResult]) -> Result<Plot, ReportError> {
    let ids: Vec<&str> = results.iter().map(|r| r.protocol.protocol_id.as_str()).collect();
    let values: Vec<Vec<f64>> = results.iter().map(|r| r.ratios()).collect();
    let options = DistributionOptions {
        style: DistributionStyle::BoxAndStrip,
        points_label: "in silico, one per connection".into(),
        reference_y: Some(1.0),
        overlay: Some(CategorySeries {
            name: "in vitro mean ± SEM".into(),
            values: results
                .iter()
                .map(|r| mean_sem(r.protocol.epsp_ratio_mean, r.protocol.epsp_ratio_sem))
                .collect(),
        }),
        jitter_seed: 1,
    };
    let frame = Frame::new(title, "protocol", "EPSP ratio (after/before)").with_size(wide(ids.len()), 420.0);
    distributions(&frame, &ids, &values, &options)
}

/// EPSP ratio against pairing frequency for one pathway's rows, one series
/// per Δt (and side), at a logarithmic frequency axis.
pub fn frequency_figure(pathway: &str, rows: &[&ValidationRow]) -> Result<Plot, ReportError> {
    let mut dts: Vec<f64> = rows.iter().map(|r| r.delta_t_ms).collect();
    dts.sort_by(f64::total_cmp);
    dts.dedup();
    let mut series = Vec::new();
    for dt in dts {
        let mut at: Vec<&&ValidationRow> = rows.iter().filter(|r| r.delta_t_ms == dt).collect();
        at.sort_by(|a, b| a.frequency_hz.total_cmp(&b.frequency_hz));
        let points = |f: fn(&ValidationRow) -> (f64, f64)| -> Vec<XyPoint> {
            at.iter()
                .map(|r| {
                    let (y, e) = f(r);
                    XyPoint {
                        x: r.frequency_hz,
                        y,
                        err: Some(e),
                    }
                })
                .collect()
        };
        series.push(XySeries {
            name: format!("in silico, Δt {dt:+} ms"),
            points: points(|r| (r.insilico_mean, r.insilico_sem)),
        });
        series.push(XySeries {
            name: format!("in vitro, Δt {dt:+} ms"),
            points: points(|r| (r.invitro_mean, r.invitro_sem)),
        });
    }
    let frame = Frame::new(
        format!("{pathway}: frequency dependence"),
        "pairing frequency (Hz)",
        "EPSP ratio (after/before)",
    );
    lines(
        &frame,
        &series,
        &LinesOptions {
            log_x: true,
            reference_y: Some(1.0),
        },
    )
}

/// In-silico means of the same protocols at several [Ca²⁺]o (rows grouped
/// by `cao_mm`, same protocol order in each group), with the in-vitro means.
pub fn cao_figure(groups: &[(f64, Vec<&ValidationRow>)]) -> Result<Plot, ReportError> {
    let Some((_, first)) = groups.first() else {
        return Err(ReportError::Invalid {
            what: "calcium comparison".into(),
            problem: "no calcium level".into(),
        });
    };
    let ids: Vec<&str> = first.iter().map(|r| r.protocol_id.as_str()).collect();
    let mut series: Vec<CategorySeries> = groups
        .iter()
        .map(|(cao, rows)| CategorySeries {
            name: format!("in silico, [Ca²⁺]o {cao} mM"),
            values: rows.iter().map(|r| mean_sem(r.insilico_mean, r.insilico_sem)).collect(),
        })
        .collect();
    series.push(CategorySeries {
        name: "in vitro".into(),
        values: first.iter().map(|r| mean_sem(r.invitro_mean, r.invitro_sem)).collect(),
    });
    let frame = Frame::new("In-vitro vs in-vivo calcium", "protocol", "EPSP ratio (after/before)")
        .with_size(wide(ids.len()), 420.0);
    compare_means(&frame, &ids, &series, Some(1.0))
}

/// Figure width that leaves each protocol label room.
fn wide(categories: usize) -> f64 {
    (160.0 + 38.0 * categories as f64).max(640.0)
}
