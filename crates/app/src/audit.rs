//! Writing and reading the audit trail. Records are appended by [`write_audit`]: in the server
//! through one [`AuditWriter`] per pool — a thread with its own connection that appends every
//! queued record to the hash chain in one transaction (group commit); a request waits until its
//! record is committed before it answers, so no disclosure goes unrecorded, but concurrent
//! requests share a commit instead of queueing for the database's write lock. Elsewhere
//! (commands, tests) directly on the caller's connection. Also reading the trail and walking
//! its chain (`GET /api/audit`, `GET /api/audit/verify`, `vamos audit verify|export`) and the CSV
//! export for the data protection officer (`GET /api/audit?format=csv`, `vamos audit export`).

use crate::{Actor, Error};
use std::cell::RefCell;
use std::sync::mpsc;
use vamos_domain::csv_safe::CsvWriter;
use vamos_domain::Permission;
use vamos_store::audit as chain;
use vamos_store::{AuditEntry, Store};

pub use vamos_store::audit::{hex, sha256_hex, AuditQuery, AuditRow, Verification};

/// One queued record and where to report its commit.
type Job = (AuditEntry, mpsc::SyncSender<Result<(), String>>);

/// Most records committed together.
const MAX_BATCH: usize = vamos_store::audit::WRITER_BATCH;

/// The single writer of the audit chain (see the module documentation).
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::SyncSender<Job>,
}

impl AuditWriter {
    /// Starts the writer thread for the database at `url` (connected lazily, reconnected after
    /// an error).
    pub fn start(url: &str) -> anyhow::Result<AuditWriter> {
        let (tx, rx) = mpsc::sync_channel::<Job>(4 * MAX_BATCH);
        let url = url.to_string();
        std::thread::Builder::new()
            .name("auditoria".into())
            .spawn(move || {
                let mut store: Option<Box<dyn Store>> = None;
                // The chain head after this writer's last batch (see `append_as_writer`).
                let mut head: vamos_store::audit::Head = None;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let (entries, replies): (Vec<AuditEntry>, Vec<_>) = batch.into_iter().unzip();
                    let result = match store.as_mut() {
                        Some(s) => Ok(s),
                        None => vamos_store::open(&url).map(|s| store.insert(s)),
                    }
                    .and_then(|s| {
                        vamos_store::audit::append_as_writer(&mut s.db(), &entries, &mut head)
                    });
                    let reply = match result {
                        Ok(_) => Ok(()),
                        Err(e) => {
                            store = None;
                            head = None;
                            Err(e.to_string())
                        }
                    };
                    for r in replies {
                        let _ = r.send(reply.clone());
                    }
                }
            })?;
        Ok(AuditWriter { tx })
    }

    /// Queues `e` and waits for its commit.
    pub fn write(&self, e: AuditEntry) -> crate::Result<()> {
        self.write_all(vec![e])
    }

    /// Queues every record of `entries` (they share a commit) and waits until all are
    /// committed.
    pub fn write_all(&self, entries: Vec<AuditEntry>) -> crate::Result<()> {
        let unavailable = |why: String| {
            tracing::error!(motivo = %why, "registro de auditoría no disponible");
            Error::unavailable(
                "auditoria_no_disponible",
                "no se pudo registrar la auditoría; la consulta no se respondió",
            )
        };
        let mut waiting = Vec::with_capacity(entries.len());
        for e in entries {
            let (rtx, rrx) = mpsc::sync_channel(1);
            self.tx
                .send((e, rtx))
                .map_err(|_| unavailable("escritor detenido".into()))?;
            waiting.push(rrx);
        }
        for rrx in waiting {
            rrx.recv()
                .map_err(|_| unavailable("escritor detenido".into()))?
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

thread_local! {
    /// The audit writer of the pool whose work runs on this thread, if any.
    static WRITER: RefCell<Option<AuditWriter>> = const { RefCell::new(None) };
}

/// Appends `e` to the audit chain: through the pool's writer when called inside
/// the server's pool of connections (see [`set_thread_writer`]), else on `store` directly
/// (commands, tests).
pub fn write_audit(store: &mut dyn Store, e: AuditEntry) -> crate::Result<()> {
    match WRITER.with(|w| w.borrow().clone()) {
        Some(w) => w.write(e),
        None => {
            store.audit(&e)?;
            Ok(())
        }
    }
}

/// Makes `w` the audit writer of the work run on this thread (the server's pool sets it for
/// the duration of a request's blocking work, and clears it after).
pub fn set_thread_writer(w: Option<AuditWriter>) {
    WRITER.with(|cell| *cell.borrow_mut() = w);
}

/// The trail as CSV (RFC 4180, every cell quoted), for the data protection officer; text
/// cells a spreadsheet would run as a formula (a `purpose` such as `=HYPERLINK(…)`) are
/// neutralised by `vamos_domain::csv_safe`.
pub fn audit_csv(rows: &[chain::AuditRow]) -> crate::Result<String> {
    // The header line as it has always been (unquoted, a constant of ours); the rows quoted.
    let header = "id,fecha_hora,actor,rol,institucion,accion,tipo_sujeto,sujeto,finalidad,solicitud,resultado,hash_anterior,hash\n";
    let mut w = CsvWriter::quoting_every_cell(header.as_bytes().to_vec());
    for r in rows {
        w.write_record([
            r.id.to_string().as_str(),
            &r.at,
            &r.actor,
            r.role.as_deref().unwrap_or_default(),
            r.institution.as_deref().unwrap_or_default(),
            &r.action,
            &r.subject_kind,
            &r.subject_id,
            &r.purpose,
            r.request_id.as_deref().unwrap_or_default(),
            &r.outcome,
            r.prev_hash.as_deref().unwrap_or_default(),
            r.hash.as_deref().unwrap_or_default(),
        ])
        .map_err(Error::internal)?;
    }
    let bytes = w.into_inner().map_err(Error::internal)?;
    String::from_utf8(bytes).map_err(Error::internal)
}

/// Rows of the trail, newest first, as `q` filters them; the reading is itself audited — as an
/// export when `export` (the whole trail handed over as a file), else as a reading.
pub fn list(
    store: &mut dyn Store,
    actor: &Actor,
    q: &AuditQuery,
    export: bool,
) -> crate::Result<Vec<AuditRow>> {
    actor.require(Permission::AuditRead)?;
    let rows = chain::list(&mut store.db(), q)?;
    actor.audit(
        store,
        if export {
            "exportar auditoría"
        } else {
            "leer auditoría"
        },
        "auditoría",
        "",
        "control de protección de datos",
        &format!("ok: {} registros", rows.len()),
    )?;
    Ok(rows)
}

/// Walks the whole chain and recomputes every hash (`GET /api/audit/verify`); the check is
/// audited.
pub fn verify(store: &mut dyn Store, actor: &Actor) -> crate::Result<Verification> {
    let v = check_chain(store, actor)?;
    actor.audit(
        store,
        "verificar auditoría",
        "auditoría",
        "",
        "control de integridad",
        if v.broken.is_none() {
            "ok: íntegra"
        } else {
            "rota"
        },
    )?;
    Ok(v)
}

/// Walks the whole chain as [`verify`] does, without adding a record to it: `vamos audit
/// verify`, whose exit code says whether the chain as it stands is intact.
pub fn check_chain(store: &mut dyn Store, actor: &Actor) -> crate::Result<Verification> {
    actor.require(Permission::AuditRead)?;
    Ok(chain::verify(&mut store.db())?)
}
