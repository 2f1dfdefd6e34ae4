//! XLSX workbooks opened within limits. The spreadsheet library (calamine) inflates the parts it
//! reads without bound and holds the shared-strings table, the styles and the workbook in
//! memory whole, so a workbook is inspected first ([`inspect`]): every entry on its declared
//! numbers, then every part the library reads — the four it holds (shared strings, styles,
//! workbook, relationships) and every sheet — inflated through [`Inflate`] and scanned by
//! [`XmlScan`]. Only then is it opened ([`open`], [`open_bytes`]); its sheets are read as they
//! stream ([`super::sheet`]), never as a whole range.

use super::archive::{check_declared, zip_error, Declared, Inflate};
use super::xml::{PartKind, ScanError, XmlScan};
use super::{
    refused, size_text, XLSX_MAX_ELEMENT, XLSX_MAX_ENTRIES, XLSX_MAX_INFLATED,
    XLSX_MAX_SHARED_STRINGS, XLSX_MAX_SHARED_STRINGS_BYTES, XLSX_MAX_WORKBOOK_PART,
};
use crate::IngestError;
use calamine::{Reader, Xlsx};
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

/// What the spreadsheet library does with a part, by its name in the archive (compared as the
/// library compares it: case aside, `\` as `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Held in memory whole: the shared strings.
    SharedStrings,
    /// Held in memory whole: workbook, relationships, styles.
    Resident,
    /// Read as it streams: a sheet (the library only opens sheets under these folders).
    Sheet,
    /// Never read (images, document properties, themes…).
    Unread,
}

fn part(name: &str) -> Part {
    let n = name.replace('\\', "/").to_ascii_lowercase();
    match n.as_str() {
        "xl/sharedstrings.xml" => Part::SharedStrings,
        "xl/workbook.xml" | "xl/styles.xml" | "xl/_rels/workbook.xml.rels" => Part::Resident,
        _ if ["xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/"]
            .iter()
            .any(|d| n.starts_with(d)) =>
        {
            Part::Sheet
        }
        _ => Part::Unread,
    }
}

/// The largest inflated size of a part, and the words naming it in a refusal.
fn limit(p: Part) -> (u64, &'static str) {
    match p {
        Part::SharedStrings => (
            XLSX_MAX_SHARED_STRINGS_BYTES,
            "la tabla de textos del libro",
        ),
        Part::Resident => (XLSX_MAX_WORKBOOK_PART, "una parte del libro"),
        Part::Sheet | Part::Unread => (XLSX_MAX_INFLATED, "el libro"),
    }
}

/// The refusal of a part the scanner stopped.
fn scan_refusal(label: &str, name: &str, e: ScanError) -> IngestError {
    let reason = match e {
        ScanError::TooManySharedStrings => format!(
            "el libro tiene más de {XLSX_MAX_SHARED_STRINGS} textos distintos; divídalo o \
             guárdelo como CSV"
        ),
        ScanError::ElementTooLarge => format!(
            "«{name}» tiene un elemento (celda, texto o etiqueta) de más de {}; una celda de \
             Excel lleva a lo sumo 32.767 caracteres",
            size_text(XLSX_MAX_ELEMENT)
        ),
        ScanError::Dtd => format!("«{name}» declara una DTD, que un libro de Excel no lleva"),
        ScanError::NulByte => format!("«{name}» no es XML en UTF-8"),
        ScanError::Malformed => format!("«{name}» tiene XML mal formado"),
    };
    refused(label, reason)
}

/// Checks a workbook before the spreadsheet library reads it: at most [`XLSX_MAX_ENTRIES`]
/// entries; declared sizes and ratios of every entry; then every part the library reads,
/// inflated and scanned — [`XLSX_MAX_INFLATED`] in all, the shared strings within
/// [`XLSX_MAX_SHARED_STRINGS`] and [`XLSX_MAX_SHARED_STRINGS_BYTES`], the other parts held in
/// memory within [`XLSX_MAX_WORKBOOK_PART`], each element within [`XLSX_MAX_ELEMENT`].
pub fn inspect<R: Read + Seek>(reader: R, label: &str) -> Result<(), IngestError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| {
        refused(
            label,
            format!("no es un libro XLSX (¿protegido con contraseña, o un .xls antiguo?): {e}"),
        )
    })?;
    if zip.len() > XLSX_MAX_ENTRIES {
        return Err(refused(
            label,
            format!("el libro tiene más de {XLSX_MAX_ENTRIES} partes"),
        ));
    }
    let mut declared_total: u64 = 0;
    let mut read = Vec::new();
    for i in 0..zip.len() {
        let e = zip.by_index_raw(i).map_err(|e| zip_error(label, e))?;
        let d = Declared::of(&e);
        let p = part(&d.name);
        check_declared(label, &d, Some(limit(p)))?;
        declared_total = declared_total.saturating_add(d.size);
        if p != Part::Unread {
            read.push((i, p));
        }
    }
    if declared_total > XLSX_MAX_INFLATED {
        return Err(too_large(label, declared_total));
    }
    let mut inflated: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    // What the shared-strings table holds and the highest index the sheets name.
    let mut texts: Option<u64> = None;
    let mut max_index: Option<u64> = None;
    for (i, p) in read {
        let e = zip.by_index(i).map_err(|e| zip_error(label, e))?;
        let d = Declared::of(&e);
        let name = d.name.clone();
        let kind = match p {
            Part::SharedStrings => PartKind::SharedStrings,
            Part::Sheet => PartKind::Sheet,
            Part::Resident | Part::Unread => PartKind::Other,
        };
        let mut scan = XmlScan::new(kind, XLSX_MAX_ELEMENT, XLSX_MAX_SHARED_STRINGS);
        let mut part = Inflate::new(e, d, limit(p).0);
        loop {
            let n = part
                .read(&mut buf)
                .map_err(|e| refused(label, e.to_string()))?;
            if n == 0 {
                break;
            }
            inflated += n as u64;
            if inflated > XLSX_MAX_INFLATED {
                return Err(too_large(label, inflated));
            }
            scan.feed(buf.get(..n).unwrap_or_default())
                .map_err(|e| scan_refusal(label, &name, e))?;
        }
        scan.finish().map_err(|e| scan_refusal(label, &name, e))?;
        match p {
            Part::SharedStrings => {
                texts = Some(texts.map_or(scan.texts(), |t| t.min(scan.texts())))
            }
            Part::Sheet => max_index = max_index.max(scan.max_index()),
            Part::Resident | Part::Unread => {}
        }
    }
    // The library would answer a cell naming a missing shared string with a panic.
    match max_index {
        Some(i) if i >= texts.unwrap_or(0) => Err(refused(
            label,
            format!(
                "una celda remite al texto compartido {i} y el libro tiene {}: el archivo está dañado",
                texts.unwrap_or(0)
            ),
        )),
        _ => Ok(()),
    }
}

fn too_large(label: &str, bytes: u64) -> IngestError {
    refused(
        label,
        format!(
            "el libro descomprimido supera {} (al menos {bytes} bytes); divídalo o guárdelo \
             como CSV",
            size_text(XLSX_MAX_INFLATED)
        ),
    )
}

/// The library's error as a refusal of `label`.
pub(crate) fn xlsx_error(label: &str, e: calamine::XlsxError) -> IngestError {
    refused(label, e.to_string())
}

/// Calls into the spreadsheet library with its errors, and its panics — a bug of the library
/// on a malformed file that the inspection did not foresee — as refusals of `label`.
pub(crate) fn guarded<T>(
    label: &str,
    call: impl FnOnce() -> Result<T, calamine::XlsxError>,
) -> Result<T, IngestError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(r) => r.map_err(|e| xlsx_error(label, e)),
        Err(_) => Err(refused(
            label,
            "el libro está dañado: el lector de hojas de cálculo no pudo leerlo",
        )),
    }
}

/// Opens the workbook at `path`, inspected first.
pub fn open(path: &Path, label: &str) -> Result<Xlsx<BufReader<File>>, IngestError> {
    let file = || {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| refused(label, e.to_string()))
    };
    inspect(file()?, label)?;
    let file = file()?;
    guarded(label, || Xlsx::new(file))
}

/// Opens a workbook held in memory, inspected first.
pub fn open_bytes<'b>(bytes: &'b [u8], label: &str) -> Result<Xlsx<Cursor<&'b [u8]>>, IngestError> {
    inspect(Cursor::new(bytes), label)?;
    guarded(label, || Xlsx::new(Cursor::new(bytes)))
}

/// The sheet names of the workbook at `path`.
pub fn sheet_names(path: &Path, label: &str) -> Result<Vec<String>, IngestError> {
    Ok(open(path, label)?.sheet_names())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_as_the_library_names_them() {
        assert_eq!(part("xl/sharedStrings.xml"), Part::SharedStrings);
        assert_eq!(part("XL\\SharedStrings.XML"), Part::SharedStrings);
        assert_eq!(part("xl/_rels/workbook.xml.rels"), Part::Resident);
        assert_eq!(part("xl/worksheets/sheet1.xml"), Part::Sheet);
        assert_eq!(part("xl/Worksheets/hoja.png"), Part::Sheet);
        assert_eq!(part("xl/media/image1.png"), Part::Unread);
        assert_eq!(part("docProps/core.xml"), Part::Unread);
    }
}
