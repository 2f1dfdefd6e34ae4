//! Writing and reading the audit trail. Records are appended by [`write_audit`]: in the server
//! through one [`AuditWriter`] per pool — a thread with its own connection that appends every
//! queued record to the chain in one transaction (group commit); a request waits until its
//! record is committed before it answers, so no disclosure goes unrecorded, but concurrent
//! requests share a commit instead of queueing for the database's write lock. Elsewhere
//! (commands) directly on the caller's connection. Every record is sealed with the chain's key
//! when it is written, and after each commit the writer advances the checkpoint kept outside
//! the database ([`checkpoint`]); the key and the checkpoint file are the process's audit
//! configuration ([`keys`]), without which no record is written. Also reading the trail and
//! walking its chain against the checkpoint (`GET /api/audit`, `GET /api/audit/verify`,
//! `vamos audit verify|export`) and the CSV export for the data protection officer
//! (`GET /api/audit?format=csv`, `vamos audit export`). Design: `docs/design/audit.md`.

pub mod checkpoint;
pub mod keys;

use crate::{Actor, Error};
use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::Arc;
use vamos_domain::csv_safe::CsvWriter;
use vamos_domain::Permission;
use vamos_store::audit::{self as chain, Segment};
use vamos_store::{AuditEntry, Store};

pub use checkpoint::{Advance, CheckpointFile};
pub use keys::{install, installed, AuditConfig, AuditFiles, AuditPaths};
pub use vamos_store::audit::{hex, sha256_hex, AuditQuery, AuditRow, Checkpoint, Verification};

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
    /// an error), sealing with `config`'s key and advancing its checkpoint after each commit.
    pub fn start(url: &str, config: Arc<AuditConfig>) -> anyhow::Result<AuditWriter> {
        let (tx, rx) = mpsc::sync_channel::<Job>(4 * MAX_BATCH);
        let url = url.to_string();
        std::thread::Builder::new()
            .name("auditoria".into())
            .spawn(move || {
                let mut store: Option<Box<dyn Store>> = None;
                // The chain head after this writer's last batch (see `append_as_writer`).
                let mut head: chain::Head = None;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let (entries, replies): (Vec<AuditEntry>, Vec<_>) = batch.into_iter().unzip();
                    let reply = commit_batch(&mut store, &url, &config, &entries, &mut head)
                        .map_err(|e| {
                            store = None;
                            head = None;
                            e.to_string()
                        });
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

/// Appends one batch of the writer's records on its connection (opened if need be), then
/// advances the checkpoint; a checkpoint that cannot be written is logged, not answered to the
/// requests: their records are committed.
fn commit_batch(
    store: &mut Option<Box<dyn Store>>,
    url: &str,
    config: &AuditConfig,
    entries: &[AuditEntry],
    head: &mut chain::Head,
) -> vamos_store::Result<()> {
    let s = match store {
        Some(s) => s,
        None => store.insert(vamos_store::open(url)?),
    };
    let segment = chain::append_as_writer(&mut s.db(), config.key(), entries, head)?;
    if let Err(e) = config.after_commit(&mut s.db(), &segment) {
        tracing::error!(motivo = %e, "punto de control de auditoría no escrito");
    }
    Ok(())
}

impl AuditConfig {
    /// After a commit that appended `segment`: advances the checkpoint ([`CheckpointFile::advance`]).
    /// A checkpoint the chain no longer runs through is left as it is and logged — `verify`
    /// reports it —; a file that cannot be written is an error.
    pub fn after_commit(
        &self,
        db: &mut vamos_store::Db<'_>,
        segment: &Segment,
    ) -> crate::Result<()> {
        match self
            .checkpoint
            .advance(self.key(), db, segment, &crate::clock::now_rfc3339())
        {
            Ok(Advance::Diverged(why)) => {
                tracing::error!(motivo = %why, "punto de control de auditoría no avanzado");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(Error::unavailable(
                "punto_de_control_no_escrito",
                format!(
                    "el registro de auditoría quedó guardado, pero no se pudo escribir su punto de control {}: {e}",
                    self.checkpoint.path().display()
                ),
            )),
        }
    }
}

thread_local! {
    /// The audit writer of the pool whose work runs on this thread, if any.
    static WRITER: RefCell<Option<AuditWriter>> = const { RefCell::new(None) };
}

/// Appends `e` to the audit chain: through the pool's writer when called inside
/// the server's pool of connections (see [`set_thread_writer`]), else on `store` directly
/// (commands, the server's background work), sealed with the installed key ([`install`]) and
/// followed by the checkpoint; without a key, nothing is written and the caller is refused.
pub fn write_audit(store: &mut dyn Store, e: AuditEntry) -> crate::Result<()> {
    match WRITER.with(|w| w.borrow().clone()) {
        Some(w) => w.write(e),
        None => {
            let config = installed()?;
            let segment = chain::append(&mut store.db(), config.key(), &e)?;
            config.after_commit(&mut store.db(), &segment)
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

/// Walks the whole chain, recomputing every seal, and checks it against the checkpoint
/// (`GET /api/audit/verify`); the check is audited.
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
    let config = installed()?;
    walk_against_checkpoint(store, &config)
}

/// The chain of `store` walked with `config`'s key against its checkpoint file; a file that
/// cannot be read as a checkpoint breaks the verification as a missing one would.
pub(crate) fn walk_against_checkpoint(
    store: &mut dyn Store,
    config: &AuditConfig,
) -> crate::Result<Verification> {
    let (checkpoint, unreadable) = match config.checkpoint.read() {
        Ok(c) => (c, None),
        Err(why) => (None, Some(why)),
    };
    let mut v = chain::verify(&mut store.db(), config.key(), checkpoint.as_ref())?;
    if let (Some(why), Some((0, _))) = (unreadable, &v.broken) {
        v.broken = Some((0, format!("punto de control ilegible: {why}")));
    }
    Ok(v)
}

/// The checkpoint the trail is checked against (`vamos audit export` and the API's CSV export
/// carry it).
pub fn current_checkpoint(actor: &Actor) -> crate::Result<Option<Checkpoint>> {
    actor.require(Permission::AuditRead)?;
    installed()?
        .checkpoint
        .read()
        .map_err(|why| Error::unavailable("punto_de_control_ilegible", why))
}

/// Brings the checkpoint up to the chain's current head (`vamos db init`, before a backup):
/// only a head whose seal is sound, and only along the chain the checkpoint vouches for.
pub fn refresh_checkpoint(store: &mut dyn Store, config: &AuditConfig) -> crate::Result<()> {
    let Some(last) = chain::last_row(&mut store.db())? else {
        return Ok(());
    };
    let (Some(prev), Some(hash)) = (last.prev_hash.clone(), last.hash.clone()) else {
        return Ok(());
    };
    let sound = config.key().row_seal(&prev, &last) == hash
        || chain::unkeyed_row_hash(&prev, &last) == hash;
    if !sound {
        return Ok(());
    }
    let segment = Segment {
        first_id: last.id,
        prev,
        seals: vec![hash],
    };
    config.after_commit(&mut store.db(), &segment)
}

/// What [`prepare`] found or did, for the command to tell.
#[derive(Debug)]
pub struct Prepared {
    pub config: Arc<AuditConfig>,
    /// The key did not exist and was created.
    pub created_key: bool,
    /// Rows sealed before the chain was keyed, now anchored by a first keyed record.
    pub anchored: u64,
    /// Where a checkpoint left by a database that no longer exists was moved.
    pub set_aside: Option<std::path::PathBuf>,
}

/// At `vamos db init`, once migrated: the audit configuration of database `db_url` (files named
/// in `files`, else the defaults), installed for the process. The key is read, or created when
/// missing and no row of the chain was sealed with a key yet (a new database, or one written by
/// an earlier version, whose rows are then anchored by a first keyed record written by
/// `actor`); a missing key for a chain already keyed is an error, since a new one would not
/// verify its rows. `new_database`: the database did not exist before (a SQLite file created
/// now) — a checkpoint found at its path belongs to one removed from disk and is set aside.
/// Finally the checkpoint is brought up to the chain's head.
pub fn prepare(
    store: &mut dyn Store,
    actor: &Actor,
    db_url: &str,
    files: &AuditFiles,
    new_database: bool,
) -> crate::Result<Prepared> {
    let paths = AuditPaths::of(db_url, files)?;
    let unkeyed = chain::unkeyed(&mut store.db())?;
    let created_key = !paths.key.exists();
    let key = if !created_key {
        keys::read_key(&paths.key)?
    } else if unkeyed {
        keys::create_key(&paths.key)?
    } else {
        return Err(Error::unavailable(
            "sin_clave_de_auditoria",
            format!(
                "la base ya tiene registros de auditoría sellados con una clave, y no hay clave en {}: indique el archivo de esa clave con {} (una clave nueva no verificaría esos registros)",
                paths.key.display(),
                keys::KEY_FILE_ENV
            ),
        ));
    };
    let set_aside = if new_database {
        set_aside_checkpoint(&paths.checkpoint)?
    } else {
        None
    };
    let config = Arc::new(AuditConfig::with_key(key, paths)?);
    config.checkpoint.check_writable()?;
    install(config.clone());
    let rows = chain::last_row(&mut store.db())?.map_or(0, |r| r.id);
    let anchored = if unkeyed && rows > 0 {
        actor.audit(
            store,
            "sellar registro de auditoría con clave",
            "auditoría",
            "",
            "control de integridad",
            &format!("ok: {rows} registros anteriores anclados"),
        )?;
        u64::try_from(rows).unwrap_or_default()
    } else {
        0
    };
    refresh_checkpoint(store, &config)?;
    Ok(Prepared {
        config,
        created_key,
        anchored,
        set_aside,
    })
}

/// Moves a checkpoint at `path` aside (`<path>.anterior-<time>`), returning where.
fn set_aside_checkpoint(path: &std::path::Path) -> crate::Result<Option<std::path::PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let stamp = crate::clock::now().format("%Y%m%dT%H%M%S");
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".anterior-{stamp}"));
    let to = std::path::PathBuf::from(name);
    std::fs::rename(path, &to).map_err(|e| {
        Error::unavailable(
            "punto_de_control_no_movido",
            format!("no se pudo apartar {}: {e}", path.display()),
        )
    })?;
    Ok(Some(to))
}

/// Creates a key for database `db_url` at `out`, or where `files` and the defaults put it
/// (`vamos audit key init`); returns its path and the key's public id.
pub fn create_key_for(
    db_url: &str,
    files: &AuditFiles,
    out: Option<&std::path::Path>,
) -> crate::Result<(std::path::PathBuf, String)> {
    let path = match out {
        Some(p) => p.to_path_buf(),
        None => AuditPaths::of(db_url, files)?.key,
    };
    let key = keys::create_key(&path)?;
    Ok((path, key.id().to_string()))
}
