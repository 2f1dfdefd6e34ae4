//! Who the command line acts as. With `--as <cuenta>` (or `VAMOS_USER`) it acts as that named
//! account of the database — checked to exist and be active, with its role, institution and
//! territories — so the use cases check that account's permissions, and audit records and
//! approvals name a real identity. Without it, a command acts as the machine's operator
//! (imports, classification, administration on the server's machine), recorded under the
//! operating-system user and marked as having no account. The use cases write the records.

use anyhow::Result;
use std::sync::OnceLock;
use vamos_app::Actor;
use vamos_store::Store;

static AS_USER: OnceLock<Option<String>> = OnceLock::new();

/// Sets the account given on the command line (called once, by `main`).
pub fn set(user: Option<String>) {
    let _ = AS_USER.set(user.filter(|u| !u.trim().is_empty()));
}

/// The account named with `--as` / `VAMOS_USER`, if any.
pub fn named() -> Option<&'static str> {
    AS_USER.get().and_then(|u| u.as_deref())
}

/// The actor of this command on `store`: the named account, or the operating-system user.
pub fn actor(store: &mut dyn Store) -> Result<Actor> {
    match named() {
        None => Ok(Actor::command_line(
            &std::env::var("USER").unwrap_or_else(|_| "desconocido".into()),
        )),
        Some(name) => Ok(vamos_app::accounts::command_line_actor(store, name)?),
    }
}
