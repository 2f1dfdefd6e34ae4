//! Who the command line acts as. With `--as <cuenta>` (or `VAMOS_USER`) it acts as that named
//! account of the database — checked to exist and be active, with its role, institution and
//! territories — so audit records and approvals name a real identity. Without it, commands that
//! need no identity of their own (imports, classification, administration on the server's
//! machine) are recorded under the operating-system user, marked as having no account.

use anyhow::{bail, Result};
use std::sync::OnceLock;
use vamos_app::Actor;
use vamos_domain::{Role, Scope};
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
    let Some(name) = named() else {
        return Ok(Actor::command_line(
            &std::env::var("USER").unwrap_or_else(|_| "desconocido".into()),
        ));
    };
    let Some(u) = vamos_store::accounts::user_by_name(&mut store.db(), name)? else {
        bail!("no existe la cuenta «{name}» (indicada con --as o VAMOS_USER)");
    };
    if !u.active {
        bail!("la cuenta «{name}» está desactivada");
    }
    let Some(role) = Role::parse(&u.role) else {
        bail!("la cuenta «{name}» tiene un rol desconocido «{}»", u.role);
    };
    let scope = Scope::from_stored(&u.territories).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Actor {
        name: format!("{name} (línea de órdenes)"),
        role: Some(role),
        institution: u.institution,
        scope,
        request_id: None,
        scopes: None,
        operator: false,
    })
}

/// Writes the audit record of this command's action.
pub fn record(
    store: &mut dyn Store,
    action: &str,
    kind: &str,
    subject: &str,
    purpose: &str,
    outcome: &str,
) -> Result<()> {
    actor(store)?.audit(store, action, kind, subject, purpose, outcome)?;
    Ok(())
}
