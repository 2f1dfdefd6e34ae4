//! Tables to import, whatever file they arrive in: a CSV (streamed, any encoding and
//! separator), a CSV inside an ODK Central ZIP export, or a sheet of an XLSX workbook.
//! Every table yields rows as byte records with their spreadsheet row number (header = 1).

use crate::text::{decode, looks_utf16, normalize_header, sniff_delimiter};
use crate::IngestError;
use calamine::{Data, Reader, Xlsx};
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
        let unreadable = |e: std::io::Error| IngestError::Unreadable {
            file: self.label(),
            reason: e.to_string(),
        };
        match self {
            TableSource::Csv(p) => {
                let f = File::open(p).map_err(unreadable)?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                Table::from_reader(self.label(), Box::new(f), len)
            }
            TableSource::ZipEntry { zip, entry } => {
                // Spill the member to a temporary file so it can be streamed like any CSV
                // without holding the archive borrowed (exports can be gigabytes).
                let f = File::open(zip).map_err(unreadable)?;
                let mut archive = zip::ZipArchive::new(f).map_err(|e| IngestError::Unreadable {
                    file: self.label(),
                    reason: e.to_string(),
                })?;
                let mut member = archive
                    .by_name(entry)
                    .map_err(|e| IngestError::Unreadable {
                        file: self.label(),
                        reason: e.to_string(),
                    })?;
                let mut tmp = tempfile::tempfile().map_err(unreadable)?;
                let len = std::io::copy(&mut member, &mut tmp).map_err(unreadable)?;
                use std::io::Seek;
                tmp.rewind().map_err(unreadable)?;
                Table::from_reader(self.label(), Box::new(tmp), len)
            }
            TableSource::Sheet { path, sheet } => {
                let mut wb: Xlsx<_> =
                    calamine::open_workbook(path).map_err(|e: calamine::XlsxError| {
                        IngestError::Unreadable {
                            file: self.label(),
                            reason: e.to_string(),
                        }
                    })?;
                let range = wb
                    .worksheet_range(sheet)
                    .map_err(|e| IngestError::Unreadable {
                        file: self.label(),
                        reason: e.to_string(),
                    })?;
                let mut rows: Vec<Vec<String>> = range
                    .rows()
                    .map(|r| r.iter().map(cell_text).collect())
                    .collect();
                // Drop fully empty trailing rows Excel leaves behind.
                while rows.last().is_some_and(|r| r.iter().all(String::is_empty)) {
                    rows.pop();
                }
                let mut it = rows.into_iter();
                let headers = it.next().unwrap_or_default();
                let total = it.len() as u64;
                Ok(Table::new(
                    self.label(),
                    headers,
                    Inner::Sheet {
                        rows: it,
                        total,
                        done: 0,
                    },
                ))
            }
        }
    }
}

/// Text of a spreadsheet cell: whole numbers without `.0`, dates as ISO `YYYY-MM-DD`.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Int(i) => i.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(x) if x.time() == chrono::NaiveTime::MIN => {
                x.date().format("%Y-%m-%d").to_string()
            }
            Some(x) => x.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => dt.to_string(),
        },
        other => other.to_string(),
    }
}

enum Inner {
    Csv {
        rdr: csv::Reader<Box<dyn Read>>,
        total: u64,
    },
    Sheet {
        rows: std::vec::IntoIter<Vec<String>>,
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
            .from_reader(Box::new(buf) as Box<dyn Read>);
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
            Inner::Sheet { rows, done, .. } => match rows.next() {
                Some(r) => {
                    rec.clear();
                    for c in &r {
                        rec.push_field(c.as_bytes());
                    }
                    *done += 1;
                    self.row += 1;
                    Ok(Some(self.row))
                }
                None => Ok(None),
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

/// Lists the sheet names of an XLSX workbook.
pub fn xlsx_sheets(path: &Path) -> Result<Vec<String>, IngestError> {
    let label = path.display().to_string();
    let wb: Xlsx<_> = calamine::open_workbook(path).map_err(|e: calamine::XlsxError| {
        IngestError::Unreadable {
            file: label,
            reason: e.to_string(),
        }
    })?;
    Ok(wb.sheet_names())
}

/// Lists the CSV members of a ZIP archive.
pub fn zip_csv_entries(path: &Path) -> Result<Vec<String>, IngestError> {
    let label = path.display().to_string();
    let f = File::open(path).map_err(|e| IngestError::Unreadable {
        file: label.clone(),
        reason: e.to_string(),
    })?;
    let archive = zip::ZipArchive::new(f).map_err(|e| IngestError::Unreadable {
        file: label,
        reason: e.to_string(),
    })?;
    Ok(archive
        .file_names()
        .filter(|n| n.to_lowercase().ends_with(".csv"))
        .map(String::from)
        .collect())
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
