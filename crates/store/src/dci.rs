//! Storage of the DCI Social Registry API (migration `0005_dci`): registered senders,
//! transactions (statuses and counts only, never records) and event subscriptions, on both
//! backends through [`Sql`].

use crate::sql::{Param, Row};
use crate::{Result, StoreError};

/// An institutional system allowed to call the DCI API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sender {
    pub sender_id: String,
    /// The account whose API tokens may speak for this sender.
    pub username: String,
    /// ed25519 public key, base64 (32 bytes); `None`: unsigned messages are accepted.
    pub public_key: Option<String>,
    /// Callbacks (`on-search`, `notify`, …) must go under this URL; `None`: no callbacks.
    pub callback_base: Option<String>,
    pub active: bool,
    pub created_at: String,
}

fn sender(r: &Row) -> Sender {
    Sender {
        sender_id: r.text(0),
        username: r.text(1),
        public_key: r.string(2),
        callback_base: r.string(3),
        active: r.int(4) == Some(1),
        created_at: r.text(5),
    }
}

const SENDER_COLUMNS: &str = "sender_id, username, public_key, callback_base, active, created_at";

/// Registers a sender, or replaces its account, key and callback base (and reactivates it).
pub fn upsert_sender(sql: &mut crate::sql::Db<'_>, s: &Sender) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "INSERT INTO dci_senders (sender_id, username, public_key, callback_base, active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (sender_id) DO UPDATE SET username = excluded.username,
             public_key = excluded.public_key, callback_base = excluded.callback_base,
             active = excluded.active",
        &[
            s.sender_id.as_str().into(),
            s.username.as_str().into(),
            s.public_key.clone().into(),
            s.callback_base.clone().into(),
            i64::from(s.active).into(),
            s.created_at.as_str().into(),
        ],
    )?;
    Ok(())
}

/// One sender.
pub fn sender_by_id(sql: &mut crate::sql::Db<'_>, id: &str) -> Result<Option<Sender>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            &format!("SELECT {SENDER_COLUMNS} FROM dci_senders WHERE sender_id = $1"),
            &[id.into()],
        )?
        .map(|r| sender(&r)))
}

/// Every sender.
pub fn senders(sql: &mut crate::sql::Db<'_>) -> Result<Vec<Sender>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            &format!("SELECT {SENDER_COLUMNS} FROM dci_senders ORDER BY sender_id"),
            &[],
        )?
        .iter()
        .map(sender)
        .collect())
}

/// Deactivates a sender; `false` when it does not exist.
pub fn deactivate_sender(sql: &mut crate::sql::Db<'_>, id: &str) -> Result<bool> {
    let sql = sql.raw();
    Ok(sql.execute(
        "UPDATE dci_senders SET active = 0 WHERE sender_id = $1",
        &[id.into()],
    )? > 0)
}

/// A DCI transaction (one accepted message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub sender_id: String,
    pub message_id: String,
    pub transaction_id: String,
    pub correlation_id: String,
    /// `search`, `subscribe`, `unsubscribe`, `txn-status`.
    pub action: String,
    /// `rcvd`, `pdng`, `succ` or `rjct`.
    pub status: String,
    /// JSON list of per-request statuses and counts (no records).
    pub summary: String,
    /// How the callback went, when there is one.
    pub callback: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn transaction(r: &Row) -> Transaction {
    Transaction {
        sender_id: r.text(0),
        message_id: r.text(1),
        transaction_id: r.text(2),
        correlation_id: r.text(3),
        action: r.text(4),
        status: r.text(5),
        summary: r.text(6),
        callback: r.string(7),
        created_at: r.text(8),
        updated_at: r.text(9),
    }
}

const TXN_COLUMNS: &str = "sender_id, message_id, transaction_id, correlation_id, action, status, summary, callback, created_at, updated_at";

/// Records a transaction; `Ok(false)` when the sender already used this `message_id` (replay).
pub fn insert_transaction(sql: &mut crate::sql::Db<'_>, t: &Transaction) -> Result<bool> {
    let sql = sql.raw();
    let n = sql.execute(
        "INSERT INTO dci_transactions (sender_id, message_id, transaction_id, correlation_id, action,
                                       status, summary, callback, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (sender_id, message_id) DO NOTHING",
        &[
            t.sender_id.as_str().into(),
            t.message_id.as_str().into(),
            t.transaction_id.as_str().into(),
            t.correlation_id.as_str().into(),
            t.action.as_str().into(),
            t.status.as_str().into(),
            t.summary.as_str().into(),
            t.callback.clone().into(),
            t.created_at.as_str().into(),
            t.updated_at.as_str().into(),
        ],
    )?;
    Ok(n > 0)
}

/// Updates a transaction's status, summary and callback outcome.
pub fn finish_transaction(
    sql: &mut crate::sql::Db<'_>,
    correlation_id: &str,
    status: &str,
    summary: &str,
    callback: Option<&str>,
    now: &str,
) -> Result<()> {
    let sql = sql.raw();
    let n = sql.execute(
        "UPDATE dci_transactions SET status = $2, summary = $3, callback = $4, updated_at = $5
         WHERE correlation_id = $1",
        &[
            correlation_id.into(),
            status.into(),
            summary.into(),
            Param::from(callback),
            now.into(),
        ],
    )?;
    if n == 0 {
        return Err(StoreError::Invalid(format!(
            "transacción DCI {correlation_id} inexistente"
        )));
    }
    Ok(())
}

/// Records how a transaction's callback went.
pub fn note_callback(
    sql: &mut crate::sql::Db<'_>,
    correlation_id: &str,
    note: &str,
    now: &str,
) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "UPDATE dci_transactions SET callback = $2, updated_at = $3 WHERE correlation_id = $1",
        &[correlation_id.into(), note.into(), now.into()],
    )?;
    Ok(())
}

/// A sender's transactions of one action type, by `transaction_id` or `correlation_id`
/// (newest first, at most 100).
pub fn find_transactions(
    sql: &mut crate::sql::Db<'_>,
    sender_id: &str,
    action: &str,
    transaction_id: Option<&str>,
    correlation_id: Option<&str>,
) -> Result<Vec<Transaction>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            &format!(
                "SELECT {TXN_COLUMNS} FROM dci_transactions
                 WHERE sender_id = $1 AND action = $2
                   AND (CAST($3 AS TEXT) IS NULL OR transaction_id = CAST($3 AS TEXT))
                   AND (CAST($4 AS TEXT) IS NULL OR correlation_id = CAST($4 AS TEXT))
                 ORDER BY id DESC LIMIT 100"
            ),
            &[
                sender_id.into(),
                action.into(),
                Param::from(transaction_id),
                Param::from(correlation_id),
            ],
        )?
        .iter()
        .map(transaction)
        .collect())
}

/// An event subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub code: String,
    pub sender_id: String,
    pub username: String,
    pub transaction_id: String,
    pub reference_id: String,
    pub reg_event_type: String,
    pub filter_type: String,
    /// The filter as received (JSON).
    pub filter: String,
    pub notify_record_type: String,
    /// `subscribe` or `unsubscribe`.
    pub status: String,
    pub last_person_id: i64,
    pub last_household_id: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn subscription(r: &Row) -> Subscription {
    Subscription {
        code: r.text(0),
        sender_id: r.text(1),
        username: r.text(2),
        transaction_id: r.text(3),
        reference_id: r.text(4),
        reg_event_type: r.text(5),
        filter_type: r.text(6),
        filter: r.text(7),
        notify_record_type: r.text(8),
        status: r.text(9),
        last_person_id: r.int(10).unwrap_or_default(),
        last_household_id: r.int(11).unwrap_or_default(),
        created_at: r.text(12),
        updated_at: r.text(13),
    }
}

const SUB_COLUMNS: &str = "code, sender_id, username, transaction_id, reference_id, reg_event_type, filter_type, filter, notify_record_type, status, last_person_id, last_household_id, created_at, updated_at";

/// Stores a new subscription.
pub fn insert_subscription(sql: &mut crate::sql::Db<'_>, s: &Subscription) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        &format!(
            "INSERT INTO dci_subscriptions ({SUB_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        &[
            s.code.as_str().into(),
            s.sender_id.as_str().into(),
            s.username.as_str().into(),
            s.transaction_id.as_str().into(),
            s.reference_id.as_str().into(),
            s.reg_event_type.as_str().into(),
            s.filter_type.as_str().into(),
            s.filter.as_str().into(),
            s.notify_record_type.as_str().into(),
            s.status.as_str().into(),
            s.last_person_id.into(),
            s.last_household_id.into(),
            s.created_at.as_str().into(),
            s.updated_at.as_str().into(),
        ],
    )?;
    Ok(())
}

/// One subscription.
pub fn subscription_by_code(
    sql: &mut crate::sql::Db<'_>,
    code: &str,
) -> Result<Option<Subscription>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            &format!("SELECT {SUB_COLUMNS} FROM dci_subscriptions WHERE code = $1"),
            &[code.into()],
        )?
        .map(|r| subscription(&r)))
}

/// Active subscriptions, of one sender or of all.
pub fn active_subscriptions(
    sql: &mut crate::sql::Db<'_>,
    sender_id: Option<&str>,
) -> Result<Vec<Subscription>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            &format!(
                "SELECT {SUB_COLUMNS} FROM dci_subscriptions
                 WHERE status = 'subscribe' AND (CAST($1 AS TEXT) IS NULL OR sender_id = CAST($1 AS TEXT))
                 ORDER BY created_at, code"
            ),
            &[Param::from(sender_id)],
        )?
        .iter()
        .map(subscription)
        .collect())
}

/// Sets a subscription's status.
pub fn set_subscription_status(
    sql: &mut crate::sql::Db<'_>,
    code: &str,
    status: &str,
    now: &str,
) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "UPDATE dci_subscriptions SET status = $2, updated_at = $3 WHERE code = $1",
        &[code.into(), status.into(), now.into()],
    )?;
    Ok(())
}

/// Moves a subscription's notification watermarks.
pub fn advance_subscription(
    sql: &mut crate::sql::Db<'_>,
    code: &str,
    last_person_id: i64,
    last_household_id: i64,
    now: &str,
) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "UPDATE dci_subscriptions SET last_person_id = $2, last_household_id = $3, updated_at = $4
         WHERE code = $1",
        &[
            code.into(),
            last_person_id.into(),
            last_household_id.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// The highest person and household ids of the registry (0 when empty): where a new
/// subscription starts watching.
pub fn registry_watermarks(sql: &mut crate::sql::Db<'_>) -> Result<(i64, i64)> {
    let sql = sql.raw();
    let p = sql
        .query_opt("SELECT COALESCE(MAX(id), 0) FROM persons", &[])?
        .and_then(|r| r.int(0))
        .unwrap_or(0);
    let h = sql
        .query_opt("SELECT COALESCE(MAX(id), 0) FROM households", &[])?
        .and_then(|r| r.int(0))
        .unwrap_or(0);
    Ok((p, h))
}
