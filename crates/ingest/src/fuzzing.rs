//! Harnesses shared by the fuzz targets (`fuzz/`) and by the in-tree robustness tests: feed
//! arbitrary bytes to the readers and importers and check the invariants that must hold for
//! any input — no panic, and every data row either accepted, rejected or already registered.
//! And the builders of hostile files those tests need: workbooks written part by part
//! ([`write_xlsx`]) and ZIP archives whose entries say what a test wants ([`write_zip`]).

use crate::table::Table;
use crate::text::decode;
use crate::{run_import, ImportOptions, ImportSummary, IngestError, NoProgress};
use vamos_domain::ImportKind;

/// Reads every row and field of arbitrary delimited bytes; returns the number of data rows.
pub fn table_bytes(data: &[u8]) -> usize {
    let Ok(mut t) = Table::from_reader(
        "fuzz.csv".into(),
        Box::new(std::io::Cursor::new(data.to_vec())),
        data.len() as u64,
    ) else {
        return 0;
    };
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    while let Ok(Some(_)) = t.next_row(&mut rec) {
        for f in rec.iter() {
            let _ = decode(f);
        }
        n += 1;
    }
    n
}

/// Parses arbitrary text as a date; a parsed date must print and parse back to itself.
pub fn date_text(s: &str) {
    if let Ok(Some(d)) = crate::dates::parse_date(s) {
        let iso = d.format("%Y-%m-%d").to_string();
        assert_eq!(
            crate::dates::parse_date(&iso),
            Ok(Some(d)),
            "round trip of {s:?}"
        );
    }
}

fn clock() -> String {
    "2026-01-01T00:00:00Z".into()
}

fn options(kind: ImportKind, source: Option<&str>) -> ImportOptions {
    ImportOptions {
        kind,
        source: source.map(String::from),
        strict: false,
        synthetic: Some(false),
        import_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        started_at: clock(),
        rejects: None,
        changes: None,
        unmatched: None,
        clock,
    }
}

/// Imports arbitrary household and member files into a fresh in-memory SQLite registry.
/// Returns the summary when the files could be read at all.
pub fn fips_files(households: &[u8], members: &[u8]) -> Result<ImportSummary, IngestError> {
    let dir = tempfile::tempdir().map_err(|e| IngestError::Internal(e.to_string()))?;
    std::fs::write(dir.path().join("fips.csv"), households)
        .map_err(|e| IngestError::Internal(e.to_string()))?;
    std::fs::write(dir.path().join("fips-miembros.csv"), members)
        .map_err(|e| IngestError::Internal(e.to_string()))?;
    let mut store = vamos_store::SqliteStore::open(":memory:")?;
    vamos_store::Store::migrate(&mut store)?;
    let opts = options(ImportKind::Fips, None);
    let s = run_import(&mut store, &[dir.path().to_path_buf()], &opts, &NoProgress)?;
    let rows = |b: &[u8]| table_bytes(b) as u64;
    // Every data row is accounted for exactly once.
    assert_eq!(
        s.households_accepted + s.households_rejected + s.households_already_registered,
        rows(households),
        "household rows"
    );
    assert_eq!(
        s.persons_accepted + s.persons_rejected + s.persons_already_registered,
        rows(members),
        "member rows"
    );
    Ok(s)
}

/// Imports a valid first wave (`first`: household and member files), then arbitrary household
/// and member files as its re-interview. Every household row of the second import is accounted
/// for exactly once — new, updated, unchanged, to review, already registered or rejected — and
/// importing the same files again adds and changes nothing. Returns the second import's summary.
pub fn reinterview_files(
    first: (&[u8], &[u8]),
    households: &[u8],
    members: &[u8],
) -> Result<ImportSummary, IngestError> {
    let internal = |e: std::io::Error| IngestError::Internal(e.to_string());
    let mut store = vamos_store::SqliteStore::open(":memory:")?;
    vamos_store::Store::migrate(&mut store)?;
    let opts = options(ImportKind::Fips, None);
    let mut wave = |h: &[u8], m: &[u8]| {
        let dir = tempfile::tempdir().map_err(internal)?;
        std::fs::write(dir.path().join("fips.csv"), h).map_err(internal)?;
        std::fs::write(dir.path().join("fips-miembros.csv"), m).map_err(internal)?;
        run_import(&mut store, &[dir.path().to_path_buf()], &opts, &NoProgress)
    };
    wave(first.0, first.1)?;
    let s = wave(households, members)?;
    assert_eq!(
        s.households_accepted
            + s.households_updated
            + s.households_unchanged
            + s.households_to_review
            + s.households_already_registered
            + s.households_rejected,
        table_bytes(households) as u64,
        "household rows of the re-interview: {s:?}"
    );
    // The same files again change nothing.
    let again = wave(households, members)?;
    assert_eq!(
        (
            again.households_accepted,
            again.households_updated,
            again.persons_accepted
        ),
        (0, 0, 0),
        "a re-run of the re-interview: {again:?}"
    );
    Ok(s)
}

/// Imports an arbitrary administrative registry file into a fresh in-memory registry.
pub fn admin_file(data: &[u8]) -> Result<ImportSummary, IngestError> {
    let dir = tempfile::tempdir().map_err(|e| IngestError::Internal(e.to_string()))?;
    let path = dir.path().join("registro.csv");
    std::fs::write(&path, data).map_err(|e| IngestError::Internal(e.to_string()))?;
    let mut store = vamos_store::SqliteStore::open(":memory:")?;
    vamos_store::Store::migrate(&mut store)?;
    let opts = options(ImportKind::Admin, Some("FUZZ"));
    let s = run_import(&mut store, &[path], &opts, &NoProgress)?;
    assert_eq!(
        s.records_accepted + s.rows_rejected + s.records_already_registered,
        table_bytes(data) as u64
    );
    Ok(s)
}

/// Reads an arbitrary counter-referral file (as CSV, then as JSON): never panics, and a CSV that
/// reads yields at most one event per data row, each with its row number after the header.
pub fn counter_referral_file(data: &[u8]) -> Result<usize, IngestError> {
    let _ = crate::counter_referrals::parse_json("fuzz.json", data);
    let dir = tempfile::tempdir().map_err(|e| IngestError::Internal(e.to_string()))?;
    let path = dir.path().join("contra.csv");
    std::fs::write(&path, data).map_err(|e| IngestError::Internal(e.to_string()))?;
    let events = crate::counter_referrals::read(&path)?;
    assert!(events.len() <= table_bytes(data));
    assert!(events
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.row < b.row)));
    assert!(events.iter().all(|e| e.row >= 2));
    Ok(events.len())
}

/// Opens arbitrary bytes as an XLSX workbook within the limits and streams every sheet: never
/// panics, whatever the archive or its XML hold. Returns the cells with text read.
pub fn xlsx_bytes(data: &[u8]) -> usize {
    use crate::bounded::{sheet, workbook, SheetLimits};
    let Ok(mut wb) = workbook::open_bytes(data, "fuzz.xlsx") else {
        return 0;
    };
    let limits = SheetLimits {
        rows: 10_000,
        columns: 1_000,
        cells: 100_000,
    };
    let mut n = 0;
    for name in calamine::Reader::sheet_names(&wb) {
        let _ = sheet::stream(&mut wb, &name, "fuzz.xlsx", &limits, |_, cells| {
            n += cells.len();
            Ok(())
        });
    }
    n
}

/// Scans arbitrary bytes as each kind of workbook part, whole and split in two at a point the
/// bytes choose: the answer never depends on how the bytes arrive.
pub fn xml_part(data: &[u8]) {
    use crate::bounded::xml::{PartKind, XmlScan};
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) * data.len() / 256);
    let (a, b) = data.split_at(at.min(data.len()));
    for kind in [PartKind::SharedStrings, PartKind::Sheet, PartKind::Other] {
        let whole = {
            let mut s = XmlScan::new(kind, 64, 8);
            s.feed(data)
                .and_then(|()| s.finish())
                .map(|()| s.shared_strings())
        };
        let split = {
            let mut s = XmlScan::new(kind, 64, 8);
            s.feed(a)
                .and_then(|()| s.feed(b))
                .and_then(|()| s.finish())
                .map(|()| s.shared_strings())
        };
        assert_eq!(whole, split, "{kind:?} split at {at}");
    }
}

/// A part writer of [`write_xlsx`]: writes XML into the part.
pub type PartWriter<'a> = &'a mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>;

/// Writes a minimal XLSX workbook of one sheet, `Hoja1`, for robustness tests: `sheet_data`
/// writes the rows inside `<sheetData>`, `shared` the `<si>` entries of a shared-strings table
/// (none when `None`). Parts are deflated as Excel does.
pub fn write_xlsx(
    path: &std::path::Path,
    sheet_data: PartWriter<'_>,
    shared: Option<PartWriter<'_>>,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(path)?));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6));
    let strings = shared.is_some();
    let ss_type = if strings {
        r#"<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>"#
    } else {
        ""
    };
    let parts = [
        ("[Content_Types].xml", format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>{ss_type}</Types>"#
        )),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Hoja1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>{}</Relationships>"#,
            if strings { r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>"# } else { "" }
        )),
    ];
    for (name, text) in parts {
        z.start_file(name, o)?;
        z.write_all(text.as_bytes())?;
    }
    z.start_file("xl/worksheets/sheet1.xml", o)?;
    z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#)?;
    sheet_data(&mut z)?;
    z.write_all(b"</sheetData></worksheet>")?;
    if let Some(shared) = shared {
        z.start_file("xl/sharedStrings.xml", o)?;
        z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#)?;
        shared(&mut z)?;
        z.write_all(b"</sst>")?;
    }
    z.finish()?.flush()
}

/// A deflated entry built by hand for [`write_zip`]: its compressed bytes, inflated size and
/// CRC — which a test may make lie.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: String,
    pub deflated: Vec<u8>,
    pub size: u64,
    pub crc32: u32,
}

impl RawEntry {
    /// `chunk` repeated `times`, deflated without inflating it all: the chunk is compressed
    /// once with a full flush (its back-references stay inside it), and its compressed bytes
    /// repeated — gigabytes of content in kilobytes, built in milliseconds.
    pub fn repeated(name: &str, chunk: &[u8], times: u64) -> std::io::Result<RawEntry> {
        use flate2::{Compress, Compression, FlushCompress};
        let err = |e: flate2::CompressError| std::io::Error::other(e.to_string());
        let mut block = Vec::with_capacity(chunk.len() + 1024);
        let mut c = Compress::new(Compression::best(), false);
        c.compress_vec(chunk, &mut block, FlushCompress::Full)
            .map_err(err)?;
        if c.total_in() != chunk.len() as u64 {
            return Err(std::io::Error::other("chunk too large to deflate at once"));
        }
        let mut end = Vec::with_capacity(64);
        Compress::new(Compression::best(), false)
            .compress_vec(&[], &mut end, FlushCompress::Finish)
            .map_err(err)?;
        let mut deflated = Vec::with_capacity(block.len() * times as usize + end.len());
        let (mut crc, mut one) = (crc32fast::Hasher::new(), crc32fast::Hasher::new());
        one.update(chunk);
        for _ in 0..times {
            deflated.extend_from_slice(&block);
            crc.combine(&one);
        }
        deflated.extend_from_slice(&end);
        Ok(RawEntry {
            name: name.to_string(),
            deflated,
            size: chunk.len() as u64 * times,
            crc32: crc.finalize(),
        })
    }
}

/// Writes a ZIP archive of deflated entries as given (sizes and CRC taken as they are, true
/// or not; no ZIP64, so each below 4 GiB).
pub fn write_zip(path: &std::path::Path, entries: &[RawEntry]) -> std::io::Result<()> {
    use std::io::Write;
    let u32_of = |v: u64| u32::try_from(v).map_err(|_| std::io::Error::other("entry too large"));
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = u32_of(out.len() as u64)?;
        let name = e.name.as_bytes();
        let sizes = [
            e.crc32.to_le_bytes(),
            u32_of(e.deflated.len() as u64)?.to_le_bytes(),
            u32_of(e.size)?.to_le_bytes(),
        ]
        .concat();
        // Local header: signature, version 2.0, no flags, deflate, no date.
        out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&sizes);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name);
        out.extend_from_slice(&e.deflated);
        // Central directory header.
        central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&sizes);
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let start = u32_of(out.len() as u64)?;
    let count = (entries.len() as u16).to_le_bytes();
    out.extend_from_slice(&central);
    out.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    out.extend_from_slice(&count);
    out.extend_from_slice(&count);
    out.extend_from_slice(&u32_of(central.len() as u64)?.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    std::fs::File::create(path)?.write_all(&out)
}
