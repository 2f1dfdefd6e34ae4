//! Backups of the database (`vamos backup`, `vamos restore`): a consistent copy of a SQLite
//! file taken while others keep reading and writing, the integrity check of a copy before it
//! replaces a database, and the audit record of each. PostgreSQL's copies are made by its own
//! tools (`pg_dump`, `pg_restore`), which the command line runs.
//!
//! No permission of the role table guards these: a backup is made, and a copy restored, by
//! whoever holds the database's own credentials on its machine; the account named, if any, is
//! who the audit trail records.

use crate::Actor;
use anyhow::Context;
use vamos_store::audit::Verification;
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

/// After a copy was restored into `store`: walks the audit chain as it came back (what it
/// found is returned for the operator) and records the restoration by `actor`.
pub fn record_restore(store: &mut dyn Store, actor: &Actor) -> crate::Result<Verification> {
    let chain = vamos_store::audit::verify(&mut store.db())?;
    actor.audit(
        store,
        "restaurar copia de seguridad",
        "base de datos",
        "",
        "respaldo",
        "ok",
    )?;
    Ok(chain)
}
