//! Change requests (migration 0019): the requests, the units and fields each names, their
//! approvals and attached documents, and [`apply`] — which writes the new versions and marks
//! the request applied in ONE transaction, so a request is never applied twice or half.
//!
//! The rules (who may ask or approve, how an edit is dated, which versions it writes) are
//! `vamos_domain::changes` and `vamos_app::changes`; this module only stores.

use crate::referrals::OPEN_SQL;
use crate::sql::{in_tx, Db, Param, Row, Sql};
use crate::versions::{self, VersionSet};
use crate::{Result, StoreError};

/// A request as made (before any approval).
#[derive(Debug, Clone, Default)]
pub struct NewChange {
    pub kind: String,
    pub unit_kind: String,
    pub unit_id: i64,
    /// Every unit id the request names, in the type's order.
    pub unit_ids: Vec<i64>,
    pub district_code: i64,
    pub other_district: Option<i64>,
    /// JSON object of the new values.
    pub payload: String,
    /// `correccion` or `cambio`.
    pub effect: String,
    /// ISO date of a `cambio`.
    pub effect_date: Option<String>,
    pub reason: String,
    /// JSON object `{"persona:5": 2, …}`: each unit's current version when requested.
    pub base_versions: String,
    pub requested_by: String,
    pub requested_at: String,
    pub grievance_id: Option<i64>,
    /// (unit kind, unit id, field — `*` for every field) for conflict detection.
    pub units: Vec<(String, i64, String)>,
}

/// A document to attach.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub document_kind: String,
    pub media_type: String,
    pub file_name: String,
    pub sha256: String,
    pub content: Vec<u8>,
}

/// What [`create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The new request's id.
    Id(i64),
    /// Refused: open request `.0` already names unit (`.1`, `.2`) for an overlapping field.
    Conflict(i64, &'static str, i64),
}

/// A stored request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub id: i64,
    pub kind: String,
    pub unit_kind: String,
    pub unit_id: i64,
    /// Every unit id the request names, in the type's order.
    pub unit_ids: Vec<i64>,
    pub district_code: i64,
    pub other_district: Option<i64>,
    pub payload: String,
    pub effect: String,
    pub effect_date: Option<String>,
    pub reason: String,
    pub base_versions: String,
    pub state: String,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    pub grievance_id: Option<i64>,
}

/// One approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub approver: String,
    pub role: String,
    pub at: String,
}

/// An attachment's description (its content is read by [`attachment`] only).
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentMeta {
    pub n: i64,
    pub document_kind: String,
    pub media_type: String,
    pub file_name: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
}

const COLS: &str =
    "id, kind, unit_kind, unit_id, unit_ids, district_code, other_district, payload, effect, \
    effect_date, reason, base_versions, state, requested_by, requested_at, decided_by, \
    decided_at, decision_reason, grievance_id";

fn decode(r: &Row) -> ChangeRow {
    ChangeRow {
        id: r.int(0).unwrap_or_default(),
        kind: r.text(1),
        unit_kind: r.text(2),
        unit_id: r.int(3).unwrap_or_default(),
        unit_ids: r
            .text(4)
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect(),
        district_code: r.int(5).unwrap_or_default(),
        other_district: r.int(6),
        payload: r.text(7),
        effect: r.text(8),
        effect_date: r.string(9),
        reason: r.text(10),
        base_versions: r.text(11),
        state: r.text(12),
        requested_by: r.text(13),
        requested_at: r.text(14),
        decided_by: r.string(15),
        decided_at: r.string(16),
        decision_reason: r.string(17),
        grievance_id: r.int(18),
    }
}

/// The open request that names unit (`kind`, `id`) for `field` — or for any field when either
/// is `*`.
fn open_conflict(sql: &mut dyn Sql, kind: &str, id: i64, field: &str) -> Result<Option<i64>> {
    Ok(sql
        .query_opt(
            "SELECT MIN(c.id) FROM change_units u JOIN change_requests c ON c.id = u.change_id
             WHERE c.state = 'pendiente' AND u.unit_kind = $1 AND u.unit_id = $2
               AND (u.field = $3 OR u.field = '*' OR $3 = '*')",
            &[kind.into(), id.into(), field.into()],
        )?
        .and_then(|r| r.int(0)))
}

fn static_kind(k: &str) -> &'static str {
    if k == "hogar" {
        "hogar"
    } else {
        "persona"
    }
}

/// Stores a request with its units and documents, unless an open request already names one
/// of its units for an overlapping field (checked in the same transaction).
pub fn create(db: &mut Db<'_>, c: &NewChange, attachments: &[NewAttachment]) -> Result<Created> {
    in_tx(db.raw(), |sql| {
        for (k, id, f) in &c.units {
            if let Some(other) = open_conflict(sql, k, *id, f)? {
                return Ok(Created::Conflict(other, static_kind(k), *id));
            }
        }
        let id = sql
            .query_opt(
                "INSERT INTO change_requests (kind, unit_kind, unit_id, district_code,
                   other_district, payload, effect, effect_date, reason, base_versions, state,
                   requested_by, requested_at, grievance_id, unit_ids)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pendiente', $11, $12, $13,
                   $14)
                 RETURNING id",
                &[
                    c.kind.as_str().into(),
                    c.unit_kind.as_str().into(),
                    c.unit_id.into(),
                    c.district_code.into(),
                    c.other_district.into(),
                    c.payload.as_str().into(),
                    c.effect.as_str().into(),
                    c.effect_date.clone().into(),
                    c.reason.as_str().into(),
                    c.base_versions.as_str().into(),
                    c.requested_by.as_str().into(),
                    c.requested_at.as_str().into(),
                    c.grievance_id.into(),
                    c.unit_ids
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                        .into(),
                ],
            )?
            .and_then(|r| r.int(0))
            .ok_or_else(|| StoreError::Invalid("la solicitud no recibió un número".into()))?;
        for (k, uid, f) in &c.units {
            sql.execute(
                "INSERT INTO change_units (change_id, unit_kind, unit_id, field)
                 VALUES ($1, $2, $3, $4)",
                &[
                    id.into(),
                    k.as_str().into(),
                    (*uid).into(),
                    f.as_str().into(),
                ],
            )?;
        }
        for (n, a) in attachments.iter().enumerate() {
            sql.execute(
                "INSERT INTO change_attachments (change_id, n, document_kind, media_type,
                   file_name, size, sha256, content, uploaded_by, uploaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    id.into(),
                    (n as i64 + 1).into(),
                    a.document_kind.as_str().into(),
                    a.media_type.as_str().into(),
                    a.file_name.as_str().into(),
                    (a.content.len() as i64).into(),
                    a.sha256.as_str().into(),
                    Param::Bytes(Some(a.content.clone())),
                    c.requested_by.as_str().into(),
                    c.requested_at.as_str().into(),
                ],
            )?;
        }
        Ok(Created::Id(id))
    })
}

/// Request `id`.
pub fn get(db: &mut Db<'_>, id: i64) -> Result<Option<ChangeRow>> {
    Ok(db
        .raw()
        .query_opt(
            &format!("SELECT {COLS} FROM change_requests WHERE id = $1"),
            &[id.into()],
        )?
        .as_ref()
        .map(decode))
}

/// A page of requests, newest first, filtered by state and type, within district ranges
/// (the first unit's district at request time).
pub fn list(
    db: &mut Db<'_>,
    state: Option<&str>,
    kind: Option<&str>,
    ranges: &[(i64, i64)],
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ChangeRow>> {
    let mut params: Vec<Param> = vec![
        state.into(),
        kind.into(),
        before.unwrap_or(i64::MAX).into(),
        limit.into(),
    ];
    // Both districts a request touches must be in scope (a transfer or a merge may name a
    // second one), in SQL so that pages stay full.
    let main = crate::bulk::ranges_sql("district_code", ranges, &mut params);
    let other = crate::bulk::ranges_sql("other_district", ranges, &mut params);
    let rows = db.raw().query(
        &format!(
            "SELECT {COLS} FROM change_requests
             WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2)
               AND id < $3
               AND {main} AND (other_district IS NULL OR {other})
             ORDER BY id DESC LIMIT $4"
        ),
        &params,
    )?;
    Ok(rows.iter().map(decode).collect())
}

/// The units request `id` names, in order (unit kind, id), without repeats.
pub fn units(db: &mut Db<'_>, id: i64) -> Result<Vec<(String, i64)>> {
    Ok(units_of(db, &[id])?.remove(&id).unwrap_or_default())
}

/// The units of each of requests `ids`, in order, without repeats (one query).
pub fn units_of(
    db: &mut Db<'_>,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<(String, i64)>>> {
    let mut out: std::collections::HashMap<i64, Vec<(String, i64)>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = db.raw();
    let mut params = Vec::new();
    let within = crate::sql::in_ints(sql.dialect(), "change_id", ids, &mut params);
    let rows = sql.query(
        &format!("SELECT change_id, unit_kind, unit_id FROM change_units WHERE {within}"),
        &params,
    )?;
    for r in rows {
        let list = out.entry(r.int(0).unwrap_or_default()).or_default();
        let u = (r.text(1), r.int(2).unwrap_or_default());
        if !list.contains(&u) {
            list.push(u);
        }
    }
    Ok(out)
}

/// The approvals of request `id`, oldest first.
pub fn approvals(db: &mut Db<'_>, id: i64) -> Result<Vec<Approval>> {
    let rows = db.raw().query(
        "SELECT approver, role, at FROM change_approvals WHERE change_id = $1 ORDER BY at",
        &[id.into()],
    )?;
    Ok(rows
        .iter()
        .map(|r| Approval {
            approver: r.text(0),
            role: r.text(1),
            at: r.text(2),
        })
        .collect())
}

/// The documents attached to request `id` (without their content).
pub fn attachments(db: &mut Db<'_>, id: i64) -> Result<Vec<AttachmentMeta>> {
    let rows = db.raw().query(
        "SELECT n, document_kind, media_type, file_name, size, sha256, uploaded_by, uploaded_at
         FROM change_attachments WHERE change_id = $1 ORDER BY n",
        &[id.into()],
    )?;
    Ok(rows.iter().map(attachment_meta).collect())
}

fn attachment_meta(r: &Row) -> AttachmentMeta {
    AttachmentMeta {
        n: r.int(0).unwrap_or_default(),
        document_kind: r.text(1),
        media_type: r.text(2),
        file_name: r.text(3),
        size: r.int(4).unwrap_or_default(),
        sha256: r.text(5),
        uploaded_by: r.text(6),
        uploaded_at: r.text(7),
    }
}

/// Document `n` of request `id`, with its content.
pub fn attachment(db: &mut Db<'_>, id: i64, n: i64) -> Result<Option<(AttachmentMeta, Vec<u8>)>> {
    Ok(db
        .raw()
        .query_opt(
            "SELECT n, document_kind, media_type, file_name, size, sha256, uploaded_by,
                    uploaded_at, content
             FROM change_attachments WHERE change_id = $1 AND n = $2",
            &[id.into(), n.into()],
        )?
        .map(|r| {
            let bytes = r.at(8).bytes().unwrap_or_default();
            (attachment_meta(&r), bytes)
        }))
}

fn still_pending(sql: &mut dyn Sql, id: i64) -> Result<()> {
    let state = sql
        .query_opt(
            "SELECT state FROM change_requests WHERE id = $1",
            &[id.into()],
        )?
        .map(|r| r.text(0));
    match state.as_deref() {
        Some("pendiente") => Ok(()),
        Some(s) => Err(StoreError::Conflict(format!(
            "la solicitud {id} ya está {s}"
        ))),
        None => Err(StoreError::Invalid(format!("la solicitud {id} no existe"))),
    }
}

fn insert_approval(sql: &mut dyn Sql, id: i64, a: &Approval) -> Result<()> {
    sql.execute(
        "INSERT INTO change_approvals (change_id, approver, role, at) VALUES ($1, $2, $3, $4)",
        &[
            id.into(),
            a.approver.as_str().into(),
            a.role.as_str().into(),
            a.at.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Records an approval that does not yet complete the request.
pub fn approve(db: &mut Db<'_>, id: i64, a: &Approval) -> Result<()> {
    in_tx(db.raw(), |sql| {
        still_pending(sql, id)?;
        insert_approval(sql, id, a)
    })
}

/// Rejects a pending request with a reason.
pub fn reject(db: &mut Db<'_>, id: i64, by: &str, at: &str, reason: &str) -> Result<()> {
    in_tx(db.raw(), |sql| {
        still_pending(sql, id)?;
        sql.execute(
            "UPDATE change_requests SET state = 'rechazada', decided_by = $2, decided_at = $3,
               decision_reason = $4 WHERE id = $1",
            &[id.into(), by.into(), at.into(), reason.into()],
        )?;
        Ok(())
    })
}

/// What applying a request does besides writing versions: evidence that follows a merged
/// person or household, and referrals of persons who died or left.
#[derive(Debug, Clone, Default)]
pub struct Relink {
    /// (duplicate, survivor) persons: referrals, counter-referrals and administrative records
    /// move to the survivor.
    pub persons: Vec<(i64, i64)>,
    /// (duplicate, survivor) households: their referrals move to the survivor.
    pub households: Vec<(i64, i64)>,
    /// Persons whose open referrals close (`cerrada`) with the reason given.
    pub close_referrals: Vec<(i64, String)>,
}

/// Why [`apply`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyRefusal {
    /// Unit (kind, id) moved on since the request: its current version is not the expected.
    Stale(&'static str, i64),
    /// A person or household id the change would register was taken meanwhile (by an import
    /// or another change): plan it again.
    IdTaken,
}

/// Applies request `id`: records the final approval, checks every unit is still at the version
/// the request was made against (`expected`: (kind, id, version)), writes `set`, moves the
/// evidence of `relink`, and marks the request `aplicada` — all in one transaction.
pub fn apply(
    db: &mut Db<'_>,
    id: i64,
    approval: &Approval,
    expected: &[(&'static str, i64, i64)],
    set: &VersionSet,
    relink: &Relink,
) -> Result<std::result::Result<(), ApplyRefusal>> {
    in_tx(db.raw(), |sql| {
        still_pending(sql, id)?;
        for (kind, uid, v) in expected {
            let table = if *kind == "hogar" {
                "households"
            } else {
                "persons"
            };
            let now = sql
                .query_opt(
                    &format!("SELECT version FROM {table} WHERE id = $1"),
                    &[(*uid).into()],
                )?
                .and_then(|r| r.int(0));
            if now != Some(*v) {
                return Ok(Err(ApplyRefusal::Stale(kind, *uid)));
            }
        }
        // New units were numbered when the change was planned, just before this transaction.
        let first_new = |ids: &mut dyn Iterator<Item = i64>| ids.min();
        if let Some(p) = first_new(&mut set.new_persons.iter().map(|(p, _)| p.id)) {
            if p < versions::next_person_id_in(sql)? {
                return Ok(Err(ApplyRefusal::IdTaken));
            }
        }
        if let Some(h) = first_new(&mut set.new_households.iter().map(|(h, _)| h.id)) {
            if h < versions::next_household_id_in(sql)? {
                return Ok(Err(ApplyRefusal::IdTaken));
            }
        }
        insert_approval(sql, id, approval)?;
        versions::write(sql, set)?;
        relink_in_tx(sql, relink, &approval.at, &approval.approver, id)?;
        sql.execute(
            "UPDATE change_requests SET state = 'aplicada', decided_by = $2, decided_at = $3
             WHERE id = $1",
            &[
                id.into(),
                approval.approver.as_str().into(),
                approval.at.as_str().into(),
            ],
        )?;
        Ok(Ok(()))
    })
}

/// Closes the open referrals of `ids` (by referral id) with `reason`, one event each.
fn close_referrals(
    sql: &mut dyn Sql,
    ids: &[(i64, String)],
    reason: &str,
    at: &str,
    actor: &str,
) -> Result<()> {
    for (rid, from) in ids {
        sql.execute(
            "UPDATE referrals SET status = 'cerrada', reason = $2, closed_at = $3, updated_at = $3
             WHERE id = $1",
            &[(*rid).into(), reason.into(), at.into()],
        )?;
        sql.execute(
            "INSERT INTO referral_events (referral_id, at, actor, from_status, to_status, reason)
             VALUES ($1, $2, $3, $4, 'cerrada', $5)",
            &[
                (*rid).into(),
                at.into(),
                actor.into(),
                from.as_str().into(),
                reason.into(),
            ],
        )?;
    }
    Ok(())
}

fn open_referrals(sql: &mut dyn Sql, kind: &str, unit: i64) -> Result<Vec<(i64, String, String)>> {
    Ok(sql
        .query(
            &format!(
                "SELECT id, status, service FROM referrals
                 WHERE unit_kind = $1 AND unit_id = $2 AND status IN {OPEN_SQL}"
            ),
            &[kind.into(), unit.into()],
        )?
        .iter()
        .map(|r| (r.int(0).unwrap_or_default(), r.text(1), r.text(2)))
        .collect())
}

/// Moves a unit's referrals to the survivor; an open one for a service the survivor already
/// has open is closed instead (one open referral per unit and service).
fn move_referrals(
    sql: &mut dyn Sql,
    kind: &str,
    dup: i64,
    survivor: i64,
    at: &str,
    actor: &str,
    change: i64,
) -> Result<()> {
    let kept: Vec<String> = open_referrals(sql, kind, survivor)?
        .into_iter()
        .map(|r| r.2)
        .collect();
    let twins: Vec<(i64, String)> = open_referrals(sql, kind, dup)?
        .into_iter()
        .filter(|r| kept.contains(&r.2))
        .map(|r| (r.0, r.1))
        .collect();
    let reason = format!(
        "registro duplicado fusionado en {kind} {survivor} (solicitud de cambio {change}), que ya tiene esta referencia abierta"
    );
    close_referrals(sql, &twins, &reason, at, actor)?;
    sql.execute(
        "UPDATE referrals SET unit_id = $3 WHERE unit_kind = $1 AND unit_id = $2",
        &[kind.into(), dup.into(), survivor.into()],
    )?;
    Ok(())
}

fn relink_in_tx(sql: &mut dyn Sql, r: &Relink, at: &str, actor: &str, change: i64) -> Result<()> {
    for (dup, survivor) in &r.persons {
        move_referrals(sql, "persona", *dup, *survivor, at, actor, change)?;
        sql.execute(
            "UPDATE counter_referrals SET person_id = $2 WHERE person_id = $1",
            &[(*dup).into(), (*survivor).into()],
        )?;
        sql.execute(
            "UPDATE admin_records SET person_id = $2 WHERE person_id = $1",
            &[(*dup).into(), (*survivor).into()],
        )?;
    }
    for (dup, survivor) in &r.households {
        move_referrals(sql, "hogar", *dup, *survivor, at, actor, change)?;
        sql.execute(
            "UPDATE referrals SET household_id = $2 WHERE household_id = $1",
            &[(*dup).into(), (*survivor).into()],
        )?;
    }
    for (person, reason) in &r.close_referrals {
        let open: Vec<(i64, String)> = open_referrals(sql, "persona", *person)?
            .into_iter()
            .map(|r| (r.0, r.1))
            .collect();
        close_referrals(sql, &open, reason, at, actor)?;
    }
    Ok(())
}

/// The referrals of a person (id, status), for tests and the preview.
pub fn person_referrals(db: &mut Db<'_>, person: i64) -> Result<Vec<(i64, String)>> {
    Ok(db
        .raw()
        .query(
            "SELECT id, status FROM referrals WHERE unit_kind = 'persona' AND unit_id = $1 ORDER BY id",
            &[person.into()],
        )?
        .iter()
        .map(|r| (r.int(0).unwrap_or_default(), r.text(1)))
        .collect())
}

/// How many counter-referrals and administrative records name person `id`.
pub fn person_evidence_counts(db: &mut Db<'_>, person: i64) -> Result<(i64, i64)> {
    let c = db
        .raw()
        .query_opt(
            "SELECT (SELECT COUNT(*) FROM counter_referrals WHERE person_id = $1),
                    (SELECT COUNT(*) FROM admin_records WHERE person_id = $1)",
            &[person.into()],
        )?
        .map(|r| (r.int(0).unwrap_or_default(), r.int(1).unwrap_or_default()))
        .unwrap_or_default();
    Ok(c)
}
