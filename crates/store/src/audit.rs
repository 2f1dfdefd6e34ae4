//! The audit trail: an append-only log of every read, export or change of personal data and
//! every administrative action, chained and sealed with a keyed MAC so that an edited, deleted,
//! inserted or forged row is detected by [`verify`].
//!
//! Each row's seal is HMAC-SHA256 under a key kept outside the database ([`AuditKey`]; where it
//! lives is decided above the store), over the previous row's seal and the row's own fields in a
//! fixed, length-prefixed encoding; the first row chains from 64 zeros. A row is sealed in the
//! statement that writes it and never changed afterwards (the database refuses UPDATE and
//! DELETE on the table, migration 0016): a row without a seal, or whose seal or link does not
//! match, breaks the chain. Appends are serialised (one writer holds the chain head), so the
//! chain is a line, never a tree. Rows sealed before the chain was keyed (plain SHA-256) are
//! accepted only ahead of the first keyed row, which anchors them: rewriting one would change
//! the link the keyed row's MAC covers.
//!
//! A chain whose last rows were deleted still verifies on its own: truncation is caught against
//! a [`Checkpoint`] — the head and the count, sealed with the same key and kept outside the
//! database by the layer above — which [`verify`] checks the chain against. Design:
//! `docs/design/audit.md`.

use crate::sql::{in_tx, lock, Param, Row, Sql};
use crate::{AuditEntry, Result, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Advisory-lock key of the audit chain head (PostgreSQL).
const AUDIT_LOCK: i64 = 7_261_002;
/// The link of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

impl AuditRow {
    /// The row `id` that `e` becomes, not sealed yet.
    fn of(id: i64, e: &AuditEntry) -> AuditRow {
        AuditRow {
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
        }
    }
}

/// Feeds `parts` to a hash, each prefixed by its length: ("ab","c") and ("a","bc") differ.
fn feed(mut update: impl FnMut(&[u8]), parts: &[&str]) {
    for p in parts {
        update(&(p.len() as u64).to_le_bytes());
        update(p.as_bytes());
    }
}

/// The fields a seal covers: the link to the previous row, then the row's own (an absent
/// optional field as a NUL, which no text field holds).
fn sealed_fields<'a>(prev: &'a str, id: &'a str, r: &'a AuditRow) -> [&'a str; 12] {
    [
        prev,
        id,
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
    ]
}

/// The plain SHA-256 seal of rows written before the chain was keyed. Anyone can compute it,
/// which is why [`verify`] accepts it only ahead of the first keyed row (and why the test
/// suites use it to forge rows as an attacker without the key would).
pub fn unkeyed_row_hash(prev: &str, r: &AuditRow) -> String {
    let mut h = Sha256::new();
    let id = r.id.to_string();
    feed(|b| h.update(b), &sealed_fields(prev, &id, r));
    hex(&h.finalize())
}

/// The secret of the chain's HMAC. Kept outside the database (a file, read by the layer above);
/// never printed: `Debug` shows only its [`AuditKey::id`].
#[derive(Clone)]
pub struct AuditKey {
    /// The HMAC keyed once; each seal starts from a copy.
    mac: Hmac<Sha256>,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).finish()
    }
}

impl AuditKey {
    /// Fewest bytes of a key: HMAC-SHA256's own output size.
    pub const MIN_LEN: usize = 32;

    /// A key from its bytes (at least [`AuditKey::MIN_LEN`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<AuditKey> {
        if bytes.len() < Self::MIN_LEN {
            return Err(StoreError::Invalid(format!(
                "la clave de auditoría tiene {} bytes; hacen falta al menos {}",
                bytes.len(),
                Self::MIN_LEN
            )));
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(bytes)
            .map_err(|e| StoreError::Invalid(format!("clave de auditoría inválida: {e}")))?;
        let mut key = AuditKey {
            mac,
            id: String::new(),
        };
        // A public name of the key (checkpoints carry it, so that a wrong key is named as such).
        key.id = key.seal(&["id"]).chars().take(16).collect();
        Ok(key)
    }

    /// The key's public name: the first 16 hexadecimal digits of its MAC of a fixed text.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The MAC of `parts` (the first names what is sealed: rows, checkpoints and the key's id
    /// never share a MAC), in hexadecimal.
    fn seal(&self, parts: &[&str]) -> String {
        let mut m = self.mac.clone();
        feed(|b| m.update(b), parts);
        hex(&m.finalize().into_bytes())
    }

    /// The seal of row `r` chained after `prev`.
    pub fn row_seal(&self, prev: &str, r: &AuditRow) -> String {
        let id = r.id.to_string();
        let [a, b, c, d, e, f, g, h, i, j, k, l] = sealed_fields(prev, &id, r);
        self.seal(&["fila", a, b, c, d, e, f, g, h, i, j, k, l])
    }
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

/// A keyed checkpoint of the chain: how many rows it had, which was the last and its seal,
/// when, under which key — sealed with that key. Kept outside the database (a file the writers
/// advance after their commits, and a copy recorded in each backup), so that deleting the last
/// rows, which leaves a shorter chain that verifies on its own, is seen by [`verify`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Rows of the chain up to the head (its ids run from 1, so this is `head_id`).
    pub rows: i64,
    pub head_id: i64,
    pub head_hash: String,
    /// When it was sealed (RFC 3339).
    pub at: String,
    /// The [`AuditKey::id`] of the key that sealed it.
    pub key_id: String,
    pub mac: String,
}

impl Checkpoint {
    /// The checkpoint of a chain whose last row is `head_id` with seal `head_hash`, sealed now
    /// (`at`) with `key`.
    pub fn seal(key: &AuditKey, head_id: i64, head_hash: &str, at: &str) -> Checkpoint {
        let mut c = Checkpoint {
            rows: head_id,
            head_id,
            head_hash: head_hash.to_string(),
            at: at.to_string(),
            key_id: key.id().to_string(),
            mac: String::new(),
        };
        c.mac = c.expected_mac(key);
        c
    }

    fn expected_mac(&self, key: &AuditKey) -> String {
        let (rows, head) = (self.rows.to_string(), self.head_id.to_string());
        key.seal(&[
            "control",
            &rows,
            &head,
            &self.head_hash,
            &self.at,
            &self.key_id,
        ])
    }

    /// Whether `key` sealed this checkpoint as it stands.
    pub fn is_authentic(&self, key: &AuditKey) -> bool {
        self.key_id == key.id() && self.mac == self.expected_mac(key)
    }
}

/// The rows one append wrote: ids from `first_id` on, chained from `prev`, with their seals in
/// order (what the writer needs to advance the checkpoint without reading the database).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub first_id: i64,
    pub prev: String,
    pub seals: Vec<String>,
}

impl Segment {
    /// The ids written, in order.
    pub fn ids(&self) -> Vec<i64> {
        (self.first_id..).take(self.seals.len()).collect()
    }

    /// The last row written and its seal.
    pub fn head(&self) -> Option<(i64, &str)> {
        let last = self.seals.last()?;
        Some((self.first_id + self.seals.len() as i64 - 1, last.as_str()))
    }

    /// The seal of row `id`, if this segment wrote it.
    pub fn seal_of(&self, id: i64) -> Option<&str> {
        let i = usize::try_from(id - self.first_id).ok()?;
        self.seals.get(i).map(String::as_str)
    }
}

/// Appends one entry to the chain, in a transaction of its own.
pub fn append(sql: &mut crate::sql::Db<'_>, key: &AuditKey, e: &AuditEntry) -> Result<Segment> {
    append_many(sql, key, std::slice::from_ref(e))
}

/// Most records [`append_as_writer`] writes in one statement (13 columns × 600 < the
/// multi-row insert's 8,000 parameters).
pub const WRITER_BATCH: usize = 600;

/// The chain head as a single writer remembers it between batches: last id and seal.
pub type Head = Option<(i64, String)>;

/// Appends entries for the one writer of a process (the server's audit thread), which knows
/// the head from its previous batch: one multi-row `INSERT` (atomic on its own, one round trip)
/// chained from the remembered head. If anyone else appended meanwhile, the insert collides
/// on the id and nothing is written; then, as on the first call, [`append_many`] reads the
/// head under the chain lock. `head` is updated to the new last row. Synced ([`synced`]).
pub fn append_as_writer(
    sql: &mut crate::sql::Db<'_>,
    key: &AuditKey,
    entries: &[AuditEntry],
    head: &mut Head,
) -> Result<Segment> {
    if entries.is_empty() {
        return Ok(Segment::default());
    }
    let segment = synced(sql.raw(), |sql| {
        // One statement only (atomic without a transaction): batches that fit one INSERT.
        if let Some((last_id, last_hash)) = head.take().filter(|_| entries.len() <= WRITER_BATCH) {
            let (rows, segment) = chain_rows(key, entries, last_id, last_hash);
            if insert_audit_rows(sql, &rows).is_ok() {
                return Ok(segment);
            }
        }
        append_retried(sql, key, entries)
    })?;
    *head = segment.head().map(|(id, h)| (id, h.to_string()));
    Ok(segment)
}

/// Runs `f` with SQLite's commits synced to disk (`synchronous = FULL`; the connection's
/// default, `NORMAL`, survives a crash of the process but not of the machine): a request is
/// answered only once its audit record is on disk, and the checkpoint written after the commit
/// is never ahead of what the database keeps. PostgreSQL commits durably by default.
fn synced<T>(sql: &mut dyn Sql, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
    let sqlite = sql.dialect() == crate::Backend::Sqlite;
    if sqlite {
        sql.batch("PRAGMA synchronous = FULL")?;
    }
    let out = f(sql);
    if sqlite {
        let back = sql.batch("PRAGMA synchronous = NORMAL");
        if out.is_ok() {
            back?;
        }
    }
    out
}

/// The rows of `entries` chained after (`last_id`, `prev`) and sealed with `key`.
fn chain_rows(
    key: &AuditKey,
    entries: &[AuditEntry],
    last_id: i64,
    prev: String,
) -> (Vec<Vec<Param>>, Segment) {
    let mut rows: Vec<Vec<Param>> = Vec::with_capacity(entries.len());
    let mut seals: Vec<String> = Vec::with_capacity(entries.len());
    for (id, e) in (last_id + 1..).zip(entries) {
        let r = AuditRow::of(id, e);
        let link = seals.last().unwrap_or(&prev).clone();
        let seal = key.row_seal(&link, &r);
        rows.push(vec![
            r.id.into(),
            r.at.into(),
            r.actor.into(),
            r.role.into(),
            r.institution.into(),
            r.action.into(),
            r.subject_kind.into(),
            r.subject_id.into(),
            r.purpose.into(),
            r.request_id.into(),
            r.outcome.into(),
            link.into(),
            seal.as_str().into(),
        ]);
        seals.push(seal);
    }
    let segment = Segment {
        first_id: last_id + 1,
        prev,
        seals,
    };
    (rows, segment)
}

/// Multi-row inserts: one round trip per few hundred records.
fn insert_audit_rows(sql: &mut dyn Sql, rows: &[Vec<Param>]) -> Result<()> {
    let cols: Vec<crate::bulk::Col> = COLUMNS
        .split(", ")
        .map(|c| crate::bulk::Col(c, false))
        .collect();
    crate::bulk::insert_rows(sql, "audit_log", &cols, rows)
}

/// Appends entries to the chain in one transaction (group commit), in order, synced
/// ([`synced`]). Retried a few times if another writer took the same ids first.
pub fn append_many(
    sql: &mut crate::sql::Db<'_>,
    key: &AuditKey,
    entries: &[AuditEntry],
) -> Result<Segment> {
    if entries.is_empty() {
        return Ok(Segment::default());
    }
    synced(sql.raw(), |sql| append_retried(sql, key, entries))
}

/// [`append_chained`] in a transaction, retried a few times if another writer took the same
/// ids first.
fn append_retried(sql: &mut dyn Sql, key: &AuditKey, entries: &[AuditEntry]) -> Result<Segment> {
    let mut attempt = 0u64;
    loop {
        match in_tx(sql, |sql| append_chained(sql, key, entries)) {
            Err(_) if attempt < 3 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
            }
            r => return r,
        }
    }
}

/// Appends entries inside the caller's open transaction, to be committed with the caller's own
/// writes (the counter-referral writer stores a group and its audit records in one durable
/// commit). On SQLite the transaction already excludes every other writer. On PostgreSQL the
/// server's audit writer inserts without the chain lock, trusting the row ids to collide if
/// someone else appended: such a collision rolls back to a savepoint and the head is read again
/// (at most three times), so the caller's transaction survives it.
pub fn append_in_tx(
    sql: &mut crate::sql::Db<'_>,
    key: &AuditKey,
    entries: &[AuditEntry],
) -> Result<Segment> {
    let sql = sql.raw();
    if entries.is_empty() {
        return Ok(Segment::default());
    }
    if sql.dialect() == crate::Backend::Sqlite {
        return append_chained(sql, key, entries);
    }
    let mut attempt = 0;
    loop {
        sql.batch("SAVEPOINT audit_append")?;
        match append_chained(sql, key, entries) {
            Ok(segment) => {
                sql.batch("RELEASE SAVEPOINT audit_append")?;
                return Ok(segment);
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

/// Takes the chain lock, reads the head and inserts `entries` after it (in a transaction). A
/// head without a seal (a row someone wrote around the store) is chained from as if it were the
/// start: the chain is broken there already, and [`verify`] names that row.
fn append_chained(sql: &mut dyn Sql, key: &AuditKey, entries: &[AuditEntry]) -> Result<Segment> {
    lock(sql, AUDIT_LOCK)?;
    let head = sql.query_opt(
        "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
        &[],
    )?;
    let last_id = head.as_ref().and_then(|r| r.int(0)).unwrap_or(0);
    let prev = head
        .and_then(|r| r.string(1))
        .unwrap_or_else(|| GENESIS.to_string());
    let (rows, segment) = chain_rows(key, entries, last_id, prev);
    insert_audit_rows(sql, &rows)?;
    Ok(segment)
}

/// The last row of the chain (`None` when the chain is empty).
pub fn last_row(sql: &mut crate::sql::Db<'_>) -> Result<Option<AuditRow>> {
    Ok(sql
        .raw()
        .query_opt(
            &format!("SELECT {COLUMNS} FROM audit_log ORDER BY id DESC LIMIT 1"),
            &[],
        )?
        .as_ref()
        .map(row))
}

/// The seal of row `id` (`None`: no such row, or it has none).
pub fn seal_at(sql: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<String>> {
    Ok(sql
        .raw()
        .query_opt("SELECT hash FROM audit_log WHERE id = $1", &[id.into()])?
        .and_then(|r| r.string(0)))
}

/// Whether no row of the chain was sealed with a key yet: the chain is empty, or its last row
/// carries the plain SHA-256 seal of the chain before keys (a database written by an earlier
/// version). Only then may a new key be made for it.
pub fn unkeyed(sql: &mut crate::sql::Db<'_>) -> Result<bool> {
    Ok(match last_row(sql)? {
        None => true,
        Some(r) => match (&r.prev_hash, &r.hash) {
            (Some(prev), Some(hash)) => unkeyed_row_hash(prev, &r) == *hash,
            _ => false,
        },
    })
}

/// Records checkpoint `c` in the database (before a backup is copied, so that the copy carries
/// it), with why and when (`recorded_at`).
pub fn record_checkpoint(
    sql: &mut crate::sql::Db<'_>,
    c: &Checkpoint,
    reason: &str,
    recorded_at: &str,
) -> Result<()> {
    sql.raw().execute(
        "INSERT INTO audit_checkpoints
             (recorded_at, reason, row_count, head_id, head_hash, at, key_id, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            recorded_at.into(),
            reason.into(),
            c.rows.into(),
            c.head_id.into(),
            c.head_hash.as_str().into(),
            c.at.as_str().into(),
            c.key_id.as_str().into(),
            c.mac.as_str().into(),
        ],
    )?;
    Ok(())
}

/// The checkpoints recorded in the database ([`record_checkpoint`]), oldest first.
pub fn recorded_checkpoints(sql: &mut crate::sql::Db<'_>) -> Result<Vec<Checkpoint>> {
    let rows = sql.raw().query(
        "SELECT row_count, head_id, head_hash, at, key_id, mac FROM audit_checkpoints ORDER BY id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Checkpoint {
            rows: r.int(0).unwrap_or_default(),
            head_id: r.int(1).unwrap_or_default(),
            head_hash: r.text(2),
            at: r.text(3),
            key_id: r.text(4),
            mac: r.text(5),
        })
        .collect())
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub rows: u64,
    /// The first problem: the row it concerns (0 when it is the checkpoint's, not a row's) and
    /// the reason (Spanish).
    pub broken: Option<(i64, String)>,
    /// The seal of the last row.
    pub head: Option<String>,
    /// Rows at the start of the chain sealed before it was keyed (plain SHA-256, anchored by
    /// the first keyed row).
    pub unkeyed_rows: u64,
    /// The checkpoint the chain was checked against.
    pub checkpoint: Option<Checkpoint>,
}

/// What walking the chain found.
struct Walk {
    rows: u64,
    broken: Option<(i64, String)>,
    /// The last row and its seal.
    head: Option<(i64, String)>,
    unkeyed_rows: u64,
    /// The seal of the row the checkpoint names, as the walk found it.
    at_checkpoint: Option<String>,
}

/// Walks the whole chain in id order, recomputing every seal with `key`, then checks it against
/// `checkpoint` (the last one the writers kept outside the database): a chain shorter than the
/// checkpoint lost its last rows; one whose row at the checkpoint's head has another seal was
/// rewritten from there. Without a checkpoint, a chain with rows is reported: its end cannot be
/// vouched for.
pub fn verify(
    sql: &mut crate::sql::Db<'_>,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<Verification> {
    let walk = walk(sql.raw(), key, checkpoint.map(|c| c.head_id))?;
    let broken = match walk.broken.clone() {
        Some(b) => Some(b),
        None => against_checkpoint(&walk, key, checkpoint),
    };
    Ok(Verification {
        rows: walk.rows,
        head: if broken.is_none() {
            walk.head.map(|(_, h)| h)
        } else {
            None
        },
        broken,
        unkeyed_rows: walk.unkeyed_rows,
        checkpoint: checkpoint.cloned(),
    })
}

/// Walks the chain (see [`verify`]), noting the seal of row `mark` on the way.
fn walk(sql: &mut dyn Sql, key: &AuditKey, mark: Option<i64>) -> Result<Walk> {
    let mut w = Walk {
        rows: 0,
        broken: None,
        head: None,
        unkeyed_rows: 0,
        at_checkpoint: None,
    };
    let mut prev = GENESIS.to_string();
    let mut keyed = false;
    // In pages, so a long trail does not sit in memory at once.
    let mut after = i64::MIN;
    loop {
        let page = sql.query(
            &format!("SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT 10000"),
            &[Param::from(after)],
        )?;
        if page.is_empty() {
            return Ok(w);
        }
        for r in page.iter().map(row) {
            after = r.id;
            w.rows += 1;
            let expected = w.head.as_ref().map_or(1, |(id, _)| id + 1);
            if let Some(why) = check_row(key, &r, expected, &prev, &mut keyed) {
                w.broken = Some((r.id, why));
                return Ok(w);
            }
            if !keyed {
                w.unkeyed_rows += 1;
            }
            let hash = r.hash.unwrap_or_default();
            if mark == Some(r.id) {
                w.at_checkpoint = Some(hash.clone());
            }
            prev.clone_from(&hash);
            w.head = Some((r.id, hash));
        }
    }
}

/// Why row `r` breaks the chain, if it does: `expected` is the id it must have, `prev` the seal
/// it must link to. `keyed` tells whether a keyed row came before (after one, an unkeyed seal is
/// a forgery); it is set when `r` is keyed.
fn check_row(
    key: &AuditKey,
    r: &AuditRow,
    expected: i64,
    prev: &str,
    keyed: &mut bool,
) -> Option<String> {
    if r.id != expected {
        return Some(if expected == 1 {
            format!(
                "la cadena empieza en el registro {} (faltan los primeros)",
                r.id
            )
        } else {
            format!("falta el registro {expected} (la cadena salta al {})", r.id)
        });
    }
    let (Some(link), Some(hash)) = (&r.prev_hash, &r.hash) else {
        return Some(
            "registro sin sello o sin enlace (hash nulo): la cadena no admite registros sin sellar"
                .into(),
        );
    };
    if link != prev {
        return Some(
            "el enlace con el registro anterior no coincide (registro anterior borrado o alterado)"
                .into(),
        );
    }
    if key.row_seal(prev, r) == *hash {
        *keyed = true;
        return None;
    }
    if !*keyed && unkeyed_row_hash(prev, r) == *hash {
        return None;
    }
    Some("el contenido no coincide con su sello (registro alterado, o sellado sin la clave)".into())
}

/// Why a chain that walked whole does not match `checkpoint`, if it does not.
fn against_checkpoint(
    walk: &Walk,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Option<(i64, String)> {
    let last = walk.head.as_ref().map_or(0, |(id, _)| *id);
    let Some(c) = checkpoint else {
        return (walk.rows > 0).then(|| {
            (
                0,
                "no hay punto de control de la cadena: no se puede descartar que se hayan borrado los últimos registros".into(),
            )
        });
    };
    if c.key_id != key.id() {
        return Some((
            0,
            format!(
                "el punto de control fue sellado con otra clave ({}; la configurada es {})",
                c.key_id,
                key.id()
            ),
        ));
    }
    if !c.is_authentic(key) || c.rows != c.head_id {
        return Some((
            0,
            "el punto de control no es auténtico: su sello no corresponde (archivo alterado)"
                .into(),
        ));
    }
    if last < c.head_id {
        return Some((
            last + 1,
            format!(
                "faltan los últimos registros: el punto de control del {} cuenta {} registros, hasta el {}, y la cadena termina en el {last} (registros borrados al final)",
                c.at, c.rows, c.head_id
            ),
        ));
    }
    if walk.at_checkpoint.as_deref() != Some(c.head_hash.as_str()) {
        return Some((
            c.head_id,
            format!(
                "el registro {} no es el que selló el punto de control del {} (registros borrados y vueltos a escribir)",
                c.head_id, c.at
            ),
        ));
    }
    None
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
    fn a_key_shorter_than_an_hmac_output_is_refused() {
        assert!(AuditKey::from_bytes(&[1; 31]).is_err());
        assert!(AuditKey::from_bytes(&[1; 32]).is_ok());
    }

    #[test]
    fn the_key_id_names_the_key_and_debug_shows_nothing_else() {
        let a = AuditKey::from_bytes(&[1; 32]).unwrap();
        let again = AuditKey::from_bytes(&[1; 32]).unwrap();
        let b = AuditKey::from_bytes(&[2; 32]).unwrap();
        assert_eq!(a.id(), again.id());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 16);
        assert_eq!(format!("{a:?}"), format!("AuditKey {{ id: {:?} }}", a.id()));
    }

    #[test]
    fn a_row_seal_depends_on_the_key_the_link_and_every_field() {
        let key = AuditKey::from_bytes(&[1; 32]).unwrap();
        let entry = AuditEntry {
            at: "2026-11-23T10:00:00Z".into(),
            actor: "ana".into(),
            action: "leer persona".into(),
            subject_kind: "persona".into(),
            subject_id: "1".into(),
            purpose: "prueba".into(),
            outcome: "ok".into(),
            role: None,
            institution: None,
            request_id: None,
        };
        let r = AuditRow::of(1, &entry);
        let seal = key.row_seal(GENESIS, &r);
        let other = AuditKey::from_bytes(&[2; 32]).unwrap();
        assert_ne!(seal, other.row_seal(GENESIS, &r));
        assert_ne!(seal, key.row_seal(&"1".repeat(64), &r));
        assert_ne!(seal, unkeyed_row_hash(GENESIS, &r));
        let edited = AuditRow {
            actor: "otra".into(),
            ..r.clone()
        };
        assert_ne!(seal, key.row_seal(GENESIS, &edited));
        let with_role = AuditRow {
            role: Some(String::new()),
            ..r
        };
        assert_ne!(seal, key.row_seal(GENESIS, &with_role), "NULL is not empty");
    }

    #[test]
    fn a_checkpoint_is_authentic_only_as_sealed_and_with_its_key() {
        let key = AuditKey::from_bytes(&[1; 32]).unwrap();
        let c = Checkpoint::seal(&key, 5, "abc", "2026-11-23T10:00:00Z");
        assert_eq!((c.rows, c.head_id), (5, 5));
        assert!(c.is_authentic(&key));
        assert!(!c.is_authentic(&AuditKey::from_bytes(&[2; 32]).unwrap()));
        let pulled_back = Checkpoint {
            rows: 3,
            head_id: 3,
            ..c.clone()
        };
        assert!(!pulled_back.is_authentic(&key));
    }

    #[test]
    fn a_segment_knows_its_ids_head_and_seals() {
        let s = Segment {
            first_id: 4,
            prev: "p".into(),
            seals: vec!["a".into(), "b".into()],
        };
        assert_eq!(s.ids(), vec![4, 5]);
        assert_eq!(s.head(), Some((5, "b")));
        assert_eq!(
            (s.seal_of(4), s.seal_of(6), s.seal_of(3)),
            (Some("a"), None, None)
        );
        assert_eq!(Segment::default().head(), None);
    }

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
