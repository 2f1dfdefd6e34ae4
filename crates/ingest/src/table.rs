//! Tables to import, whatever file they arrive in: a CSV (streamed, any encoding and
//! separator), a CSV inside an ODK Central ZIP export (streamed from the archive), or a sheet
//! of an XLSX workbook (streamed to a temporary file). Every table yields rows as byte records
//! with their spreadsheet row number (header = 1). Archives and workbooks are read within the
//! limits of [`crate::bounded`]; so is every CSV record.

use crate::bounded::records::RecordGuard;
use crate::bounded::sheet::Spilled;
use crate::bounded::{archive, workbook, SheetLimits};
use crate::text::{decode, looks_utf16, normalize_header, sniff_delimiter};
use crate::IngestError;
use csv::ByteRecord;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where a table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableSource {
    Csv(PathBuf),
    /// A CSV member of a ZIP archive (ODK Central's "Download all data" export).
    ZipEntry {
        zip: PathBuf,
        entry: String,
    },
    /// One worksheet of an XLSX workbook (KoboToolbox export, or data typed in Excel).
    Sheet {
        path: PathBuf,
        sheet: String,
    },
}

impl TableSource {
    /// Name shown in rejection reports: the file name, `archivo.zip:entrada.csv` or
    /// `libro.xlsx:hoja`.
    pub fn label(&self) -> String {
        let name = |p: &Path| {
            p.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match self {
            TableSource::Csv(p) => name(p),
            TableSource::ZipEntry { zip, entry } => format!("{}:{entry}", name(zip)),
            TableSource::Sheet { path, sheet } => format!("{}:{sheet}", name(path)),
        }
    }

    /// The file to record as provenance.
    pub fn path(&self) -> String {
        match self {
            TableSource::Csv(p) => p.display().to_string(),
            TableSource::ZipEntry { zip, entry } => format!("{}:{entry}", zip.display()),
            TableSource::Sheet { path, sheet } => format!("{}:{sheet}", path.display()),
        }
    }

    /// Opens the table and reads its header.
    pub fn open(&self) -> Result<Table, IngestError> {
        self.open_within(&SheetLimits::DEFAULT)
    }

    /// Opens the table with limits of its own on a sheet (a CSV has none but its records').
    pub fn open_within(&self, limits: &SheetLimits) -> Result<Table, IngestError> {
        let label = self.label();
        match self {
            TableSource::Csv(p) => {
                let f = File::open(p).map_err(|e| IngestError::Unreadable {
                    file: label.clone(),
                    reason: e.to_string(),
                })?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                Table::from_reader(label, Box::new(f), len)
            }
            TableSource::ZipEntry { zip, entry } => {
                // Streamed from the archive, inflating as it is read: checked on its declared
                // size and ratio first, counted while it inflates, never copied first.
                let (read, len) = archive::open_entry(zip, entry, &label)?;
                Table::from_reader(label, read, len)
            }
            TableSource::Sheet { path, sheet } => {
                let mut wb = workbook::open(path, &label)?;
                let spilled = Spilled::write(&mut wb, sheet, &label, limits)?;
                let headers = spilled.headers.clone();
                let total = spilled.rows;
                Ok(Table::new(
                    label,
                    headers,
                    Inner::Sheet {
                        rows: Box::new(spilled),
                        total,
                        done: 0,
                    },
                ))
            }
        }
    }
}

enum Inner {
    Csv {
        rdr: csv::Reader<Box<dyn Read>>,
        total: u64,
    },
    Sheet {
        rows: Box<Spilled>,
        total: u64,
        done: u64,
    },
}

/// An open table: headers, their normalised names, and a row cursor.
pub struct Table {
    pub label: String,
    pub headers: Vec<String>,
    pub names: Vec<String>,
    inner: Inner,
    row: u64,
}

impl Table {
    fn new(label: String, headers: Vec<String>, inner: Inner) -> Table {
        let names = headers.iter().map(|h| normalize_header(h)).collect();
        Table {
            label,
            headers,
            names,
            inner,
            row: 1,
        }
    }

    /// Builds a table over any reader of delimited text (used for files and by fuzz targets).
    pub fn from_reader(
        label: String,
        read: Box<dyn Read>,
        total: u64,
    ) -> Result<Table, IngestError> {
        let mut buf = BufReader::with_capacity(1 << 20, read);
        let head = buf.fill_buf().map_err(|e| IngestError::Unreadable {
            file: label.clone(),
            reason: e.to_string(),
        })?;
        if head.is_empty() {
            return Err(IngestError::Unreadable {
                file: label,
                reason: "el archivo está vacío".into(),
            });
        }
        if looks_utf16(head) {
            return Err(IngestError::Unreadable {
                file: label,
                reason: "codificación UTF-16 (\"texto Unicode\" de Excel) no admitida: guarde como CSV UTF-8 o CSV (delimitado por comas)".into(),
            });
        }
        let delim = sniff_delimiter(crate::text::strip_bom(head));
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delim)
            .flexible(true)
            .has_headers(true)
            .from_reader(Box::new(RecordGuard::new(buf, delim)) as Box<dyn Read>);
        let headers: Vec<String> = rdr
            .byte_headers()
            .map_err(|e| IngestError::Unreadable {
                file: label.clone(),
                reason: e.to_string(),
            })?
            .iter()
            .map(|h| decode(h).trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        Ok(Table::new(label, headers, Inner::Csv { rdr, total }))
    }

    /// The header shown in reports for a column: its real name, or the expected one when the
    /// column is absent.
    pub fn header(&self, col: Option<usize>, fallback: &str) -> String {
        col.and_then(|c| self.headers.get(c).cloned())
            .unwrap_or_else(|| fallback.to_string())
    }

    /// Index of the first column whose normalised name is one of `names`.
    pub fn col(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.names.iter().position(|h| h == n))
    }

    /// Reads the next row into `rec`; returns its spreadsheet row number.
    pub fn next_row(&mut self, rec: &mut ByteRecord) -> Result<Option<u64>, IngestError> {
        match &mut self.inner {
            Inner::Csv { rdr, .. } => match rdr.read_byte_record(rec) {
                Ok(true) => {
                    self.row += 1;
                    Ok(Some(self.row))
                }
                Ok(false) => Ok(None),
                Err(e) => Err(IngestError::Unreadable {
                    file: self.label.clone(),
                    reason: format!("fila {}: {e}", self.row + 1),
                }),
            },
            Inner::Sheet { rows, done, .. } => match rows.next_record(rec) {
                Ok(true) => {
                    *done += 1;
                    self.row += 1;
                    Ok(Some(self.row))
                }
                Ok(false) => Ok(None),
                Err(e) => Err(IngestError::Unreadable {
                    file: self.label.clone(),
                    reason: format!("archivo temporal: {e}"),
                }),
            },
        }
    }

    /// Progress as (done, total) in bytes (CSV) or rows (sheets).
    pub fn progress(&self) -> (u64, u64) {
        match &self.inner {
            Inner::Csv { rdr, total } => (rdr.position().byte(), *total),
            Inner::Sheet { total, done, .. } => (*done, *total),
        }
    }
}

/// Lists the sheet names of an XLSX workbook (inspected within the limits first).
pub fn xlsx_sheets(path: &Path) -> Result<Vec<String>, IngestError> {
    workbook::sheet_names(path, &file_name(path))
}

/// Lists the CSV members of a ZIP archive, each checked on its declared size and ratio.
pub fn zip_csv_entries(path: &Path) -> Result<Vec<String>, IngestError> {
    archive::csv_entries(path, &file_name(path))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_latin1_semicolon_csv_with_bom_free_header() {
        let data = b"C\xe9dula;Nombres\n123;Jos\xe9\n".to_vec();
        let mut t =
            Table::from_reader("x.csv".into(), Box::new(std::io::Cursor::new(data)), 0).unwrap();
        assert_eq!(t.names, ["cedula", "nombres"]);
        let mut rec = ByteRecord::new();
        assert_eq!(t.next_row(&mut rec).unwrap(), Some(2));
        assert_eq!(decode(&rec[1]), "José");
        assert_eq!(t.next_row(&mut rec).unwrap(), None);
    }

    #[test]
    fn strips_utf8_bom_and_refuses_utf16() {
        let data = b"\xef\xbb\xbfKEY,x\n1,2\n".to_vec();
        let t =
            Table::from_reader("x.csv".into(), Box::new(std::io::Cursor::new(data)), 0).unwrap();
        assert_eq!(t.names, ["key", "x"]);
        let e = Table::from_reader(
            "y.csv".into(),
            Box::new(std::io::Cursor::new(b"\xff\xfeK\0".to_vec())),
            0,
        );
        assert!(matches!(e, Err(IngestError::Unreadable { .. })));
    }
}
