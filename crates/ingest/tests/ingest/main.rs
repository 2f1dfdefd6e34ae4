//! The importers' test binary (one per crate: compile time matters on two cores).
//! `import`: hand-made files for every layout and every kind of bad row; `synthetic`:
//! acceptance tests on synthetic pilot surveys; `bombs`: decompression bombs and oversized
//! inputs, refused.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod bombs;
mod import;
mod reinterview;
mod synthetic;

use std::path::PathBuf;
use vamos_domain::ImportKind;
use vamos_ingest::ImportOptions;

fn clock() -> String {
    "2026-11-23T12:00:00Z".into()
}

/// Options of a test import run on 2026-11-23 (source UTGS; synthetic label detected).
pub fn opts(kind: ImportKind, rejects: Option<PathBuf>) -> ImportOptions {
    ImportOptions {
        kind,
        source: Some("UTGS".into()),
        strict: false,
        synthetic: None,
        import_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        started_at: clock(),
        rejects,
        changes: None,
        unmatched: None,
        clock,
    }
}
