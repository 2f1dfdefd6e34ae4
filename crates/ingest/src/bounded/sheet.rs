//! Sheets read as they stream, cell by cell, within [`SheetLimits`] — never as a whole range
//! of cells in memory. [`stream`] hands each row with text to a callback; [`Spilled`] writes
//! them to an unnamed temporary file and reads them back as records, so that a table over a
//! sheet of a million rows holds one row at a time, as a CSV table does.

use super::workbook::guarded;
use super::{refused, size_text, SheetLimits, CSV_MAX_RECORD, XLSX_MAX_INFLATED};
use crate::IngestError;
use calamine::{Data, DataRef, Xlsx};
use csv::ByteRecord;
use std::io::{BufReader, BufWriter, Read, Seek, Write};

/// Text of a spreadsheet cell: whole numbers without `.0`, dates as ISO `YYYY-MM-DD`.
pub fn cell_text(d: &Data) -> String {
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

/// What [`stream`] counts, to refuse a sheet at the first cell past a limit.
struct Counts<'l> {
    label: &'l str,
    limits: &'l SheetLimits,
    cells: u64,
    /// Cells of the rows' spans (from column A to each row's last text).
    spans: u64,
    text: u64,
    row_text: u64,
}

impl Counts<'_> {
    fn refuse(&self, what: String) -> IngestError {
        refused(self.label, what)
    }

    /// A cell at (`r`, `c`) is read.
    fn cell(&mut self, r: u32, c: u32) -> Result<(), IngestError> {
        self.cells += 1;
        let l = self.limits;
        if self.cells > l.cells {
            return Err(self.refuse(format!("la hoja tiene más de {} celdas; divídala", l.cells)));
        }
        if r >= l.rows {
            return Err(self.refuse(format!("la hoja tiene más de {} filas; divídala", l.rows)));
        }
        if c >= l.columns {
            return Err(self.refuse(format!("la hoja tiene más de {} columnas", l.columns)));
        }
        Ok(())
    }

    /// A cell's text of `len` bytes is kept.
    fn text(&mut self, len: usize) -> Result<(), IngestError> {
        self.row_text += len as u64;
        self.text += len as u64;
        if self.row_text > CSV_MAX_RECORD {
            return Err(self.refuse(format!(
                "una fila tiene más de {} de texto",
                size_text(CSV_MAX_RECORD)
            )));
        }
        if self.text > XLSX_MAX_INFLATED {
            return Err(self.refuse(format!(
                "la hoja tiene más de {} de texto; divídala o guárdela como CSV",
                size_text(XLSX_MAX_INFLATED)
            )));
        }
        Ok(())
    }

    /// A row whose last text is in column `last_col` ends.
    fn row_end(&mut self, last_col: Option<u32>) -> Result<(), IngestError> {
        self.row_text = 0;
        self.spans += last_col.map_or(0, |c| u64::from(c) + 1);
        if self.spans > self.limits.cells {
            return Err(self.refuse(format!(
                "la hoja tiene más de {} celdas; divídala",
                self.limits.cells
            )));
        }
        Ok(())
    }
}

/// Columns in order, the last of two cells at the same place kept.
fn in_column_order(texts: &mut Vec<(u32, String)>) {
    texts.reverse();
    texts.sort_by_key(|(c, _)| *c);
    texts.dedup_by_key(|(c, _)| *c);
}

/// Streams sheet `sheet`: calls `row` with each row that holds text — its 0-based index and its
/// cells with text as (0-based column, text), in column order. Refuses a cell beyond the
/// limits' rows or columns, more cells than their `cells` (counted as read, and as the span of
/// each row from column A), a row of more than [`CSV_MAX_RECORD`] of text, a sheet of more than
/// [`XLSX_MAX_INFLATED`] of text (shared strings repeated count each time), and rows out of
/// order.
pub fn stream<RS: Read + Seek>(
    wb: &mut Xlsx<RS>,
    sheet: &str,
    label: &str,
    limits: &SheetLimits,
    mut row: impl FnMut(u32, &[(u32, String)]) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let mut cells = guarded(label, || wb.worksheet_cells_reader(sheet))?;
    let mut counts = Counts {
        label,
        limits,
        cells: 0,
        spans: 0,
        text: 0,
        row_text: 0,
    };
    let mut current: Option<u32> = None;
    let mut texts: Vec<(u32, String)> = Vec::new();
    let mut flush = |r: u32, texts: &mut Vec<(u32, String)>, counts: &mut Counts| {
        in_column_order(texts);
        counts.row_end(texts.last().map(|t| t.0))?;
        if !texts.is_empty() {
            row(r, texts)?;
            texts.clear();
        }
        Ok::<(), IngestError>(())
    };
    while let Some(cell) = guarded(label, || cells.next_cell())? {
        let (r, c) = cell.get_position();
        counts.cell(r, c)?;
        if current != Some(r) {
            if let Some(prev) = current {
                if r < prev {
                    return Err(counts.refuse(format!(
                        "la fila {} aparece después de la fila {}",
                        r + 1,
                        prev + 1
                    )));
                }
                flush(prev, &mut texts, &mut counts)?;
            }
            current = Some(r);
        }
        let value: &DataRef<'_> = cell.get_value();
        let text = cell_text(&Data::from(value.clone()));
        if !text.is_empty() {
            counts.text(text.len())?;
            texts.push((c, text));
        }
    }
    if let Some(prev) = current {
        flush(prev, &mut texts, &mut counts)?;
    }
    Ok(())
}

/// A sheet streamed to an unnamed temporary file, read back row by row: the first row with
/// text is the header; rows without text between others read as empty rows, trailing ones are
/// dropped; columns count from the leftmost one with text (as a range of the sheet would), and
/// a row keeps no field past the header's last.
pub struct Spilled {
    pub headers: Vec<String>,
    /// Data rows (after the header).
    pub rows: u64,
    file: BufReader<std::fs::File>,
    /// 0-based index of the next row to hand out; `None` once past the last row with text.
    next: Option<u32>,
    last: u32,
    /// Leftmost column with text, and how many columns a row keeps.
    first_col: u32,
    width: u32,
    /// The next row read from the file, not yet handed out.
    pending: Option<SpilledRow>,
}

/// A row as the temporary file holds it: its index and its cells with text (column, bytes).
type SpilledRow = (u32, Vec<(u32, Vec<u8>)>);

fn io_refusal(label: &str) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |e| refused(label, format!("archivo temporal: {e}"))
}

fn write_row(out: &mut impl Write, r: u32, cells: &[(u32, String)]) -> std::io::Result<()> {
    out.write_all(&r.to_le_bytes())?;
    out.write_all(&(cells.len() as u32).to_le_bytes())?;
    for (c, text) in cells {
        out.write_all(&c.to_le_bytes())?;
        out.write_all(&(text.len() as u32).to_le_bytes())?;
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

impl Spilled {
    /// Streams sheet `sheet` of `wb` to a temporary file and reads its header.
    pub fn write<RS: Read + Seek>(
        wb: &mut Xlsx<RS>,
        sheet: &str,
        label: &str,
        limits: &SheetLimits,
    ) -> Result<Spilled, IngestError> {
        let io = io_refusal(label);
        let mut out = BufWriter::new(tempfile::tempfile().map_err(&io)?);
        let (mut first, mut last, mut first_col) = (None, 0, u32::MAX);
        stream(wb, sheet, label, limits, |r, cells| {
            first.get_or_insert(r);
            last = r;
            first_col = first_col.min(cells.first().map_or(u32::MAX, |c| c.0));
            write_row(&mut out, r, cells).map_err(&io)
        })?;
        let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(&io)?;
        let mut s = Spilled {
            headers: Vec::new(),
            rows: 0,
            file: BufReader::new(file),
            next: first,
            last,
            first_col: first_col.min(limits.columns),
            width: limits.columns,
            pending: None,
        };
        if let Some(first) = first {
            s.pending = s.read_row().map_err(&io)?;
            let mut rec = ByteRecord::new();
            s.next_record(&mut rec).map_err(&io)?;
            s.headers = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            s.width = s.headers.len() as u32;
            s.rows = u64::from(last - first);
        }
        Ok(s)
    }

    fn read_u32(&mut self) -> std::io::Result<u32> {
        let mut b = [0u8; 4];
        self.file.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// The next row of the file, if any.
    fn read_row(&mut self) -> std::io::Result<Option<SpilledRow>> {
        let mut b = [0u8; 4];
        match self.file.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let r = u32::from_le_bytes(b);
        let n = self.read_u32()?;
        let mut cells = Vec::with_capacity(n.min(1024) as usize);
        for _ in 0..n {
            let c = self.read_u32()?;
            let len = self.read_u32()?;
            let mut text = vec![0u8; len as usize];
            self.file.read_exact(&mut text)?;
            cells.push((c, text));
        }
        Ok(Some((r, cells)))
    }

    /// Reads the next row into `rec`; `false` past the last row with text.
    pub fn next_record(&mut self, rec: &mut ByteRecord) -> std::io::Result<bool> {
        let Some(r) = self.next else {
            return Ok(false);
        };
        self.next = (r < self.last).then_some(r + 1);
        rec.clear();
        if self.pending.as_ref().is_some_and(|(pr, _)| *pr == r) {
            let end = self.first_col.saturating_add(self.width);
            if let Some((_, cells)) = self.pending.take() {
                let mut col = self.first_col;
                for (c, text) in cells.iter().filter(|(c, _)| *c < end) {
                    while col < *c {
                        rec.push_field(b"");
                        col += 1;
                    }
                    rec.push_field(text);
                    col += 1;
                }
            }
            self.pending = self.read_row()?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounded::workbook::open;

    fn spill(sheet_data: &str) -> Spilled {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libro.xlsx");
        let mut data = sheet_data.to_string();
        crate::fuzzing::write_xlsx(&path, &mut |w| w.write_all(data.as_bytes()), None).unwrap();
        data.clear();
        let mut wb = open(&path, "libro.xlsx").unwrap();
        Spilled::write(&mut wb, "Hoja1", "libro.xlsx", &SheetLimits::DEFAULT).unwrap()
    }

    fn rows(s: &mut Spilled) -> Vec<Vec<String>> {
        let mut rec = ByteRecord::new();
        let mut out = Vec::new();
        while s.next_record(&mut rec).unwrap() {
            out.push(
                rec.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn a_sheet_reads_back_as_a_range_would() {
        // Header on row 2 from column B; a gap row; a cell past the header; a row of
        // only an empty cell at the end; cells out of column order.
        let mut s = spill(concat!(
            r#"<row r="2"><c r="B2" t="inlineStr"><is><t>a</t></is></c>"#,
            r#"<c r="C2" t="inlineStr"><is><t>b</t></is></c></row>"#,
            r#"<row r="3"><c r="C3"><v>2</v></c><c r="B3"><v>1.5</v></c><c r="E3"><v>9</v></c></row>"#,
            r#"<row r="5"><c r="C5"><v>3</v></c></row>"#,
            r#"<row r="6"><c r="B6"/></row>"#,
        ));
        assert_eq!(s.headers, ["a", "b"]);
        assert_eq!(s.rows, 3);
        assert_eq!(rows(&mut s), [vec!["1.5", "2"], vec![], vec!["", "3"]]);
    }

    #[test]
    fn an_empty_sheet_has_no_header_and_no_rows() {
        let mut s = spill("");
        assert!(s.headers.is_empty());
        assert_eq!(s.rows, 0);
        assert!(rows(&mut s).is_empty());
    }

    #[test]
    fn a_panic_of_the_library_is_a_refusal() {
        // A cell naming a shared string the workbook lacks makes the library index past its
        // table; opened without the inspection (which refuses it), the panic is caught here.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libro.xlsx");
        let xml = r#"<row r="1"><c r="A1" t="s"><v>7</v></c></row>"#;
        crate::fuzzing::write_xlsx(&path, &mut |w| w.write_all(xml.as_bytes()), None).unwrap();
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let e = stream(
            &mut wb,
            "Hoja1",
            "libro.xlsx",
            &SheetLimits::DEFAULT,
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("el libro está dañado"), "{e}");
    }

    #[test]
    fn limits_on_cells_rows_and_columns_hold_while_streaming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libro.xlsx");
        let xml = r#"<row r="1"><c r="A1"><v>1</v></c><c r="C1"><v>1</v></c></row><row r="2"><c r="A2"><v>1</v></c></row>"#;
        crate::fuzzing::write_xlsx(&path, &mut |w| w.write_all(xml.as_bytes()), None).unwrap();
        let read = |limits: SheetLimits| {
            let mut wb = open(&path, "libro.xlsx").unwrap();
            match Spilled::write(&mut wb, "Hoja1", "libro.xlsx", &limits) {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            }
        };
        let d = SheetLimits::DEFAULT;
        assert_eq!(read(d), "");
        assert!(read(SheetLimits { cells: 2, ..d }).contains("más de 2 celdas"));
        // Counted as spans too: row 1 spans A..C.
        assert!(read(SheetLimits { cells: 3, ..d }).contains("más de 3 celdas"));
        assert!(read(SheetLimits { rows: 1, ..d }).contains("más de 1 filas"));
        assert!(read(SheetLimits { columns: 2, ..d }).contains("más de 2 columnas"));
    }
}
