//! The rejection report: one line per problem found, naming file, row, column, value and
//! reason, in Spanish. Written as CSV (UTF-8 with BOM so Excel opens accents correctly) while
//! the import streams, so memory stays bounded however many rows are rejected. Values and
//! reasons that a spreadsheet would run as a formula are neutralised (`vamos_domain::csv_safe`).
//! A value, column or key repeated here is cut at 200 characters (`vamos_domain::limits`): a
//! 10 MB cell is refused for its length, not copied into the report.

use crate::IngestError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use vamos_domain::csv_safe::CsvWriter;
use vamos_domain::limits::{self, Limit};

/// One problem in one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub file: String,
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
    /// Submission / record key when known, to find the row in the collection tool.
    pub key: String,
}

/// Collects rejections: counts by reason (for the summary) and streams them to a CSV file.
pub struct RejectionLog {
    writer: Option<CsvWriter<BufWriter<File>>>,
    rows_rejected: u64,
    problems: u64,
    by_reason: BTreeMap<String, u64>,
    /// The first rejections, kept for tests and for the summary preview.
    pub sample: Vec<Rejection>,
}

/// Short category of a reason (text before the first `:` or `(`), used to count by kind.
fn reason_kind(reason: &str) -> String {
    reason
        .split([':', '(', '«'])
        .next()
        .unwrap_or(reason)
        .trim()
        .to_string()
}

/// A report file an import writes at `path` (`what`: "de rechazos", "de cambios", …): UTF-8
/// with BOM, so a spreadsheet shows the accents, cells neutralised against formulas, and its
/// header row.
pub(crate) fn csv_file(
    path: &Path,
    what: &str,
    header: &[&str],
) -> Result<CsvWriter<BufWriter<File>>, IngestError> {
    let mut f = BufWriter::new(File::create(path).map_err(|e| IngestError::Unreadable {
        file: path.display().to_string(),
        reason: format!("no se puede crear el informe {what}: {e}"),
    })?);
    f.write_all(b"\xEF\xBB\xBF").map_err(IngestError::io)?;
    let mut w = CsvWriter::from_writer(f);
    w.write_record(header).map_err(IngestError::csv)?;
    Ok(w)
}

impl RejectionLog {
    pub fn new(path: Option<&Path>) -> Result<RejectionLog, IngestError> {
        let writer = path
            .map(|p| {
                csv_file(
                    p,
                    "de rechazos",
                    &["archivo", "fila", "columna", "valor", "motivo", "clave"],
                )
            })
            .transpose()?;
        Ok(RejectionLog {
            writer,
            rows_rejected: 0,
            problems: 0,
            by_reason: BTreeMap::new(),
            sample: Vec::new(),
        })
    }

    /// Records all problems of one rejected row (counted once as a rejected row).
    pub fn reject_row(&mut self, problems: Vec<Rejection>) -> Result<(), IngestError> {
        if problems.is_empty() {
            return Ok(());
        }
        self.rows_rejected += 1;
        for p in problems {
            self.problems += 1;
            *self.by_reason.entry(reason_kind(&p.reason)).or_default() += 1;
            if let Some(w) = &mut self.writer {
                w.write_record([
                    p.file.as_str(),
                    &p.row.to_string(),
                    p.column.as_str(),
                    p.value.as_str(),
                    p.reason.as_str(),
                    p.key.as_str(),
                ])
                .map_err(IngestError::csv)?;
            }
            if self.sample.len() < 10_000 {
                self.sample.push(p);
            }
        }
        Ok(())
    }

    pub fn rows_rejected(&self) -> u64 {
        self.rows_rejected
    }
    pub fn problems(&self) -> u64 {
        self.problems
    }
    pub fn by_reason(&self) -> &BTreeMap<String, u64> {
        &self.by_reason
    }

    pub fn finish(self) -> Result<(), IngestError> {
        if let Some(mut w) = self.writer {
            w.flush().map_err(IngestError::io)?;
        }
        Ok(())
    }
}

/// Builder for the problems of one row.
pub struct RowProblems<'a> {
    pub file: &'a str,
    pub row: u64,
    pub key: String,
    pub list: Vec<Rejection>,
}

impl<'a> RowProblems<'a> {
    pub fn new(file: &'a str, row: u64) -> Self {
        RowProblems {
            file,
            row,
            key: String::new(),
            list: Vec::new(),
        }
    }
    /// Adds a problem of `column`; the column name and the value are kept cut at
    /// [`limits::ECHO`] characters (the report repeats them, it does not store them).
    pub fn add(&mut self, column: &str, value: &str, reason: impl Into<String>) {
        self.list.push(Rejection {
            file: limits::echo(self.file).into_owned(),
            row: self.row,
            column: limits::echo(column).into_owned(),
            value: limits::echo(value).into_owned(),
            reason: reason.into(),
            key: limits::echo(&self.key).into_owned(),
        });
    }
    /// Adds a problem when `value` of `column` is longer than `limit` allows; whether it fits.
    pub fn check(&mut self, column: &str, value: &str, limit: Limit) -> bool {
        match limit.check(value) {
            Ok(()) => true,
            Err(e) => {
                self.add(column, value, e.to_string());
                false
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    pub fn into_vec(self) -> Vec<Rejection> {
        let key = self.key;
        self.list
            .into_iter()
            .map(|mut r| {
                if r.key.is_empty() {
                    r.key = limits::echo(&key).into_owned();
                }
                r
            })
            .collect()
    }
}
