//! The audit trail: an append-only log of every read, export or change of personal data and
//! every administrative action, chained by SHA-256 so that an edited, deleted or inserted row is
//! detected by [`verify`].
//!
//! Each row's hash covers the previous row's hash and the row's own fields in a fixed,
//! length-prefixed encoding; the first row chains from 64 zeros. Appends are serialised (one
//! writer holds the chain head), so the chain is a line, never a tree. Rows written before the
//! chain existed (migration 0004) are sealed on the next append, in id order.

use crate::sql::{in_tx, lock, Param, Row, Sql};
use crate::{AuditEntry, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Advisory-lock key of the audit chain head (PostgreSQL).
const AUDIT_LOCK: i64 = 7_261_002;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored audit row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: Option<String>,
    pub institution: Option<String>,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub purpose: String,
    pub request_id: Option<String>,
    pub outcome: String,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

const COLUMNS: &str = "id, at, actor, role, institution, action, subject_kind, subject_id, purpose, request_id, outcome, prev_hash, hash";

fn row(r: &Row) -> AuditRow {
    AuditRow {
        id: r.int(0).unwrap_or_default(),
        at: r.text(1),
        actor: r.text(2),
        role: r.string(3),
        institution: r.string(4),
        action: r.text(5),
        subject_kind: r.text(6),
        subject_id: r.text(7),
        purpose: r.text(8),
        request_id: r.string(9),
        outcome: r.text(10),
        prev_hash: r.string(11),
        hash: r.string(12),
    }
}

/// The hash of a row given its predecessor's hash.
pub fn row_hash(prev: &str, r: &AuditRow) -> String {
    let mut h = Sha256::new();
    let id = r.id.to_string();
    let fields: [&str; 12] = [
        prev,
        &id,
        &r.at,
        &r.actor,
        r.role.as_deref().unwrap_or("\u{0}"),
        r.institution.as_deref().unwrap_or("\u{0}"),
        &r.action,
        &r.subject_kind,
        &r.subject_id,
        &r.purpose,
        r.request_id.as_deref().unwrap_or("\u{0}"),
        &r.outcome,
    ];
    for f in fields {
        // Length-prefixed: ("ab","c") and ("a","bc") hash differently.
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex(&h.finalize())
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    // Digit by digit, not `write!("{b:02x}")`: every counter-referral's digest passes here, and
    // the formatter showed up in the server's profile under load (measured: BENCHMARKS.md,
    // issue 5).
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for d in [b >> 4, b & 15] {
            s.push(char::from_digit(u32::from(d), 16).unwrap_or('0'));
        }
    }
    s
}

/// SHA-256 of a text, in hexadecimal (session cookies and tokens are stored this way).
pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// Appends one entry to the chain; returns its id.
pub fn append(sql: &mut crate::sql::Db<'_>, e: &AuditEntry) -> Result<i64> {
    let sql = sql.raw();
    Ok(
        append_many(&mut crate::sql::Db::new(sql), std::slice::from_ref(e))?
            .first()
            .copied()
            .unwrap_or_default(),
    )
}

/// Most records [`append_as_writer`] writes in one statement (13 columns × 600 < the
/// multi-row insert's 8,000 parameters).
pub const WRITER_BATCH: usize = 600;

/// The chain head as a single writer remembers it between batches: last id and hash.
pub type Head = Option<(i64, String)>;

/// Appends entries for the one writer of a process (the server's audit thread), which knows
/// the head from its previous batch: one multi-row `INSERT` (atomic on its own, one round trip)
/// chained from the remembered head. If anyone else appended meanwhile, the insert collides
/// on the id and nothing is written; then, as on the first call, [`append_many`] reads the
/// head under the chain lock. `head` is updated to the new last row.
pub fn append_as_writer(
    sql: &mut crate::sql::Db<'_>,
    entries: &[AuditEntry],
    head: &mut Head,
) -> Result<Vec<i64>> {
    let sql = sql.raw();
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // One statement only (atomic without a transaction): batches that fit one INSERT.
    if let Some((last_id, last_hash)) = head.take().filter(|_| entries.len() <= WRITER_BATCH) {
        let (ids, rows, new_head) = chain_rows(entries, last_id, last_hash);
        if insert_audit_rows(sql, &rows).is_ok() {
            *head = Some(new_head);
            return Ok(ids);
        }
    }
    let ids = append_many(&mut crate::sql::Db::new(sql), entries)?;
    *head = sql
        .query_opt(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            &[],
        )?
        .and_then(|r| Some((r.int(0)?, r.string(1)?)));
    Ok(ids)
}

/// The rows of `entries` chained after (`last_id`, `prev`): ids, rows, and the new head.
fn chain_rows(
    entries: &[AuditEntry],
    last_id: i64,
    mut prev: String,
) -> (Vec<i64>, Vec<Vec<Param>>, (i64, String)) {
    let mut ids = Vec::with_capacity(entries.len());
    let mut rows: Vec<Vec<Param>> = Vec::with_capacity(entries.len());
    for (id, e) in (last_id + 1..).zip(entries) {
        let r = AuditRow {
            id,
            at: e.at.clone(),
            actor: e.actor.clone(),
            role: e.role.clone(),
            institution: e.institution.clone(),
            action: e.action.clone(),
            subject_kind: e.subject_kind.clone(),
            subject_id: e.subject_id.clone(),
            purpose: e.purpose.clone(),
            request_id: e.request_id.clone(),
            outcome: e.outcome.clone(),
            prev_hash: None,
            hash: None,
        };
        let hash = row_hash(&prev, &r);
        let prev_hash = std::mem::replace(&mut prev, hash.clone());
        rows.push(vec![
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
            prev_hash.into(),
            hash.into(),
        ]);
        ids.push(id);
    }
    let last = ids.last().copied().unwrap_or(last_id);
    (ids, rows, (last, prev))
}

/// Multi-row inserts: one round trip per few hundred records.
fn insert_audit_rows(sql: &mut dyn Sql, rows: &[Vec<Param>]) -> Result<()> {
    let cols: Vec<crate::bulk::Col> = COLUMNS
        .split(", ")
        .map(|c| crate::bulk::Col(c, false))
        .collect();
    crate::bulk::insert_rows(sql, "audit_log", &cols, rows)
}

/// Appends entries to the chain in one transaction (group commit), in order; returns their ids.
/// Retried a few times if another writer took the same ids first.
pub fn append_many(sql: &mut crate::sql::Db<'_>, entries: &[AuditEntry]) -> Result<Vec<i64>> {
    let sql = sql.raw();
    let mut attempt = 0u64;
    loop {
        match append_locked(sql, entries) {
            Err(_) if attempt < 3 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
            }
            r => return r,
        }
    }
}

fn append_locked(sql: &mut dyn Sql, entries: &[AuditEntry]) -> Result<Vec<i64>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    in_tx(sql, |sql| append_chained(sql, entries))
}

/// Appends entries inside the caller's open transaction, to be committed with the caller's own
/// writes (the counter-referral writer stores a group and its audit records in one durable
/// commit). On SQLite the transaction already excludes every other writer. On PostgreSQL the
/// server's audit writer inserts without the chain lock, trusting the row ids to collide if
/// someone else appended: such a collision rolls back to a savepoint and the head is read again
/// (at most three times), so the caller's transaction survives it.
pub fn append_in_tx(sql: &mut crate::sql::Db<'_>, entries: &[AuditEntry]) -> Result<Vec<i64>> {
    let sql = sql.raw();
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    if sql.dialect() == crate::Backend::Sqlite {
        return append_chained(sql, entries);
    }
    let mut attempt = 0;
    loop {
        sql.batch("SAVEPOINT audit_append")?;
        match append_chained(sql, entries) {
            Ok(ids) => {
                sql.batch("RELEASE SAVEPOINT audit_append")?;
                return Ok(ids);
            }
            Err(e) => {
                sql.batch("ROLLBACK TO SAVEPOINT audit_append")?;
                if attempt >= 3 {
                    return Err(e);
                }
                attempt += 1;
            }
        }
    }
}

/// Takes the chain lock, reads the head and inserts `entries` after it (in a transaction).
fn append_chained(sql: &mut dyn Sql, entries: &[AuditEntry]) -> Result<Vec<i64>> {
    lock(sql, AUDIT_LOCK)?;
    // One round trip: the last row (id and hash) and whether unsealed rows exist. The partial
    // index of unsealed rows answers the last part; SQLite is told to use it, since with
    // statistics taken when the log was small it would scan the whole log instead, holding up
    // each counter-referral group (measured: BENCHMARKS.md, issue 5).
    let unsealed = match sql.dialect() {
        crate::Backend::Sqlite => "audit_log INDEXED BY audit_log_unsealed",
        crate::Backend::Postgres => "audit_log",
    };
    let head = sql.query_opt(
        &format!(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM audit_log),
                    (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1),
                    (SELECT count(*) FROM {unsealed} WHERE hash IS NULL)"
        ),
        &[],
    )?;
    let last_id = head.as_ref().and_then(|r| r.int(0)).unwrap_or(0);
    let prev = match head.as_ref().and_then(|r| r.string(1)) {
        Some(h) if head.as_ref().and_then(|r| r.int(2)) == Some(0) => h,
        _ if last_id == 0 => GENESIS.to_string(),
        _ => seal_unchained(sql)?,
    };
    let (ids, rows, _) = chain_rows(entries, last_id, prev);
    insert_audit_rows(sql, &rows)?;
    Ok(ids)
}

/// Seals rows written before the chain (no hash yet) and returns the head hash.
fn seal_unchained(sql: &mut dyn Sql) -> Result<String> {
    let head = sql.query_opt(
        "SELECT hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
        &[],
    )?;
    let mut prev = head
        .and_then(|r| r.string(0))
        .unwrap_or_else(|| GENESIS.to_string());
    let legacy = sql.query(
        &format!("SELECT {COLUMNS} FROM audit_log WHERE hash IS NULL ORDER BY id"),
        &[],
    )?;
    for r in legacy.iter().map(row) {
        let h = row_hash(&prev, &r);
        sql.execute(
            "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3",
            &[prev.as_str().into(), h.as_str().into(), r.id.into()],
        )?;
        prev = h;
    }
    Ok(prev)
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub rows: u64,
    /// The first row that does not verify, with the reason (Spanish).
    pub broken: Option<(i64, String)>,
    pub head: Option<String>,
}

/// Walks the whole chain in id order and recomputes every hash.
pub fn verify(sql: &mut crate::sql::Db<'_>) -> Result<Verification> {
    let sql = sql.raw();
    let mut prev = GENESIS.to_string();
    let mut expected_id = None;
    let mut n = 0u64;
    // In pages, so a long trail does not sit in memory at once.
    let mut after = i64::MIN;
    loop {
        let page = sql.query(
            &format!("SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT 10000"),
            &[Param::from(after)],
        )?;
        if page.is_empty() {
            break;
        }
        for r in page.iter().map(row) {
            after = r.id;
            n += 1;
            let fail = |why: String| Verification {
                rows: n,
                broken: Some((r.id, why)),
                head: None,
            };
            if let Some(e) = expected_id {
                if r.id != e {
                    return Ok(fail(format!(
                        "falta el registro {e} (la cadena salta al {})",
                        r.id
                    )));
                }
            }
            let Some(hash) = &r.hash else {
                // Rows awaiting their seal may only trail the chain (written before 0004).
                let sealed_after = sql
                    .query_opt(
                        "SELECT 1 FROM audit_log WHERE id > $1 AND hash IS NOT NULL",
                        &[r.id.into()],
                    )?
                    .is_some();
                if sealed_after {
                    return Ok(fail("registro sin sello dentro de la cadena".into()));
                }
                expected_id = Some(r.id + 1);
                continue;
            };
            if r.prev_hash.as_deref() != Some(prev.as_str()) {
                return Ok(fail(
                    "el enlace con el registro anterior no coincide (registro anterior borrado o alterado)".into(),
                ));
            }
            if row_hash(&prev, &r) != *hash {
                return Ok(fail(
                    "el contenido no coincide con su sello (registro alterado)".into(),
                ));
            }
            prev = hash.clone();
            expected_id = Some(r.id + 1);
        }
    }
    Ok(Verification {
        rows: n,
        broken: None,
        head: (n > 0).then_some(prev),
    })
}

/// Filters for reading the trail.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub subject_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Rows with id below this (newest first paging); `None` from the newest.
    pub before: Option<i64>,
    pub limit: i64,
}

/// Rows of the trail, newest first.
pub fn list(sql: &mut crate::sql::Db<'_>, q: &AuditQuery) -> Result<Vec<AuditRow>> {
    let sql = sql.raw();
    let rows = sql.query(
        &format!(
            "SELECT {COLUMNS} FROM audit_log
             WHERE (CAST($1 AS TEXT) IS NULL OR actor = CAST($1 AS TEXT))
               AND (CAST($2 AS TEXT) IS NULL OR subject_id = CAST($2 AS TEXT))
               AND (CAST($3 AS TEXT) IS NULL OR at >= CAST($3 AS TEXT))
               AND (CAST($4 AS TEXT) IS NULL OR at <= CAST($4 AS TEXT))
               AND id < $5
             ORDER BY id DESC LIMIT $6"
        ),
        &[
            q.actor.clone().into(),
            q.subject_id.clone().into(),
            q.from.clone().into(),
            q.to.clone().into(),
            q.before.unwrap_or(i64::MAX).into(),
            q.limit.clamp(1, 100_000).into(),
        ],
    )?;
    Ok(rows.iter().map(row).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(hex(&[]), "");
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
