//! Loading files into the registry, as one use case for the command line (`vamos import …`)
//! and the web page of imports: the caller's permission is checked, the importer runs (all or
//! nothing, each rejected row reported), and the audit record names who loaded what and what
//! came of it — accepted, refused as a whole, or failed. Downloading a rejection report is
//! audited too.

use crate::{Actor, Error, Result};
use std::path::PathBuf;
use vamos_domain::{ImportKind, Permission};
use vamos_ingest::{ImportOptions, ImportSummary, IngestError, Progress};
use vamos_store::Store;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub kind: ImportKind,
    /// The files (or folders, ZIPs of ODK Central, XLSX).
    pub paths: Vec<PathBuf>,
    /// Source institution or operator (`UTGS`, `MEC`, …).
    pub source: Option<String>,
    /// Commit nothing if any row is rejected.
    pub strict: bool,
    /// `Some` forces the synthetic label; `None` detects it from the files' manifest.
    pub synthetic: Option<bool>,
    /// The date the import runs (dates after it are "in the future").
    pub import_date: chrono::NaiveDate,
    /// Where the rejection report is written.
    pub rejects: Option<PathBuf>,
    /// FIPS: where what re-interviews changed is written (hogar, persona, campo, antes, después).
    pub changes: Option<PathBuf>,
    /// Administrative records: where records whose cédula matched nobody are listed.
    pub unmatched: Option<PathBuf>,
    /// Administrative records: the linkage model's settings file for the records without a
    /// cédula match (`None`: the shipped `admin_registro.toml`).
    pub linkage_settings: Option<PathBuf>,
    /// Why (kept in the audit record).
    pub purpose: String,
}

/// Runs an import as `actor` and records it in the audit trail. A refused or failed import is
/// audited too; the error is returned after its record is written.
pub fn run(
    store: &mut dyn Store,
    actor: &Actor,
    req: &ImportRequest,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    actor.require(Permission::RegistryLoad)?;
    let opts = ImportOptions {
        kind: req.kind,
        source: req.source.clone(),
        strict: req.strict,
        synthetic: req.synthetic,
        import_date: req.import_date,
        started_at: crate::clock::now_rfc3339(),
        rejects: req.rejects.clone(),
        changes: req.changes.clone(),
        unmatched: req.unmatched.clone(),
        clock: crate::clock::now_rfc3339,
    };
    let r = vamos_ingest::run_import(store, &req.paths, &opts, progress);
    let (outcome, id) = match &r {
        Ok(s) => (
            format!(
                "{}: {} filas válidas, {} rechazadas",
                s.status, s.rows_valid, s.rows_rejected
            ),
            s.import_id.map(|i| i.to_string()).unwrap_or_default(),
        ),
        Err(e) => (format!("error: {e}"), String::new()),
    };
    let files: Vec<String> = req
        .paths
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    actor.audit(
        store,
        "importar archivos",
        "importación",
        &format!("{id} ({}: {})", req.kind.as_str(), files.join(", ")),
        &req.purpose,
        &outcome,
    )?;
    // The rejection report stays with the import (the history offers it later); after the audit
    // record, which an import that committed must have whatever happens next.
    if let (Ok(s), Some(path)) = (&r, &req.rejects) {
        if let (Some(id), true) = (s.import_id, s.rows_rejected > 0) {
            keep_rejects(store, id, path)?;
        }
    }
    let mut s = r.map_err(ingest_error)?;
    if req.kind == ImportKind::Admin && s.committed && s.records_accepted > 0 {
        link_records(
            store,
            actor,
            &mut s,
            req.linkage_settings.as_deref(),
            progress,
        );
    }
    Ok(s)
}

/// Record linkage of a committed administrative import's records without a cédula match. The
/// import stands whatever happens here: a failure is reported in the summary (and audited by
/// the linkage), and `vamos linkage admin` links them later.
fn link_records(
    store: &mut dyn Store,
    actor: &Actor,
    s: &mut ImportSummary,
    settings: Option<&std::path::Path>,
    progress: &dyn Progress,
) {
    progress.stage("enlace de registros sin cédula", 1);
    match crate::linkage::admin::link(store, actor, s.import_id, settings) {
        Ok(o) => {
            s.records_linked = o.records_linked;
            s.records_national_id_doubted = o.records_national_id_doubted;
            s.records_for_review = o.records_for_review;
            s.linkage_model = o.model_version;
            s.linkage_seconds = o.seconds;
        }
        Err(e) => s.linkage_error = Some(e.to_string()),
    }
    progress.advance(1);
}

/// Records that `actor` downloads the rejection report of an import (it holds the rejected
/// rows, personal data included): the web page of an import job, before it hands the file over.
pub fn record_rejects_download(store: &mut dyn Store, actor: &Actor, subject: &str) -> Result<()> {
    actor.require(Permission::RegistryLoad)?;
    actor.audit(
        store,
        "descargar informe de rechazos",
        "importación",
        subject,
        "corrección de datos (aplicación web)",
        "ok",
    )
}

/// The most of a rejection report the store keeps (its first rows; the file the importer wrote
/// keeps them all).
pub const REJECTS_KEPT: usize = 16 * 1024 * 1024;

fn keep_rejects(store: &mut dyn Store, import_id: i64, path: &std::path::Path) -> Result<()> {
    let Ok(mut bytes) = std::fs::read(path) else {
        return Ok(());
    };
    let truncated = bytes.len() > REJECTS_KEPT;
    if truncated {
        // Whole rows only: cut after the last line break within the limit.
        let end = bytes
            .get(..REJECTS_KEPT)
            .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
            .map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    vamos_store::rejects::save(&mut store.db(), import_id, &bytes, truncated)?;
    Ok(())
}

/// The rejection report kept with import `import_id` (its rows, and whether it was cut short),
/// for `actor`, who needs to load data; the download is audited.
pub fn rejects(store: &mut dyn Store, actor: &Actor, import_id: i64) -> Result<(Vec<u8>, bool)> {
    actor.require(Permission::RegistryLoad)?;
    let found = vamos_store::rejects::get(&mut store.db(), import_id)?;
    actor.audit(
        store,
        "descargar informe de rechazos",
        "importación",
        &import_id.to_string(),
        "corrección de datos",
        if found.is_some() {
            "ok"
        } else {
            "no encontrado"
        },
    )?;
    found.ok_or_else(|| {
        Error::not_found(format!(
            "la importación {import_id} no tiene informe de rechazos guardado"
        ))
    })
}

/// Which of the imports `ids` have a rejection report kept.
pub fn with_rejects(store: &mut dyn Store, ids: &[i64]) -> Result<Vec<i64>> {
    Ok(vamos_store::rejects::kept(&mut store.db(), ids)?)
}

/// An importer's failure as a use-case error: what the operator can fix keeps its message.
fn ingest_error(e: IngestError) -> Error {
    match e {
        IngestError::Store(s) => s.into(),
        IngestError::Internal(m) => Error::internal(m),
        other => Error::bad_request(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_keeps_its_message_for_the_operator() {
        let e = ingest_error(IngestError::Unreadable {
            file: "hogares.csv".into(),
            reason: "no existe".into(),
        });
        assert_eq!(e.kind, crate::ErrorKind::Invalid);
        assert!(e.message.contains("hogares.csv"), "{}", e.message);
    }
}
