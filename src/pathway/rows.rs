//! Reading CSV tables with errors that point at a file, a row and a column.
//!
//! Shared by the dataset loaders (`pathway::recipe`, `protocol::table`) and the
//! connection CSV reader. Row numbers are the line numbers a user sees in an
//! editor: the header is line 1, the first data row line 2.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use csv::{ReaderBuilder, StringRecord, Trim};

use crate::error::{Error, Result};

/// A parsed CSV table: the header's column positions and every data record
/// with the line it starts on.
pub(crate) struct Table {
    file: PathBuf,
    columns: HashMap<String, usize>,
    records: Vec<(usize, StringRecord)>,
}

impl Table {
    /// Read a whole table; every column of `required` must be in the header.
    /// Extra columns are allowed and ignored.
    pub(crate) fn read<R: Read>(mut reader: R, file: &Path, required: &[&str]) -> Result<Table> {
        // Read everything first: line numbers are counted from byte offsets
        // (the csv reader's own line count skips blank lines).
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|e| Error::io(file, e))?;
        let line_of = |byte: u64| {
            // A record's position may point at blank lines skipped before it.
            let mut end = (byte as usize).min(bytes.len());
            while end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
                end += 1;
            }
            1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
        };
        let mut csv = ReaderBuilder::new()
            .has_headers(true)
            .trim(Trim::All)
            .from_reader(bytes.as_slice());
        let header = csv
            .headers()
            .map_err(|e| file_error(file, format!("cannot read the header: {e}")))?
            .clone();
        let mut columns = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(file_error(file, format!("column {} of the header has no name", i + 1)));
            }
            if columns.insert(name.to_string(), i).is_some() {
                return Err(file_error(file, format!("column '{name}' appears twice in the header")));
            }
        }
        let missing: Vec<&str> = required.iter().copied().filter(|c| !columns.contains_key(*c)).collect();
        if !missing.is_empty() {
            let list = missing.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
            let noun = if missing.len() == 1 { "column" } else { "columns" };
            return Err(file_error(file, format!("missing {noun} {list}")));
        }
        let mut records = Vec::new();
        for result in csv.records() {
            let record = result.map_err(|e| csv_record_error(file, &e, &line_of))?;
            let line = record.position().map(|p| line_of(p.byte())).unwrap_or(0);
            records.push((line, record));
        }
        Ok(Table {
            file: file.to_path_buf(),
            columns,
            records,
        })
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The data rows in file order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(move |(line, record)| Row {
            table: self,
            line: *line,
            record,
        })
    }
}

/// One data row; its accessors turn bad cells into `Error::Data`.
pub(crate) struct Row<'a> {
    table: &'a Table,
    line: usize,
    record: &'a StringRecord,
}

impl<'a> Row<'a> {
    /// The row's line number in the file (header = line 1).
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// An error about `column` of this row.
    pub(crate) fn error(&self, column: &str, problem: impl Into<String>) -> Error {
        Error::Data {
            file: self.table.file.clone(),
            row: self.line,
            column: column.to_string(),
            problem: problem.into(),
        }
    }

    /// The raw (trimmed) cell; columns are checked to exist when the table
    /// is read, so an unknown name is a programming error.
    pub(crate) fn raw(&self, column: &str) -> &'a str {
        let index = self.table.columns[column];
        self.record.get(index).unwrap_or("")
    }

    /// Free text, possibly empty.
    pub(crate) fn text(&self, column: &str) -> String {
        self.raw(column).to_string()
    }

    /// A non-empty name without commas, spaces or dashes (it becomes part of
    /// identifiers such as `PRE-POST`).
    pub(crate) fn name(&self, column: &str) -> Result<String> {
        let s = self.raw(column);
        if s.is_empty() {
            return Err(self.error(column, "is empty"));
        }
        if s.contains('-') || s.chars().any(char::is_whitespace) {
            return Err(self.error(
                column,
                format!("'{s}' must not contain '-' or spaces (it is part of a pathway name)"),
            ));
        }
        Ok(s.to_string())
    }

    /// A non-empty identifier.
    pub(crate) fn id(&self, column: &str) -> Result<String> {
        let s = self.raw(column);
        if s.is_empty() {
            return Err(self.error(column, "is empty"));
        }
        Ok(s.to_string())
    }

    /// A finite number.
    pub(crate) fn number(&self, column: &str) -> Result<f64> {
        let s = self.raw(column);
        if s.is_empty() {
            return Err(self.error(column, "is empty (a number is required)"));
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error(column, format!("'{s}' is not a finite number"))),
        }
    }

    /// A number > 0.
    pub(crate) fn positive(&self, column: &str) -> Result<f64> {
        let v = self.number(column)?;
        if v > 0.0 {
            Ok(v)
        } else {
            Err(self.error(column, format!("{v} must be > 0")))
        }
    }

    /// A number ≥ 0.
    pub(crate) fn non_negative(&self, column: &str) -> Result<f64> {
        let v = self.number(column)?;
        if v >= 0.0 {
            Ok(v)
        } else {
            Err(self.error(column, format!("{v} must be >= 0")))
        }
    }

    /// A number in [0, 1].
    pub(crate) fn fraction(&self, column: &str) -> Result<f64> {
        let v = self.number(column)?;
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.error(column, format!("{v} must lie in [0, 1]")))
        }
    }

    /// A whole number ≥ `min` (written without a fraction: "5", not "5.0").
    pub(crate) fn count(&self, column: &str, min: u64) -> Result<u64> {
        let s = self.raw(column);
        if s.is_empty() {
            return Err(self.error(column, "is empty (a whole number is required)"));
        }
        let v: u64 = match s.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                return Err(self.error(
                    column,
                    format!("'{s}' is not a whole number (expected an integer >= {min})"),
                ))
            }
        };
        if v < min {
            return Err(self.error(column, format!("{v} must be >= {min}")));
        }
        Ok(v)
    }
}

pub(crate) fn file_error(file: &Path, problem: impl Into<String>) -> Error {
    Error::File {
        file: file.to_path_buf(),
        problem: problem.into(),
    }
}

/// Turn a csv reader error (e.g. a row with the wrong number of fields) into
/// a row-level error where the line is known.
fn csv_record_error(file: &Path, e: &csv::Error, line_of: &dyn Fn(u64) -> usize) -> Error {
    let line = match e.kind() {
        csv::ErrorKind::UnequalLengths { pos: Some(p), .. } => Some(line_of(p.byte())),
        csv::ErrorKind::Utf8 { pos: Some(p), .. } => Some(line_of(p.byte())),
        _ => None,
    };
    let problem = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields, the header has {expected_len}")
        }
        _ => e.to_string(),
    };
    match line {
        Some(row) => Error::Data {
            file: file.to_path_buf(),
            row,
            column: "(whole row)".to_string(),
            problem,
        },
        None => file_error(file, problem),
    }
}

/// Open a file for reading, mapping failures to `Error::Io`.
pub(crate) fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str, required: &[&str]) -> Result<Table> {
        Table::read(text.as_bytes(), Path::new("t.csv"), required)
    }

    #[test]
    fn rows_are_editor_line_numbers() {
        let t = table("a,b\n1,2\n\n3,4\n\"x\ny\",5\n6,7\n", &["a", "b"]).unwrap();
        let lines: Vec<usize> = t.rows().map(|r| r.line()).collect();
        assert_eq!(lines, vec![2, 4, 5, 7]);
    }

    #[test]
    fn missing_columns_are_a_file_error() {
        let e = table("a\n1\n", &["a", "b", "c"]).err().unwrap().to_string();
        assert!(e.contains("t.csv") && e.contains("'b', 'c'"), "{e}");
    }

    #[test]
    fn ragged_rows_name_their_line() {
        let e = table("a,b\n1,2\n3\n", &["a"]).err().unwrap().to_string();
        assert!(e.contains("row 3"), "{e}");
    }

    #[test]
    fn cells_are_checked() {
        let t = table("x,n\nnan,5.0\n", &["x", "n"]).unwrap();
        let row = t.rows().next().unwrap();
        assert!(row.number("x").is_err());
        assert!(row.count("n", 1).is_err());
    }
}
