//! Attacks on the audit trail (issue 35, item 2), each against a real database of every backend
//! under test and caught by `vamos audit verify` — the command an operator runs. One test per
//! attack, named after it, readable top to bottom.
//!
//! The trail of each test is written by the `vamos` commands themselves. The database refuses
//! to change or delete audit rows (triggers); to act as an attacker who owns the database (and
//! so can drop them), a test drops the triggers first, then tampers with plain SQL — editing a
//! row, nulling every seal, deleting the last rows, appending a row sealed without the key.
//! What catches each: the seals are an HMAC whose key is a file outside the database; no seal
//! is ever added after the fact; truncation is measured against a keyed checkpoint kept outside
//! the database. Last, the deployment that keeps the server's own role from rewriting the trail
//! on PostgreSQL: migrations as the owner, the server as a role with only SELECT and INSERT on
//! the audit tables.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Output;
use vamos_store::audit::{unkeyed_row_hash, AuditRow};
use vamos_store::testing::{all_dbs, RawSql, TestDb};
use vamos_store::Store;

mod common;
use common::*;

/// A database with a short audit trail written by the command line, in a folder of its own.
struct Trail {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Trail {
    fn url(&self) -> &str {
        &self.db.url
    }

    fn d(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `vamos` on this trail's database (`--db` appended).
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--db", self.url()]);
        vamos(&all, self.d(), &[])
    }

    /// One more audited action (an export of the trail, recorded in it).
    fn audited_action(&self, n: usize) {
        let out = format!("auditoria-{n}.csv");
        let o = self.run(&["audit", "export", "--out", &out]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    fn verify(&self) -> Output {
        self.run(&["audit", "verify"])
    }

    /// A connection as the database's owner (the suites' superuser on PostgreSQL).
    fn owner(&self) -> Box<dyn Store> {
        vamos_store::open(self.url()).unwrap()
    }

    /// The number of audit rows.
    fn rows(&self) -> i64 {
        self.owner()
            .db()
            .query_opt("SELECT count(*) FROM audit_log", &[])
            .unwrap()
            .and_then(|r| r.int(0))
            .unwrap()
    }

    /// Drops the triggers that refuse changes to audit rows, as the owner can.
    fn drop_triggers(&self) {
        let sql = if self.db.label == "sqlite" {
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
        } else {
            "DROP TRIGGER audit_log_append_only ON audit_log; DROP TRIGGER audit_log_no_truncate ON audit_log;"
        };
        self.owner().db().batch(sql).unwrap();
    }
}

/// A fresh trail on every backend under test: `db init` (the first administrator's creation)
/// and three exports, each audited.
fn trails() -> Vec<Trail> {
    all_dbs()
        .into_iter()
        .map(|db| {
            let t = Trail {
                db,
                dir: tempfile::tempdir().unwrap(),
            };
            init_db(t.url(), t.d());
            for n in 0..3 {
                t.audited_action(n);
            }
            assert_eq!(t.rows(), 4, "{}", t.db.label);
            t
        })
        .collect()
}

/// `o` is `vamos audit verify` reporting the chain broken, with `needle` in its message.
fn reported(o: &Output, needle: &str, label: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{label}: {err}");
    assert!(
        err.contains("Registro de auditoría ROTO") && err.contains(needle),
        "{label}: «{needle}» not in: {err}"
    );
}

fn intact(o: &Output, label: &str) {
    assert!(
        o.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The last row of the trail, as stored.
fn last_row(t: &Trail) -> AuditRow {
    vamos_store::audit::last_row(&mut t.owner().db())
        .unwrap()
        .unwrap()
}

/// Inserts `r` as it stands (`INSERT` is what the server's role may do).
fn insert_row(t: &Trail, r: &AuditRow) {
    insert_row_in(t.owner().as_mut(), r);
}

/// A record an attacker adds after the head: an export nobody made.
fn forged_after(last: &AuditRow) -> AuditRow {
    AuditRow {
        id: last.id + 1,
        at: last.at.clone(),
        actor: "admin".into(),
        role: Some("administrador".into()),
        institution: None,
        action: "exportar auditoría".into(),
        subject_kind: "auditoría".into(),
        subject_id: String::new(),
        purpose: "control de protección de datos".into(),
        request_id: None,
        outcome: "ok: 0 registros".into(),
        prev_hash: last.hash.clone(),
        hash: None,
    }
}

#[test]
fn the_database_refuses_updates_and_deletes_of_audit_rows() {
    for t in trails() {
        let label = t.db.label;
        let mut s = t.owner();
        let mut refused = |sql: &str| {
            let e = s.db().execute(sql, &[]).unwrap_err().to_string();
            assert!(
                e.contains("no se modifica ni se borra"),
                "{label}: {sql}: {e}"
            );
        };
        refused("UPDATE audit_log SET actor = 'otro' WHERE id = 2");
        refused("UPDATE audit_log SET hash = NULL, prev_hash = NULL");
        refused("DELETE FROM audit_log WHERE id = 4");
        if label == "postgres" {
            refused("TRUNCATE audit_log");
        }
        assert_eq!(t.rows(), 4, "{label}");
        intact(&t.verify(), label);
    }
}

#[test]
fn an_edited_audit_row_is_reported_by_verify() {
    for t in trails() {
        t.drop_triggers();
        t.owner()
            .db()
            .execute("UPDATE audit_log SET actor = 'otro' WHERE id = 2", &[])
            .unwrap();
        reported(&t.verify(), "registro inválido 2", t.db.label);
    }
}

#[test]
fn an_edited_chain_sealed_again_without_the_key_is_reported() {
    for t in trails() {
        t.drop_triggers();
        // Row 2 edited, then it and every later row sealed again with the plain SHA-256 the
        // chain used before it was keyed — all an attacker without the key can compute.
        let mut s = t.owner();
        s.db()
            .execute(
                "UPDATE audit_log SET outcome = 'ok: 0 registros' WHERE id = 2",
                &[],
            )
            .unwrap();
        let rows = vamos_store::audit::list(
            &mut s.db(),
            &vamos_store::audit::AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
        let mut prev = rows
            .iter()
            .find(|r| r.id == 1)
            .unwrap()
            .hash
            .clone()
            .unwrap();
        for r in rows.iter().rev().filter(|r| r.id >= 2) {
            let hash = unkeyed_row_hash(&prev, r);
            s.db()
                .execute(
                    "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3",
                    &[prev.as_str().into(), hash.as_str().into(), r.id.into()],
                )
                .unwrap();
            prev = hash;
        }
        reported(&t.verify(), "registro inválido 2", t.db.label);
    }
}

#[test]
fn nulling_the_hashes_does_not_make_a_forged_chain_pass() {
    for t in trails() {
        let label = t.db.label;
        t.drop_triggers();
        let mut s = t.owner();
        s.db()
            .execute("UPDATE audit_log SET hash = NULL, prev_hash = NULL", &[])
            .unwrap();
        s.db()
            .execute("UPDATE audit_log SET actor = 'otro' WHERE id = 2", &[])
            .unwrap();
        reported(
            &t.verify(),
            "registro inválido 1: registro sin sello",
            label,
        );
        // The next audited action does not seal the forged rows: they stay without a seal,
        // and the chain stays broken.
        t.audited_action(9);
        let unsealed = s
            .db()
            .query_opt("SELECT count(*) FROM audit_log WHERE hash IS NULL", &[])
            .unwrap()
            .and_then(|r| r.int(0))
            .unwrap();
        assert_eq!(unsealed, 4, "{label}");
        reported(
            &t.verify(),
            "registro inválido 1: registro sin sello",
            label,
        );
    }
}

#[test]
fn deleting_the_last_audit_rows_is_detected_as_truncation() {
    for t in trails() {
        let label = t.db.label;
        t.drop_triggers();
        t.owner()
            .db()
            .execute("DELETE FROM audit_log WHERE id >= 3", &[])
            .unwrap();
        reported(&t.verify(), "faltan los últimos registros", label);
        // Records written after the deletion take the deleted rows' ids, and are sealed
        // soundly: the checkpoint still shows that the chain was cut and written again.
        let o = t.run(&["user", "create", "nueva", "--role", "analista"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        reported(&t.verify(), "faltan los últimos registros", label);
        t.audited_action(8);
        t.audited_action(9);
        reported(
            &t.verify(),
            "registros borrados y vueltos a escribir",
            label,
        );
    }
}

#[test]
fn deleting_every_audit_row_is_detected_as_truncation() {
    for t in trails() {
        t.drop_triggers();
        t.owner()
            .db()
            .execute("DELETE FROM audit_log", &[])
            .unwrap();
        reported(&t.verify(), "faltan los últimos registros", t.db.label);
    }
}

#[test]
fn an_appended_row_without_a_valid_mac_is_reported() {
    for t in trails() {
        // Linked to the head and sealed as the chain was before keys: what an attacker who
        // can INSERT, but has no key, can make.
        let mut forged = forged_after(&last_row(&t));
        forged.hash = Some(unkeyed_row_hash(
            forged.prev_hash.as_deref().unwrap(),
            &forged,
        ));
        insert_row(&t, &forged);
        reported(
            &t.verify(),
            "registro inválido 5: el contenido no coincide con su sello",
            t.db.label,
        );
    }
}

#[test]
fn an_appended_row_with_a_null_hash_is_reported() {
    for t in trails() {
        let mut forged = forged_after(&last_row(&t));
        forged.prev_hash = None;
        insert_row(&t, &forged);
        reported(
            &t.verify(),
            "registro inválido 5: registro sin sello",
            t.db.label,
        );
    }
}

#[test]
fn an_edited_checkpoint_is_reported() {
    for t in trails() {
        let file = vamos_store::testing::audit_checkpoint_file(t.url());
        let text = std::fs::read_to_string(&file).unwrap();
        let mut c: serde_json::Value = serde_json::from_str(&text).unwrap();
        // Pulled back to the second row, to hide two deleted ones.
        c["rows"] = 2.into();
        c["head_id"] = 2.into();
        std::fs::write(&file, c.to_string()).unwrap();
        reported(
            &t.verify(),
            "el punto de control no es auténtico",
            t.db.label,
        );
    }
}

#[test]
fn a_chain_verified_with_another_key_is_reported() {
    for t in trails() {
        let other = t.d().join("otra.key");
        let made = vamos(
            &["audit", "key", "init", "--db", t.url(), "--out", "otra.key"],
            t.d(),
            &[],
        );
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let o = vamos(
            &["audit", "verify", "--db", t.url()],
            t.d(),
            &[("VAMOS_AUDIT_KEY_FILE", other.to_str().unwrap())],
        );
        reported(
            &o,
            "registro inválido 1: el contenido no coincide con su sello",
            t.db.label,
        );
    }
}

#[test]
fn no_command_writes_audit_records_without_the_key() {
    for t in trails() {
        let key = vamos_store::testing::audit_key_file(t.url());
        std::fs::rename(&key, t.d().join("apartada.key")).unwrap();
        let o = t.run(&["audit", "export", "--out", "sin-clave.csv"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("no se pudo leer la clave de auditoría")
                && err.contains("vamos audit key init"),
            "{err}"
        );
        assert_eq!(t.rows(), 4, "nothing written: {}", t.db.label);
    }
}

#[test]
fn the_server_refuses_to_start_without_the_key() {
    for t in trails() {
        let key = vamos_store::testing::audit_key_file(t.url());
        std::fs::remove_file(&key).unwrap();
        let o = t.run(&["serve", "--addr", "127.0.0.1:0"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("clave de auditoría"), "{err}");
    }
}

#[test]
fn the_audit_export_carries_the_checkpoint() {
    for t in trails() {
        let o = t.run(&["audit", "export", "--out", "final.csv"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let side = t.d().join("final.csv.punto-de-control.json");
        let c: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(side).unwrap()).unwrap();
        // The export's own record is row 5, written before the checkpoint was read.
        assert_eq!(c["head_id"], 5, "{}", t.db.label);
        assert_eq!(c["head_hash"].as_str(), last_row(&t).hash.as_deref());
        assert!(c["mac"].as_str().is_some_and(|m| m.len() == 64));
    }
}

#[test]
fn a_chain_written_before_the_key_is_anchored_by_db_init() {
    for db in all_dbs() {
        let label = db.label;
        let dir = tempfile::tempdir().unwrap();
        // A database of an earlier version: migrated, with two rows sealed by plain SHA-256.
        let mut s = db.open();
        let mut prev = vamos_store::audit::GENESIS.to_string();
        for id in 1..=2 {
            let mut r = AuditRow {
                id,
                at: "2026-01-02T10:00:00Z".into(),
                actor: "antiguo".into(),
                action: "leer persona".into(),
                subject_kind: "persona".into(),
                subject_id: id.to_string(),
                purpose: "prueba".into(),
                outcome: "ok".into(),
                role: None,
                institution: None,
                request_id: None,
                prev_hash: Some(prev.clone()),
                hash: None,
            };
            r.hash = Some(unkeyed_row_hash(&prev, &r));
            prev = r.hash.clone().unwrap();
            insert_row_in(s.as_mut(), &r);
        }
        drop(s);
        let t = Trail { db, dir };
        init_db(t.url(), t.d());
        let o = t.verify();
        intact(&o, label);
        assert!(
            String::from_utf8_lossy(&o.stdout)
                .contains("Los primeros 2 registros son anteriores a la clave"),
            "{label}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        // Rewriting an anchored row (and sealing it again without the key) breaks the link
        // the first keyed row's MAC covers.
        t.drop_triggers();
        let mut s = t.owner();
        s.db()
            .execute("UPDATE audit_log SET actor = 'otro' WHERE id = 2", &[])
            .unwrap();
        let rows = vamos_store::audit::list(
            &mut s.db(),
            &vamos_store::audit::AuditQuery {
                limit: 2,
                before: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
        let r2 = rows.iter().find(|r| r.id == 2).unwrap();
        let again = unkeyed_row_hash(r2.prev_hash.as_deref().unwrap(), r2);
        s.db()
            .execute(
                "UPDATE audit_log SET hash = $1 WHERE id = 2",
                &[again.into()],
            )
            .unwrap();
        reported(
            &t.verify(),
            "registro inválido 3: el enlace con el registro anterior no coincide",
            label,
        );
    }
}

fn insert_row_in(s: &mut dyn Store, r: &AuditRow) {
    s.db()
        .execute(
            "INSERT INTO audit_log (id, at, actor, role, institution, action, subject_kind, subject_id, purpose, request_id, outcome, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                r.id.into(),
                r.at.as_str().into(),
                r.actor.as_str().into(),
                r.role.clone().into(),
                r.institution.clone().into(),
                r.action.as_str().into(),
                r.subject_kind.as_str().into(),
                r.subject_id.as_str().into(),
                r.purpose.as_str().into(),
                r.request_id.clone().into(),
                r.outcome.as_str().into(),
                r.prev_hash.clone().into(),
                r.hash.clone().into(),
            ],
        )
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL in production: migrations run as the owner of the tables, the server as a role
// that may only read and append to the audit tables (docs/operations.md). Its rights, not the
// triggers, are what keep it from rewriting the trail: the owner drops the triggers here, and
// the server's role is refused all the same.

/// A login role of the PostgreSQL cluster, dropped with the test (its rights in the test's
/// database first, when that still exists).
struct Role {
    admin_url: String,
    db_url: String,
    name: String,
}

impl Drop for Role {
    fn drop(&mut self) {
        if let Ok(mut s) = vamos_store::open(&self.db_url) {
            let _ = s.db().batch(&format!("DROP OWNED BY {}", self.name));
        }
        if let Ok(mut s) = vamos_store::open(&self.admin_url) {
            let _ = s.db().batch(&format!("DROP ROLE IF EXISTS {}", self.name));
        }
    }
}

/// `url` connecting as `user` with `password`.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}")
}

/// The grants of docs/operations.md for the server's role `role`.
fn grant_server_rights(owner: &mut dyn Store, role: &str) {
    owner
        .db()
        .batch(&format!(
            "GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ))
        .unwrap();
}

#[test]
fn a_server_role_with_insert_only_rights_cannot_rewrite_the_audit_log() {
    let Some(db) = vamos_store::testing::postgres_db() else {
        return;
    };
    let admin_url = std::env::var(vamos_store::testing::POSTGRES_ENV).unwrap();
    let name = format!("vamos_servidor_{}", std::process::id());
    let password = "Servidor-Prueba-2026";
    let mut admin = vamos_store::open(&admin_url).unwrap();
    admin
        .db()
        .batch(&format!(
            "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN PASSWORD '{password}'"
        ))
        .unwrap();
    let _role = Role {
        admin_url: admin_url.clone(),
        db_url: db.url.clone(),
        name: name.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The owner migrates and creates the first administrator; then grants the server's rights.
    init_db(&db.url, d);
    grant_server_rights(db.open().as_mut(), &name);
    let server_url = as_user(&db.url, &name, password);
    // The server, as its role, answers audited requests and verifies the chain.
    let s = start(&server_url, d);
    let admin_session = login(&s, "admin", PW);
    let (status, _, _) = call(
        &s,
        &admin_session,
        "get",
        "/api/persons?territory=1116",
        None,
    );
    assert_eq!(status, 200);
    let (status, v, _) = call(&s, &admin_session, "get", "/api/audit/verify", None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["intact"], true, "{v}");
    drop(s);
    intact(
        &vamos(&["audit", "verify", "--db", &server_url], d, &[]),
        "postgres",
    );
    // Its role lacks the right to change or delete audit rows (insufficient_privilege,
    // 42501), and keeps lacking it once the owner has dropped the triggers.
    let mut server = vamos_store::open(&server_url).unwrap();
    let tamper = [
        "UPDATE audit_log SET actor = 'otro' WHERE id = 1",
        "DELETE FROM audit_log WHERE id > 1",
        "TRUNCATE audit_log",
        "DELETE FROM audit_checkpoints",
    ];
    let mut refused = |when: &str| {
        for sql in tamper {
            let e = server.db().execute(sql, &[]).unwrap_err().to_string();
            assert!(
                e.contains("42501") && e.contains("audit_"),
                "{when}: {sql}: {e}"
            );
        }
    };
    refused("with the triggers");
    db.open()
        .db()
        .batch("DROP TRIGGER audit_log_append_only ON audit_log; DROP TRIGGER audit_log_no_truncate ON audit_log")
        .unwrap();
    refused("without the triggers");
    intact(
        &vamos(&["audit", "verify", "--db", &server_url], d, &[]),
        "postgres",
    );
    drop(server);
    drop(db);
}
