//! Trace caches as open files: a manifest (JSON) of every connection's
//! constants and, per connection, CSV tables of calcium and EPSP
//! waveforms. `plastifit export-traces` writes them from a cache;
//! `plastifit import-traces` builds a cache from them, so traces recorded
//! with another simulator (e.g. NEURON's GluSynapse `cai_CR`) can be
//! replayed. The layout is documented in README.md ("Importing traces").

use super::bins::{bin_samples, coarsen_induction};
use super::cache::{
    CacheIdentity, ConnectionTraces, ProtocolTraces, SummationPoint, SynapseTraces, Timeline, TraceCache,
};
use crate::files::write_atomic;
use crate::pathway::Tree;
use crate::protocol::{Manipulation, ProtocolJob};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the manifest in an import folder.
pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "plastifit trace import 1";

/// The manifest: every protocol's connections, in the objective's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// Sampling interval of the EPSP waveform tables (ms).
    pub waveform_dt_ms: f64,
    pub protocols: Vec<ManifestProtocol>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestProtocol {
    pub protocol_id: String,
    pub connections: Vec<ManifestConnection>,
}

/// One connection under one protocol; an excluded one needs only its id
/// and reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestConnection {
    pub connection_id: usize,
    #[serde(default)]
    pub excluded: Option<String>,
    #[serde(default)]
    pub soma_rest_mv: f64,
    #[serde(default)]
    pub c01_start_ms: f64,
    #[serde(default)]
    pub induction_start_ms: f64,
    #[serde(default)]
    pub induction_end_ms: f64,
    #[serde(default)]
    pub synapses: Vec<SynapseConstants>,
    /// Peaks of the synapses releasing together against the linear sum of
    /// their waveforms (none: test EPSPs are summed linearly).
    #[serde(default)]
    pub summation: Vec<SummationPoint>,
    /// Tables, relative to the manifest's folder.
    #[serde(default)]
    pub files: Option<ConnectionFiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionFiles {
    pub calib_pre: PathBuf,
    pub calib_post: PathBuf,
    pub induction: PathBuf,
    pub epsp: PathBuf,
}

/// A synapse's constants (the fields of `SynapseTraces` that are not tables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynapseConstants {
    pub tree: Tree,
    pub rho0: u8,
    pub nrrp: u32,
    pub dep_ms: f64,
    pub fac_ms: f64,
    pub use0: f64,
    pub use_d: f64,
    pub use_p: f64,
    pub g_d_ns: f64,
    pub g_p_ns: f64,
    pub rest_excess_mm: f64,
    pub end_excess_mm: f64,
}

impl SynapseConstants {
    fn of(s: &SynapseTraces) -> SynapseConstants {
        SynapseConstants {
            tree: s.tree,
            rho0: s.rho0,
            nrrp: s.nrrp,
            dep_ms: s.dep_ms,
            fac_ms: s.fac_ms,
            use0: s.use0,
            use_d: s.use_d,
            use_p: s.use_p,
            g_d_ns: s.g_d_ns,
            g_p_ns: s.g_p_ns,
            rest_excess_mm: s.rest_excess_mm,
            end_excess_mm: s.end_excess_mm,
        }
    }

    fn with_tables(&self) -> SynapseTraces {
        SynapseTraces {
            tree: self.tree,
            rho0: self.rho0,
            nrrp: self.nrrp,
            dep_ms: self.dep_ms,
            fac_ms: self.fac_ms,
            use0: self.use0,
            use_d: self.use_d,
            use_p: self.use_p,
            g_d_ns: self.g_d_ns,
            g_p_ns: self.g_p_ns,
            rest_excess_mm: self.rest_excess_mm,
            calib_pre: Vec::new(),
            calib_post: Vec::new(),
            induction: Vec::new(),
            induction_moment: Vec::new(),
            nmda_drive: Vec::new(),
            end_excess_mm: self.end_excess_mm,
            epsp_depressed: Vec::new(),
            epsp_potentiated: Vec::new(),
        }
    }
}

/// Writes `cache` as an import folder (binned calcium tables).
pub fn export(cache: &TraceCache, dir: &Path) -> Result<()> {
    let mut manifest = Manifest {
        format: FORMAT.into(),
        waveform_dt_ms: cache.identity.settings.waveform_dt_ms,
        protocols: Vec::new(),
    };
    for p in &cache.protocols {
        let id = &p.protocol.protocol_id;
        let mut connections = Vec::new();
        for c in &p.connections {
            let files = c.excluded.is_none().then(|| {
                let name = |phase: &str| PathBuf::from(id).join(format!("connection_{}_{phase}.csv", c.connection.id));
                ConnectionFiles {
                    calib_pre: name("calib_pre"),
                    calib_post: name("calib_post"),
                    induction: name("induction"),
                    epsp: name("epsp"),
                }
            });
            if let Some(f) = &files {
                write_bins(&dir.join(&f.calib_pre), &c.calib_pre, &c.synapses, |s| {
                    (&s.calib_pre, None)
                })?;
                write_bins(&dir.join(&f.calib_post), &c.calib_post, &c.synapses, |s| {
                    (&s.calib_post, None)
                })?;
                write_bins(&dir.join(&f.induction), &c.induction, &c.synapses, |s| {
                    (&s.induction, Some((&s.induction_moment, &s.nmda_drive)))
                })?;
                write_epsps(&dir.join(&f.epsp), &c.synapses, manifest.waveform_dt_ms)?;
            }
            connections.push(ManifestConnection {
                connection_id: c.connection.id,
                excluded: c.excluded.clone(),
                soma_rest_mv: c.soma_rest_mv,
                c01_start_ms: c.c01_start_ms,
                induction_start_ms: c.induction_start_ms,
                induction_end_ms: c.induction_end_ms,
                synapses: c.synapses.iter().map(SynapseConstants::of).collect(),
                summation: c.summation.clone(),
                files,
            });
        }
        manifest.protocols.push(ManifestProtocol {
            protocol_id: id.clone(),
            connections,
        });
    }
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
}

/// Builds a cache from an import folder for the objective whose jobs and
/// identity are given: every protocol and connection of the jobs must be
/// there, in order, with one synapse per contact.
pub fn import(dir: &Path, identity: CacheIdentity, jobs: &[ProtocolJob], test_spikes: usize) -> Result<TraceCache> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| file_error(&path, e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(file_error(
            &path,
            format!("format '{}' (this program reads '{FORMAT}')", manifest.format),
        ));
    }
    let ids: Vec<&str> = manifest.protocols.iter().map(|p| p.protocol_id.as_str()).collect();
    let wanted: Vec<&str> = jobs.iter().map(|j| j.protocol.protocol_id.as_str()).collect();
    if ids != wanted {
        return Err(file_error(
            &path,
            format!("protocols {} (the objective has {})", ids.join(","), wanted.join(",")),
        ));
    }
    let mut protocols = Vec::new();
    for (mp, job) in manifest.protocols.iter().zip(jobs) {
        if mp.connections.len() != job.connections.len() {
            return Err(file_error(
                &path,
                format!(
                    "protocol {}: {} connections (the objective samples {})",
                    mp.protocol_id,
                    mp.connections.len(),
                    job.connections.len()
                ),
            ));
        }
        let connections = mp
            .connections
            .iter()
            .zip(&job.connections)
            .map(|(mc, conn)| import_connection(dir, &path, &manifest, mc, conn, job))
            .collect::<Result<Vec<_>>>()?;
        protocols.push(ProtocolTraces {
            protocol: job.protocol.clone(),
            pathway: job.pathway.clone(),
            g_scale: job.g_scale,
            block_depression: job.protocol.manipulation == Manipulation::Mk801Pre,
            test_spikes,
            connections,
        });
    }
    let cache = TraceCache { identity, protocols };
    cache.validate()?;
    Ok(cache)
}

fn import_connection(
    dir: &Path,
    manifest_path: &Path,
    manifest: &Manifest,
    mc: &ManifestConnection,
    conn: &crate::pathway::Connection,
    job: &ProtocolJob,
) -> Result<ConnectionTraces> {
    let id = &job.protocol.protocol_id;
    let problem = |p: String| {
        file_error(
            manifest_path,
            format!("protocol {id}, connection {}: {p}", mc.connection_id),
        )
    };
    if mc.connection_id != conn.id {
        return Err(problem(format!("expected connection {} here", conn.id)));
    }
    let mut c = ConnectionTraces {
        connection: conn.clone(),
        excluded: mc.excluded.clone(),
        soma_rest_mv: mc.soma_rest_mv,
        c01_start_ms: mc.c01_start_ms,
        induction_start_ms: mc.induction_start_ms,
        induction_end_ms: mc.induction_end_ms,
        calib_pre: empty_timeline(),
        calib_post: empty_timeline(),
        induction: empty_timeline(),
        synapses: Vec::new(),
        summation: mc.summation.clone(),
    };
    if c.excluded.is_some() {
        return Ok(c);
    }
    if mc.synapses.len() != conn.contacts.len() {
        return Err(problem(format!(
            "{} synapses (the connection has {} contacts)",
            mc.synapses.len(),
            conn.contacts.len()
        )));
    }
    let files = mc
        .files
        .as_ref()
        .ok_or_else(|| problem("no files for a connection that is not excluded".into()))?;
    c.synapses = mc.synapses.iter().map(SynapseConstants::with_tables).collect();
    let n = c.synapses.len();
    let (t, v) = read_calcium(&dir.join(&files.calib_pre), n, false)?;
    c.calib_pre = t;
    for (s, x) in c.synapses.iter_mut().zip(v) {
        s.calib_pre = x.values;
    }
    let (t, v) = read_calcium(&dir.join(&files.calib_post), n, false)?;
    c.calib_post = t;
    for (s, x) in c.synapses.iter_mut().zip(v) {
        s.calib_post = x.values;
    }
    let (t, v) = read_calcium(&dir.join(&files.induction), n, true)?;
    c.induction = t;
    let sampled = v.iter().any(|x| x.moments.is_none());
    for (s, x) in c.synapses.iter_mut().zip(v) {
        s.induction_moment = x.moments.clone().unwrap_or_else(|| vec![0.0; x.values.len()]);
        s.induction = x.values;
        s.nmda_drive = x.drive.unwrap_or_default();
    }
    if sampled {
        coarsen_induction(&mut c, &job.protocol, &Default::default());
    }
    let waves = read_epsps(&dir.join(&files.epsp), n, manifest.waveform_dt_ms)?;
    for (s, (d, p)) in c.synapses.iter_mut().zip(waves) {
        s.epsp_depressed = d;
        s.epsp_potentiated = p;
    }
    Ok(c)
}

fn empty_timeline() -> Timeline {
    Timeline {
        widths_ms: Vec::new(),
        gap: Vec::new(),
    }
}

fn file_error(file: &Path, problem: String) -> Error {
    Error::File {
        file: file.to_path_buf(),
        problem,
    }
}

type Tables<'a> = (&'a Vec<f32>, Option<(&'a Vec<f32>, &'a Vec<f32>)>);

/// A binned calcium table: `width_ms, quiet`, then per synapse k
/// `s{k}_cai_integral_mm_ms` (a quiet bin: the excess over rest at its
/// start, mM) and, for the induction, `s{k}_moment_mm_ms2` and (if
/// recorded) `s{k}_nmda_drive_mm_per_ms`.
fn write_bins(
    path: &Path,
    t: &Timeline,
    synapses: &[SynapseTraces],
    tables: impl Fn(&SynapseTraces) -> Tables<'_>,
) -> Result<()> {
    let mut header = vec!["width_ms".to_string(), "quiet".to_string()];
    for (k, s) in synapses.iter().enumerate() {
        header.push(format!("s{k}_cai_integral_mm_ms"));
        if let Some((_, drive)) = tables(s).1 {
            header.push(format!("s{k}_moment_mm_ms2"));
            if !drive.is_empty() {
                header.push(format!("s{k}_nmda_drive_mm_per_ms"));
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(|e| file_error(path, e.to_string()))?;
    for b in 0..t.len() {
        let mut row = vec![t.widths_ms[b].to_string(), u8::from(t.gap[b]).to_string()];
        for s in synapses {
            let (values, extra) = tables(s);
            row.push(values[b].to_string());
            if let Some((moments, drive)) = extra {
                row.push(moments[b].to_string());
                if !drive.is_empty() {
                    row.push(drive[b].to_string());
                }
            }
        }
        w.write_record(&row).map_err(|e| file_error(path, e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| file_error(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// `t_ms`, then per synapse `s{k}_depressed_mv` and `s{k}_potentiated_mv`.
fn write_epsps(path: &Path, synapses: &[SynapseTraces], dt: f64) -> Result<()> {
    let mut header = vec!["t_ms".to_string()];
    for k in 0..synapses.len() {
        header.push(format!("s{k}_depressed_mv"));
        header.push(format!("s{k}_potentiated_mv"));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(|e| file_error(path, e.to_string()))?;
    let len = synapses.first().map_or(0, |s| s.epsp_depressed.len());
    for i in 0..len {
        let mut row = vec![(i as f64 * dt).to_string()];
        for s in synapses {
            row.push(s.epsp_depressed[i].to_string());
            row.push(s.epsp_potentiated[i].to_string());
        }
        w.write_record(&row).map_err(|e| file_error(path, e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| file_error(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// One synapse's columns of a calcium table.
struct Calcium {
    values: Vec<f32>,
    moments: Option<Vec<f32>>,
    drive: Option<Vec<f32>>,
}

/// Reads a calcium table, binned (`width_ms, quiet, …`) or sampled
/// (`t_ms, s{k}_cai_mm, …`: cai every Δt, binned here as `bin_samples`).
fn read_calcium(path: &Path, n: usize, induction: bool) -> Result<(Timeline, Vec<Calcium>)> {
    let table = Table::read(path)?;
    if table.header.first().map(String::as_str) == Some("t_ms") {
        let cai: Vec<Vec<f64>> = (0..n)
            .map(|k| table.column(&format!("s{k}_cai_mm")))
            .collect::<Result<_>>()?;
        let dt = table.uniform_step("t_ms")?;
        let (t, values) = bin_samples(dt, &cai, &Default::default());
        let calcium = values
            .into_iter()
            .map(|values| Calcium {
                values,
                moments: None,
                drive: None,
            })
            .collect();
        return Ok((t, calcium));
    }
    let widths = table.column("width_ms")?;
    if let Some(row) = widths.iter().position(|w| *w <= 0.0) {
        return Err(table.cell_error(row, "width_ms", "a bin width must be > 0".into()));
    }
    let quiet = table.column("quiet")?;
    if let Some(row) = quiet.iter().position(|q| *q != 0.0 && *q != 1.0) {
        return Err(table.cell_error(row, "quiet", "must be 0 or 1".into()));
    }
    let calcium = (0..n)
        .map(|k| {
            let values = table.column_f32(&format!("s{k}_cai_integral_mm_ms"))?;
            let moments = if induction {
                Some(table.column_f32(&format!("s{k}_moment_mm_ms2"))?)
            } else {
                None
            };
            let drive_col = format!("s{k}_nmda_drive_mm_per_ms");
            let drive = if induction && table.has(&drive_col) {
                Some(table.column_f32(&drive_col)?)
            } else {
                None
            };
            Ok(Calcium { values, moments, drive })
        })
        .collect::<Result<Vec<_>>>()?;
    let t = Timeline {
        widths_ms: widths,
        gap: quiet.iter().map(|q| *q == 1.0).collect(),
    };
    Ok((t, calcium))
}

fn read_epsps(path: &Path, n: usize, dt: f64) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    let table = Table::read(path)?;
    let step = table.uniform_step("t_ms")?;
    if (step - dt).abs() > 1e-9 * dt {
        return Err(file_error(
            path,
            format!("t_ms steps by {step} ms; the manifest's waveform_dt_ms is {dt}"),
        ));
    }
    (0..n)
        .map(|k| {
            Ok((
                table.column_f32(&format!("s{k}_depressed_mv"))?,
                table.column_f32(&format!("s{k}_potentiated_mv"))?,
            ))
        })
        .collect()
}

/// A numeric CSV table read whole, for errors that name row and column.
struct Table {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn read(path: &Path) -> Result<Table> {
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| file_error(path, e.to_string()))?;
        let header = r
            .headers()
            .map_err(|e| file_error(path, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let rows = r
            .records()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| file_error(path, e.to_string()))?;
        if rows.is_empty() {
            return Err(file_error(path, "no rows".into()));
        }
        Ok(Table {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }

    /// Data row r (0-based) as the file's line number (the header is line 1).
    fn cell_error(&self, r: usize, column: &str, problem: String) -> Error {
        Error::Data {
            file: self.path.clone(),
            row: r + 2,
            column: column.into(),
            problem,
        }
    }

    fn column(&self, name: &str) -> Result<Vec<f64>> {
        self.parsed(name, f64::is_finite)
    }

    /// Single-precision columns parse straight to f32, so exported values
    /// come back bit for bit.
    fn column_f32(&self, name: &str) -> Result<Vec<f32>> {
        self.parsed(name, f32::is_finite)
    }

    fn parsed<T: std::str::FromStr + Copy>(&self, name: &str, finite: fn(T) -> bool) -> Result<Vec<T>> {
        let i = self
            .header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| file_error(&self.path, format!("missing column '{name}'")))?;
        self.rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let cell = row.get(i).unwrap_or("");
                match cell.parse::<T>() {
                    Ok(x) if finite(x) => Ok(x),
                    _ => Err(self.cell_error(r, name, format!("'{cell}' is not a finite number"))),
                }
            })
            .collect()
    }

    /// The constant step of an ascending time column.
    fn uniform_step(&self, name: &str) -> Result<f64> {
        let t = self.column(name)?;
        if t.len() < 2 {
            return Err(file_error(&self.path, format!("'{name}' needs at least two rows")));
        }
        let step = t[1] - t[0];
        for r in 1..t.len() {
            if step <= 0.0 || ((t[r] - t[r - 1]) - step).abs() > 1e-6 * step {
                return Err(self.cell_error(r, name, format!("samples must be evenly spaced (first step {step} ms)")));
            }
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synapse::{CAI_REST_MM, CAI_TAU_MS};

    #[test]
    fn sampled_calcium_tables_are_binned_into_the_exact_filter() {
        // cai = cai₀ + A·exp(−t/τ_Ca) every 0.1 ms for 150 ms, as NEURON
        // would record cai_CR: c* at the end for τ* has a closed form.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("induction.csv");
        let (a, dt, n) = (1e-3, 0.1, 1501);
        let mut text = String::from("t_ms,s0_cai_mm\n");
        for k in 0..n {
            let t = k as f64 * dt;
            text += &format!("{t},{}\n", CAI_REST_MM + a * (-t / CAI_TAU_MS).exp());
        }
        std::fs::write(&path, &text).unwrap();
        let (t, calcium) = read_calcium(&path, 1, true).unwrap();
        assert!((t.duration_ms() - 150.0).abs() < 1e-9);
        assert!(calcium[0].moments.is_none() && calcium[0].drive.is_none());
        let tau = 250.0;
        let end = t.widths_ms.iter().zip(&calcium[0].values).fold(0.0, |c, (w, &v)| {
            c * (-w / tau).exp() + f64::from(v) * super::super::grid::gain_factor(*w, tau)
        });
        let k = 1.0 / (1.0 / tau - 1.0 / CAI_TAU_MS);
        let exact = a * k * ((-150.0 / CAI_TAU_MS).exp() - (-150.0 / tau).exp());
        assert!((end - exact).abs() < 1e-4 * exact, "{end} vs {exact}");

        // Uneven sampling is refused at the row where it happens.
        let uneven = text.replacen("\n0.30000000000000004,", "\n0.31,", 1);
        assert_ne!(uneven, text, "the test must change a row");
        std::fs::write(&path, uneven).unwrap();
        let err = read_calcium(&path, 1, true).err().unwrap().to_string();
        assert!(
            err.contains("row 5") && err.contains("'t_ms'") && err.contains("evenly spaced"),
            "{err}"
        );
    }
}
