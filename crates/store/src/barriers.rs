//! Social innovation for access (migration 0026): typed reads and writes of the barriers a Mesa
//! records in its territory (`territory_barriers`), the facilitators designed against them
//! (`facilitators`) and their follow-up (`facilitator_updates`), and the barriers met on case
//! tasks. Who may record or read them, and what the counts mean, is `vamos_app::barriers`'
//! business; this module stores and filters by district in SQL.

use crate::sql::{in_tx, Param, Row};
use crate::{Result, StoreError};

/// A barrier recorded for a territory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TerritoryBarrier {
    pub id: i64,
    pub district_code: i64,
    pub barrier: String,
    pub service: Option<String>,
    pub description: String,
    pub recorded_by: String,
    pub recorded_at: String,
    pub resolved_at: Option<String>,
}

/// A facilitator designed against a barrier.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Facilitator {
    pub id: i64,
    pub district_code: i64,
    pub barrier: String,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub starts_on: String,
    pub ends_on: String,
    pub status: String,
    pub result: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One step of a facilitator's follow-up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Update {
    pub at: String,
    pub actor: String,
    pub status: String,
    pub note: String,
}

/// A case task on which a barrier was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedTask {
    pub district_code: i64,
    pub barrier: String,
    pub case_id: i64,
    /// The case is still open.
    pub case_open: bool,
    /// The task is still pending (the barrier still blocks it).
    pub pending: bool,
    /// When it was done, if it was (RFC 3339).
    pub done_at: Option<String>,
}

fn scope(col: &str, ranges: Option<&[(i64, i64)]>, params: &mut Vec<Param>) -> String {
    match ranges {
        None => "1 = 1".into(),
        Some(r) => crate::bulk::ranges_sql(col, r, params),
    }
}

/// Records a barrier of a territory; its number.
pub fn record(db: &mut crate::sql::Db<'_>, b: &TerritoryBarrier) -> Result<i64> {
    db.raw()
        .query_opt(
            "INSERT INTO territory_barriers (district_code, barrier, service, description, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                b.district_code.into(),
                b.barrier.as_str().into(),
                b.service.as_deref().into(),
                b.description.as_str().into(),
                b.recorded_by.as_str().into(),
                b.recorded_at.as_str().into(),
            ],
        )?
        .and_then(|r| r.int(0))
        .ok_or_else(|| StoreError::Invalid("la barrera no devolvió su número".into()))
}

const BARRIER_COLUMNS: &str =
    "id, district_code, barrier, service, description, recorded_by, recorded_at, resolved_at";

fn decode_barrier(r: &Row) -> Result<TerritoryBarrier> {
    Ok(TerritoryBarrier {
        id: r
            .int(0)
            .ok_or_else(|| StoreError::Invalid("barrera ilegible".into()))?,
        district_code: r.int(1).unwrap_or(0),
        barrier: r.text(2),
        service: r.string(3),
        description: r.text(4),
        recorded_by: r.text(5),
        recorded_at: r.text(6),
        resolved_at: r.string(7),
    })
}

/// One recorded barrier, if it lies within `ranges` (`None`: every district).
pub fn territory_barrier(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    ranges: Option<&[(i64, i64)]>,
) -> Result<Option<TerritoryBarrier>> {
    let mut params: Vec<Param> = vec![id.into()];
    let s = scope("district_code", ranges, &mut params);
    db.raw()
        .query_opt(
            &format!("SELECT {BARRIER_COLUMNS} FROM territory_barriers WHERE id = $1 AND {s}"),
            &params,
        )?
        .map(|r| decode_barrier(&r))
        .transpose()
}

/// Marks a recorded barrier as removed at `at`.
pub fn resolve(db: &mut crate::sql::Db<'_>, id: i64, at: &str) -> Result<()> {
    db.raw().execute(
        "UPDATE territory_barriers SET resolved_at = $2 WHERE id = $1",
        &[id.into(), at.into()],
    )?;
    Ok(())
}

/// The barriers recorded within `ranges`, newest first (at most `limit`).
pub fn territory_barriers(
    db: &mut crate::sql::Db<'_>,
    ranges: Option<&[(i64, i64)]>,
    limit: i64,
) -> Result<Vec<TerritoryBarrier>> {
    let mut params: Vec<Param> = Vec::new();
    let s = scope("district_code", ranges, &mut params);
    params.push(limit.into());
    db.raw()
        .query(
            &format!(
                "SELECT {BARRIER_COLUMNS} FROM territory_barriers WHERE {s} ORDER BY id DESC LIMIT ${}",
                params.len()
            ),
            &params,
        )?
        .iter()
        .map(decode_barrier)
        .collect()
}

const FACILITATOR_COLUMNS: &str =
    "id, district_code, barrier, name, description, owner, starts_on, \
    ends_on, status, result, created_by, created_at, updated_at";

fn decode_facilitator(r: &Row) -> Result<Facilitator> {
    Ok(Facilitator {
        id: r
            .int(0)
            .ok_or_else(|| StoreError::Invalid("facilitador ilegible".into()))?,
        district_code: r.int(1).unwrap_or(0),
        barrier: r.text(2),
        name: r.text(3),
        description: r.text(4),
        owner: r.text(5),
        starts_on: r.text(6),
        ends_on: r.text(7),
        status: r.text(8),
        result: r.string(9),
        created_by: r.text(10),
        created_at: r.text(11),
        updated_at: r.text(12),
    })
}

/// Adds a facilitator with the first step of its follow-up; its number.
pub fn add_facilitator(db: &mut crate::sql::Db<'_>, f: &Facilitator, note: &str) -> Result<i64> {
    in_tx(db.raw(), |sql| {
        let id = sql
            .query_opt(
                "INSERT INTO facilitators (district_code, barrier, name, description, owner, starts_on,
                 ends_on, status, result, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
                &[
                    f.district_code.into(),
                    f.barrier.as_str().into(),
                    f.name.as_str().into(),
                    f.description.as_str().into(),
                    f.owner.as_str().into(),
                    f.starts_on.as_str().into(),
                    f.ends_on.as_str().into(),
                    f.status.as_str().into(),
                    f.result.as_deref().into(),
                    f.created_by.as_str().into(),
                    f.created_at.as_str().into(),
                ],
            )?
            .and_then(|r| r.int(0))
            .ok_or_else(|| StoreError::Invalid("el facilitador no devolvió su número".into()))?;
        sql.execute(
            "INSERT INTO facilitator_updates (facilitator_id, at, actor, status, note) VALUES ($1, $2, $3, $4, $5)",
            &[
                id.into(),
                f.created_at.as_str().into(),
                f.created_by.as_str().into(),
                f.status.as_str().into(),
                note.into(),
            ],
        )?;
        Ok(id)
    })
}

/// One facilitator, if it lies within `ranges` (`None`: every district).
pub fn facilitator(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    ranges: Option<&[(i64, i64)]>,
) -> Result<Option<Facilitator>> {
    let mut params: Vec<Param> = vec![id.into()];
    let s = scope("district_code", ranges, &mut params);
    db.raw()
        .query_opt(
            &format!("SELECT {FACILITATOR_COLUMNS} FROM facilitators WHERE id = $1 AND {s}"),
            &params,
        )?
        .map(|r| decode_facilitator(&r))
        .transpose()
}

/// The facilitators within `ranges`, the latest first.
pub fn facilitators(
    db: &mut crate::sql::Db<'_>,
    ranges: Option<&[(i64, i64)]>,
) -> Result<Vec<Facilitator>> {
    let mut params: Vec<Param> = Vec::new();
    let s = scope("district_code", ranges, &mut params);
    db.raw()
        .query(
            &format!("SELECT {FACILITATOR_COLUMNS} FROM facilitators WHERE {s} ORDER BY id DESC"),
            &params,
        )?
        .iter()
        .map(decode_facilitator)
        .collect()
}

/// Records a step of a facilitator's follow-up: its status (and result) now, and the note.
pub fn follow(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    status: &str,
    result: Option<&str>,
    u: &Update,
) -> Result<()> {
    in_tx(db.raw(), |sql| {
        sql.execute(
            "UPDATE facilitators SET status = $2, result = $3, updated_at = $4 WHERE id = $1",
            &[
                id.into(),
                status.into(),
                result.into(),
                u.at.as_str().into(),
            ],
        )?;
        sql.execute(
            "INSERT INTO facilitator_updates (facilitator_id, at, actor, status, note) VALUES ($1, $2, $3, $4, $5)",
            &[
                id.into(),
                u.at.as_str().into(),
                u.actor.as_str().into(),
                status.into(),
                u.note.as_str().into(),
            ],
        )?;
        Ok(())
    })
}

/// A facilitator's follow-up, oldest first.
pub fn updates(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Vec<Update>> {
    Ok(db
        .raw()
        .query(
            "SELECT at, actor, status, note FROM facilitator_updates WHERE facilitator_id = $1 ORDER BY id",
            &[id.into()],
        )?
        .iter()
        .map(|r| Update {
            at: r.text(0),
            actor: r.text(1),
            status: r.text(2),
            note: r.text(3),
        })
        .collect())
}

/// The case tasks within `ranges` (by the case's district) on which a barrier was recorded.
pub fn blocked_tasks(
    db: &mut crate::sql::Db<'_>,
    ranges: Option<&[(i64, i64)]>,
) -> Result<Vec<BlockedTask>> {
    let mut params: Vec<Param> = Vec::new();
    let s = scope("c.district_code", ranges, &mut params);
    Ok(db
        .raw()
        .query(
            &format!(
                "SELECT c.district_code, t.barrier, c.id, c.status, t.status, t.done_at
                 FROM case_tasks t JOIN cases c ON c.id = t.case_id
                 WHERE t.barrier IS NOT NULL AND {s}"
            ),
            &params,
        )?
        .iter()
        .map(|r| BlockedTask {
            district_code: r.int(0).unwrap_or(0),
            barrier: r.text(1),
            case_id: r.int(2).unwrap_or(0),
            case_open: r.text(3) != "cerrado",
            pending: r.text(4) == "pendiente",
            done_at: r.string(5),
        })
        .collect())
}
