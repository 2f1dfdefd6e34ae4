//! Vamos importers: FIPS household surveys, simplified registration forms, Entorno community
//! surveys (ODK Central / KoboToolbox exports as CSV, ZIP or XLSX) and institutions'
//! administrative registry files (CSV / XLSX).
//!
//! Every import is one transaction: rows are parsed into domain records, checked, and either
//! accepted (with provenance: import, file, row) or written to the rejection report with file,
//! row, column, value and a Spanish reason. Re-importing the same submissions changes nothing
//! (submission keys / record ids). Parsing and validation run on the calling thread while a
//! second thread writes batches to the store, so both cores work on a national load.
//! Architecture invariant: no HTTP here, and no SQL — the store trait is the only way out.

pub mod admin;
pub mod answers;
pub mod bounded;
pub mod community;
pub mod counter_referrals;
pub mod dates;
pub mod fips;
pub mod forms;
pub mod fuzzing;
mod reinterview;
pub mod report;
pub mod source;
pub mod table;
pub mod text;

use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};
use vamos_domain::{AdminRecord, Community, CommunitySurvey, Household, ImportKind, Person};
use vamos_store::{ImportTx, StoreError};

/// Why an import could not run at all (as opposed to rows being rejected).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no se puede leer «{file}»: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("«{file}»: faltan columnas obligatorias: {columns}")]
    MissingColumns { file: String, columns: String },
    #[error("{0}")]
    Input(String),
    #[error("base de datos: {0}")]
    Store(StoreError),
    #[error("error interno: {0}")]
    Internal(String),
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Store(e)
    }
}

impl IngestError {
    pub(crate) fn io(e: std::io::Error) -> IngestError {
        IngestError::Input(format!("error de escritura: {e}"))
    }
    pub(crate) fn csv(e: csv::Error) -> IngestError {
        IngestError::Input(format!("error de escritura: {e}"))
    }
}

/// How to run an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: ImportKind,
    /// Source institution or operator (`UTGS`, `MEC`, …). Required for admin files unless
    /// they carry an `institucion` column.
    pub source: Option<String>,
    /// Commit nothing if any row is rejected.
    pub strict: bool,
    /// `Some` forces the synthetic label; `None` detects it from a `manifest.json` written by
    /// `vamos synth` next to the files.
    pub synthetic: Option<bool>,
    /// The date the import runs: dates after it are "in the future". A parameter, not the clock.
    pub import_date: NaiveDate,
    /// RFC 3339 start time, recorded in the import history.
    pub started_at: String,
    pub rejects: Option<PathBuf>,
    /// FIPS imports: where to write what re-interviews changed, field by field (CSV).
    pub changes: Option<PathBuf>,
    /// Admin imports: where to list records whose cédula matched nobody.
    pub unmatched: Option<PathBuf>,
    /// Wall clock for the finish time in the history (RFC 3339); injected so that library
    /// code never reads the clock itself.
    pub clock: fn() -> String,
}

/// What an import did; printed as the last line with `--format json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub import_id: Option<i64>,
    pub kind: String,
    /// `completada` (committed) or `rechazada` (nothing committed: `--strict` with rejections).
    pub status: String,
    pub committed: bool,
    pub synthetic: bool,
    pub files: Vec<String>,
    /// New households (a re-interview of a registered one counts in `households_updated`).
    pub households_accepted: u64,
    pub persons_accepted: u64,
    /// Re-interviews that wrote a new version of their household.
    pub households_updated: u64,
    /// Re-interviews that found nothing changed (recorded, nothing written).
    pub households_unchanged: u64,
    /// Re-interviews not written because they match several households: listed in the
    /// rejects file for an analyst to decide.
    pub households_to_review: u64,
    /// Re-interviewed persons with a new version (their answers changed).
    pub persons_updated: u64,
    /// Members new to a re-interviewed household (births, persons who joined).
    pub persons_added: u64,
    /// Members of a re-interviewed household no longer in it.
    pub persons_left: u64,
    pub communities_created: u64,
    pub community_surveys_accepted: u64,
    pub records_accepted: u64,
    pub records_unmatched: u64,
    /// Of the records without a cédula match, those record linkage gave a person (above the
    /// model's link threshold) — filled in by the application after the import commits.
    pub records_linked: u64,
    /// Of the records without a cédula match, those waiting in the clerical review queue.
    pub records_for_review: u64,
    /// Records whose cédula matched a person born another day: linkage judged them again with
    /// every field (they count in `records_linked`, `records_for_review` or neither).
    pub records_national_id_doubted: u64,
    /// The linkage model version that matched this import's records.
    pub linkage_model: Option<String>,
    /// How long record linkage took, after the import (not in `seconds`).
    pub linkage_seconds: f64,
    /// Why record linkage did not run after a committed import (its records stay without a
    /// person until `vamos linkage admin` runs).
    pub linkage_error: Option<String>,
    pub households_already_registered: u64,
    pub persons_already_registered: u64,
    pub surveys_already_registered: u64,
    pub records_already_registered: u64,
    pub households_rejected: u64,
    pub persons_rejected: u64,
    /// Rows not stored, all files together (each counted once however many problems it had).
    pub rows_rejected: u64,
    /// Lines in the rejection report (a row may have several problems).
    pub problems: u64,
    /// Member rows rejected only because their household was rejected (included in
    /// `rows_rejected` and `persons_rejected`; each points at its household's row).
    pub members_of_rejected_households: u64,
    pub rejections_by_reason: BTreeMap<String, u64>,
    /// Rows that passed every check (equal to the accepted counts when committed).
    pub rows_valid: u64,
    pub households_without_head: u64,
    pub missing_optional_columns: Vec<String>,
    pub rejects_file: Option<String>,
    /// The changes report of re-interviews (hogar, persona, campo, antes, después).
    pub changes_file: Option<String>,
    pub unmatched_file: Option<String>,
    pub seconds: f64,
}

/// Progress of a long import, reported to the caller (the CLI draws a bar).
pub trait Progress: Sync {
    /// A new stage starts (`"hogares"`, `"miembros"`, …) over `total` units (bytes or rows).
    fn stage(&self, name: &str, total: u64);
    /// `done` units of the current stage are finished.
    fn advance(&self, done: u64);
}

/// Progress that goes nowhere (tests, library use).
pub struct NoProgress;
impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Rows per batch handed to the store.
pub(crate) const BATCH: usize = 5_000;

/// A batch of accepted records on its way to the store.
pub(crate) enum Batch {
    Communities(Vec<Community>),
    Households(Vec<Household>),
    Persons(Vec<Person>),
    Surveys(Vec<CommunitySurvey>),
    Admin(Vec<AdminRecord>),
    /// Re-interviews: households' new answers (`id` = the household re-interviewed).
    Reinterviewed(Vec<Household>),
    /// Re-interviews: each household's members, once all were read.
    Revisits(Vec<reinterview::Revisit>),
    /// Re-interviews not written (sent to review).
    Interviews(Vec<vamos_store::HouseholdInterview>),
}

/// Runs `produce` on this thread while a writer thread stores what it sends; returns the
/// producer's result and the transaction back (or the writer's error).
pub(crate) fn with_writer<'s, R>(
    tx: Box<dyn ImportTx + 's>,
    produce: impl FnOnce(&SyncSender<Batch>) -> Result<R, IngestError>,
) -> Result<(R, Box<dyn ImportTx + 's>), IngestError> {
    let (r, tx, _) = with_writer_applying(tx, None, produce)?;
    Ok((r, tx))
}

/// What [`with_writer_applying`] hands back: the producer's result, the transaction and the
/// applier.
pub(crate) type Applied<'s, 'a, R> = (R, Box<dyn ImportTx + 's>, Option<reinterview::Applier<'a>>);

/// [`with_writer`] whose writer also applies re-interviews with `applier` (handed back).
pub(crate) fn with_writer_applying<'s, 'a, R>(
    tx: Box<dyn ImportTx + 's>,
    applier: Option<reinterview::Applier<'a>>,
    produce: impl FnOnce(&SyncSender<Batch>) -> Result<R, IngestError>,
) -> Result<Applied<'s, 'a, R>, IngestError> {
    type Written<'s, 'a> = (Box<dyn ImportTx + 's>, Option<reinterview::Applier<'a>>);
    std::thread::scope(|scope| {
        let (send, recv) = sync_channel::<Batch>(2);
        let writer = scope.spawn(move || -> Result<Written<'s, 'a>, IngestError> {
            let mut tx = tx;
            let mut applier = applier;
            let no_applier =
                || IngestError::Internal("reentrevista sin su aplicador de cambios".into());
            for batch in recv {
                match batch {
                    Batch::Communities(v) => tx.insert_communities(&v)?,
                    Batch::Households(v) => tx.insert_households(&v)?,
                    Batch::Persons(v) => tx.insert_persons(&v)?,
                    Batch::Surveys(v) => tx.insert_community_surveys(&v)?,
                    Batch::Admin(v) => tx.insert_admin_records(&v)?,
                    Batch::Reinterviewed(v) => applier
                        .as_mut()
                        .ok_or_else(no_applier)?
                        .households(tx.as_mut(), v)?,
                    Batch::Revisits(v) => applier
                        .as_mut()
                        .ok_or_else(no_applier)?
                        .members(tx.as_mut(), v)?,
                    Batch::Interviews(v) => tx.insert_interviews(&v)?,
                }
            }
            Ok((tx, applier))
        });
        let produced = produce(&send);
        drop(send);
        let written = writer
            .join()
            .map_err(|_| IngestError::Internal("el hilo de escritura falló".into()))?;
        // A store error explains a producer's "channel closed" better than the producer can.
        let (tx, applier) = written?;
        Ok((produced?, tx, applier))
    })
}

/// Sends a batch, turning a closed channel (the writer failed) into an error.
pub(crate) fn send(ch: &SyncSender<Batch>, b: Batch) -> Result<(), IngestError> {
    ch.send(b)
        .map_err(|_| IngestError::Internal("la escritura en la base de datos se detuvo".into()))
}

pub use source::resolve_inputs;

/// Runs an import of the given kind over the given paths.
pub fn run_import(
    store: &mut dyn vamos_store::Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let summary = match opts.kind {
        ImportKind::Fips | ImportKind::Simplificado => fips::import(store, paths, opts, progress),
        ImportKind::Comunidades => community::import(store, paths, opts, progress),
        ImportKind::Admin => admin::import(store, paths, opts, progress),
    }?;
    if summary.committed {
        // The planner must know the tables grew (a bulk load on PostgreSQL, see the function).
        vamos_store::sql::refresh_statistics(
            &mut store.db(),
            &[
                "communities",
                "community_surveys",
                "households",
                "persons",
                "admin_records",
            ],
        )?;
    }
    Ok(summary)
}

/// What the history records about a run: kind, source, synthetic label, files.
fn meta_of(opts: &ImportOptions, summary: &ImportSummary) -> vamos_store::ImportMeta {
    vamos_store::ImportMeta {
        kind: opts.kind,
        source: opts.source.clone(),
        synthetic: summary.synthetic,
        started_at: opts.started_at.clone(),
        files: summary.files.clone(),
    }
}

/// Starts an import run: opens the rejection report, begins the transaction (the run gets its
/// id) and loads the registry snapshot the rows are checked against.
pub(crate) fn begin<'s>(
    store: &'s mut dyn vamos_store::Store,
    opts: &ImportOptions,
    summary: &mut ImportSummary,
    needs: vamos_store::SnapshotNeeds,
) -> Result<
    (
        report::RejectionLog,
        Box<dyn ImportTx + 's>,
        vamos_store::RegistrySnapshot,
    ),
    IngestError,
> {
    let log = report::RejectionLog::new(opts.rejects.as_deref())?;
    let mut tx = store.begin_import(&meta_of(opts, summary))?;
    summary.import_id = Some(tx.import_id());
    let snapshot = tx.snapshot(needs)?;
    Ok((log, tx, snapshot))
}

/// Records in the history an import refused as a whole (after its transaction rolled back).
pub(crate) fn record_refusal(
    store: &mut dyn vamos_store::Store,
    refused: Option<vamos_store::ImportMeta>,
    mut summary: ImportSummary,
    opts: &ImportOptions,
) -> Result<ImportSummary, IngestError> {
    if let Some(meta) = refused {
        let json =
            serde_json::to_string(&summary).map_err(|e| IngestError::Internal(e.to_string()))?;
        summary.import_id = Some(store.record_refused_import(&meta, &(opts.clock)(), &json)?);
    }
    Ok(summary)
}

/// Closes an import: completes the summary from the rejection report, then commits when
/// allowed, otherwise rolls back (the caller then records the refusal with [`record_refusal`]
/// once the transaction's borrow of the store has ended).
pub(crate) fn finish(
    store_tx: Box<dyn ImportTx + '_>,
    log: report::RejectionLog,
    mut summary: ImportSummary,
    opts: &ImportOptions,
    started: std::time::Instant,
) -> Result<(ImportSummary, Option<vamos_store::ImportMeta>), IngestError> {
    summary.rows_rejected = log.rows_rejected();
    summary.problems = log.problems();
    summary.rejections_by_reason = log.by_reason().clone();
    log.finish()?;
    summary.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    if opts.strict && summary.rows_rejected > 0 {
        store_tx.rollback()?;
        summary.status = "rechazada".into();
        summary.committed = false;
        summary.households_accepted = 0;
        summary.persons_accepted = 0;
        summary.communities_created = 0;
        summary.community_surveys_accepted = 0;
        summary.records_accepted = 0;
        summary.records_unmatched = 0;
        summary.import_id = None;
        let meta = meta_of(opts, &summary);
        return Ok((summary, Some(meta)));
    }
    let finished_at = (opts.clock)();
    summary.status = "completada".into();
    summary.committed = true;
    let json = serde_json::to_string(&summary).map_err(|e| IngestError::Internal(e.to_string()))?;
    store_tx.commit(&finished_at, &json)?;
    Ok((summary, None))
}
