//! Self-registrations (step 1C): households registered through the public form wait here for
//! the UTGS's review. Typed reads and writes of `self_registrations`; the review rules (who may
//! decide, how an approved household enters the registry) are in `vamos_app`.

use crate::sql::Row;
use crate::{Result, StoreError};

/// A submission as stored. `members` is the JSON array written by the public form.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SelfRegistration {
    pub id: i64,
    pub submitted_at: String,
    pub district_code: i64,
    pub area: Option<String>,
    pub locality: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub members: String,
    /// `pendiente`, `aprobada` or `rechazada`.
    pub status: String,
    pub reason: Option<String>,
}

/// A new submission (always stored as `pendiente`).
pub struct NewSelfRegistration<'a> {
    pub submitted_at: &'a str,
    pub district_code: i64,
    pub area: Option<&'a str>,
    pub locality: Option<&'a str>,
    pub address: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub members: &'a str,
}

const COLUMNS: &str =
    "id, submitted_at, district_code, area, locality, address, phone, members, status, reason";

fn decode(r: &Row) -> Result<SelfRegistration> {
    let int = |i: usize, name: &str| {
        r.int(i)
            .ok_or_else(|| StoreError::Invalid(format!("self_registrations.{name} es NULL")))
    };
    Ok(SelfRegistration {
        id: int(0, "id")?,
        submitted_at: r.text(1),
        district_code: int(2, "district_code")?,
        area: r.string(3),
        locality: r.string(4),
        address: r.string(5),
        phone: r.string(6),
        members: r.text(7),
        status: r.text(8),
        reason: r.string(9),
    })
}

/// Stores a submission as pending; returns its id.
pub fn insert(sql: &mut crate::sql::Db<'_>, n: &NewSelfRegistration<'_>) -> Result<i64> {
    let sql = sql.raw();
    let row = sql.query_opt(
        "INSERT INTO self_registrations (submitted_at, district_code, area, locality, address, phone, members, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pendiente') RETURNING id",
        &[
            n.submitted_at.into(),
            n.district_code.into(),
            n.area.into(),
            n.locality.into(),
            n.address.into(),
            n.phone.into(),
            n.members.into(),
        ],
    )?;
    row.and_then(|r| r.int(0))
        .ok_or_else(|| StoreError::Invalid("el autorregistro no devolvió su número".into()))
}

/// The review queue: pending first, newest first, at most `limit`.
pub fn queue(sql: &mut crate::sql::Db<'_>, limit: i64) -> Result<Vec<SelfRegistration>> {
    let sql = sql.raw();
    sql.query(
        &format!(
            "SELECT {COLUMNS} FROM self_registrations
             ORDER BY (status = 'pendiente') DESC, id DESC LIMIT $1"
        ),
        &[limit.into()],
    )?
    .iter()
    .map(decode)
    .collect()
}

/// One submission.
pub fn get(sql: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<SelfRegistration>> {
    let sql = sql.raw();
    sql.query_opt(
        &format!("SELECT {COLUMNS} FROM self_registrations WHERE id = $1"),
        &[id.into()],
    )?
    .as_ref()
    .map(decode)
    .transpose()
}

/// Marks a pending submission rejected with its reason; false if it was no longer pending.
pub fn reject(
    sql: &mut crate::sql::Db<'_>,
    id: i64,
    by: &str,
    at: &str,
    reason: &str,
) -> Result<bool> {
    let sql = sql.raw();
    Ok(sql.execute(
        "UPDATE self_registrations SET status = 'rechazada', reviewed_by = $1, reviewed_at = $2, reason = $3
         WHERE id = $4 AND status = 'pendiente'",
        &[by.into(), at.into(), reason.into(), id.into()],
    )? == 1)
}

/// Marks a pending submission approved with the import that registered it.
pub fn approve(
    sql: &mut crate::sql::Db<'_>,
    id: i64,
    by: &str,
    at: &str,
    import_id: Option<i64>,
) -> Result<bool> {
    let sql = sql.raw();
    Ok(sql.execute(
        "UPDATE self_registrations SET status = 'aprobada', reviewed_by = $1, reviewed_at = $2, import_id = $3
         WHERE id = $4 AND status = 'pendiente'",
        &[by.into(), at.into(), import_id.into(), id.into()],
    )? == 1)
}
