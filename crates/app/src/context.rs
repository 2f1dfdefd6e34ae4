//! Who is acting: the typed context every use case that reads or changes personal data takes,
//! and from which it writes its audit record. The HTTP crate builds it from the authenticated
//! request (session or token); the command line from the named account given with `--as`
//! (or `VAMOS_USER`); public pages act as the anonymous public.

use vamos_domain::{Permission, Role, Scope};
use vamos_store::{AuditEntry, Store};

/// The caller of a use case, as the audit trail names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// As written in the audit trail: the account name, with the token or channel if any.
    pub name: String,
    /// The account's role; `None` for the anonymous public.
    pub role: Option<Role>,
    /// The institution the account belongs to (operators).
    pub institution: Option<String>,
    /// The territories the account may act on.
    pub scope: Scope,
    /// The request this action belongs to (HTTP), for tracing an audit record to a log line.
    pub request_id: Option<String>,
    /// The permissions this credential was limited to (an API token's scopes); `None`: all
    /// that the role grants.
    pub scopes: Option<Vec<Permission>>,
    /// The command line run without an account (no `--as`): whoever holds the database's
    /// credentials on its machine, who may do all the command line offers — recorded under
    /// the operating-system user, with no role. Never set by the server.
    pub operator: bool,
}

impl Actor {
    /// The anonymous public (public pages and forms).
    pub fn public() -> Actor {
        Actor {
            name: "público".into(),
            role: Some(Role::Publico),
            institution: None,
            scope: Scope::National,
            request_id: None,
            scopes: None,
            operator: false,
        }
    }

    /// The command line without an account, as operating-system user `user`.
    pub fn command_line(user: &str) -> Actor {
        Actor {
            name: format!("{user} (línea de órdenes, sin cuenta)"),
            role: None,
            institution: None,
            scope: Scope::National,
            request_id: None,
            scopes: None,
            operator: true,
        }
    }

    /// The named account acting (the account name without the token or channel the audit
    /// trail adds); `None` for the command line without an account and the public. Maker-checker
    /// rules compare accounts, so that one person's session and token are the same checker.
    pub fn account(&self) -> Option<&str> {
        if self.operator || self.role.is_none_or(|r| r == Role::Publico) {
            return None;
        }
        self.name.split(" (").next()
    }

    /// Whether this actor may use permission `p`: the role grants it and, for a token, its
    /// scopes include it (the command line's operator: always).
    pub fn can(&self, p: Permission) -> bool {
        self.operator
            || (self.role.is_some_and(|r| r.grants(p))
                && self.scopes.as_ref().is_none_or(|s| p.within(s)))
    }

    /// `Ok` when [`Actor::can`], else a refusal naming the permission.
    pub fn require(&self, p: Permission) -> crate::Result<()> {
        if self.can(p) {
            return Ok(());
        }
        Err(crate::Error::forbidden(format!(
            "su rol ({}) o su token no permite {}",
            self.role.map_or("sin cuenta", |r| r.label()),
            p.label()
        )))
    }

    /// The audit record of an action by this actor, stamped now.
    pub fn audit_entry(
        &self,
        action: &str,
        subject_kind: &str,
        subject_id: &str,
        purpose: &str,
        outcome: &str,
    ) -> AuditEntry {
        AuditEntry {
            at: crate::clock::now_rfc3339(),
            actor: self.name.clone(),
            action: action.into(),
            subject_kind: subject_kind.into(),
            subject_id: subject_id.into(),
            purpose: purpose.into(),
            outcome: outcome.into(),
            role: self.role.map(|r| r.code().to_string()),
            institution: self.institution.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// Writes the audit record of an action by this actor (through the server's audit writer
    /// when there is one: [`crate::audit::write_audit`]).
    pub fn audit(
        &self,
        store: &mut dyn Store,
        action: &str,
        subject_kind: &str,
        subject_id: &str,
        purpose: &str,
        outcome: &str,
    ) -> crate::Result<()> {
        crate::audit::write_audit(
            store,
            self.audit_entry(action, subject_kind, subject_id, purpose, outcome),
        )
    }
}
