//! Backups of the database (`vamos backup`, `vamos restore`): a consistent copy of a SQLite
//! file taken while others keep reading and writing, the integrity check of a copy before it
//! replaces a database, and the audit record of each. PostgreSQL's copies are made by its own
//! tools (`pg_dump`, `pg_restore`), which the command line runs. Every copy carries the audit
//! chain's keyed checkpoint — recorded in the database just before it is copied — and a
//! restored copy goes back to it: the checkpoint file outside the database is replaced by the
//! copy's, and the restoration says which.
//!
//! No permission of the role table guards these: a backup is made, and a copy restored, by
//! whoever holds the database's own credentials on its machine; the account named, if any, is
//! who the audit trail records.

use crate::audit::{installed, refresh_checkpoint, Checkpoint};
use crate::{Actor, Error};
use anyhow::Context;
use vamos_store::audit::{self as chain, Verification};
use vamos_store::Store;

/// SQLite: writes a consistent, compacted copy of the database to `path`.
pub fn copy_sqlite(store: &mut dyn Store, path: &str) -> anyhow::Result<()> {
    vamos_store::sqlite_copy_to(&mut store.db(), path).context("no se pudo escribir la copia")
}

/// SQLite: the database's own integrity check (`ok` when sound, else what is wrong).
pub fn integrity_check(store: &mut dyn Store) -> anyhow::Result<String> {
    Ok(vamos_store::sqlite_integrity_check(&mut store.db())?)
}

/// Records a backup of `bytes` bytes made by `actor`.
pub fn record_backup(store: &mut dyn Store, actor: &Actor, bytes: u64) -> crate::Result<()> {
    actor.audit(
        store,
        "copia de seguridad",
        "base de datos",
        "",
        "respaldo",
        &format!("ok: {bytes} bytes"),
    )
}

/// Before a copy is made: brings the audit checkpoint up to the chain's head and records it in
/// the database, so that the copy carries it; returns it (`None`: the chain is empty).
pub fn record_checkpoint(store: &mut dyn Store) -> crate::Result<Option<Checkpoint>> {
    let config = installed()?;
    refresh_checkpoint(store, &config)?;
    let checkpoint = config
        .checkpoint
        .read()
        .map_err(|why| Error::unavailable("punto_de_control_ilegible", why))?;
    if let Some(c) = &checkpoint {
        chain::record_checkpoint(
            &mut store.db(),
            c,
            "copia de seguridad",
            &crate::clock::now_rfc3339(),
        )?;
    }
    Ok(checkpoint)
}

/// What a restoration found.
#[derive(Debug)]
pub struct Restored {
    /// The checkpoint the copy carried, which the checkpoint file now holds (`None`: the copy
    /// carried none sealed with this key — made before checkpoints, or under another key).
    pub checkpoint: Option<Checkpoint>,
    /// The key id of checkpoints the copy carried sealed with another key, if any.
    pub other_key: Option<String>,
    /// The audit chain as it came back, checked against that checkpoint.
    pub chain: Verification,
}

/// After a copy was restored into `store`: takes the latest checkpoint the copy carries (sealed
/// with this key) as the checkpoint file's — the copy's rows after it are then checked to run
/// through it —, or, for a copy without one, the restored chain's head; walks the chain against
/// it; records the restoration by `actor`.
pub fn record_restore(store: &mut dyn Store, actor: &Actor) -> crate::Result<Restored> {
    let config = installed()?;
    let carried = chain::recorded_checkpoints(&mut store.db())?;
    let checkpoint = carried
        .iter()
        .filter(|c| c.is_authentic(config.key()))
        .max_by_key(|c| c.head_id)
        .cloned();
    let other_key = carried
        .iter()
        .find(|c| c.key_id != config.key().id())
        .map(|c| c.key_id.clone());
    let restart = match &checkpoint {
        Some(c) => Some(c.clone()),
        None => chain::last_row(&mut store.db())?.and_then(|r| {
            Some(Checkpoint::seal(
                config.key(),
                r.id,
                &r.hash?,
                &crate::clock::now_rfc3339(),
            ))
        }),
    };
    let written = match &restart {
        Some(c) => config.checkpoint.replace(c),
        None => match std::fs::remove_file(config.checkpoint.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    };
    written.map_err(|e| {
        Error::unavailable(
            "punto_de_control_no_escrito",
            format!(
                "no se pudo escribir el punto de control {}: {e}",
                config.checkpoint.path().display()
            ),
        )
    })?;
    let chain = crate::audit::walk_against_checkpoint(store, &config)?;
    actor.audit(
        store,
        "restaurar copia de seguridad",
        "base de datos",
        "",
        "respaldo",
        &match &checkpoint {
            Some(c) => format!("ok: punto de control del {}, {} registros", c.at, c.rows),
            None => "ok: la copia no traía punto de control".into(),
        },
    )?;
    Ok(Restored {
        checkpoint,
        other_key,
        chain,
    })
}
