//! Harnesses shared by the fuzz targets (`fuzz/`) and by the in-tree robustness tests: feed
//! arbitrary bytes to the readers and importers and check the invariants that must hold for
//! any input — no panic, and every data row either accepted, rejected or already registered.

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
