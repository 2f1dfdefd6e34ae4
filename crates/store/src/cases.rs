//! Canal Verde cases (migration 0024): typed reads and writes of `cases`, their plan
//! (`case_tasks`) and timeline (`case_events`), and the open referrals candidates are flagged
//! from. Who may see or move a case, the criteria and the closing rule are
//! `vamos_app::cases`' business; this module stores and filters — by district in SQL, like
//! every other personal-data read.

use crate::sql::{in_tx, Param, Row, Sql};
use crate::{Result, StoreError};

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Case {
    pub id: i64,
    pub unit_kind: String,
    pub unit_id: i64,
    pub district_code: i64,
    pub status: String,
    pub origin: String,
    pub reason: String,
    pub priority: String,
    pub score: i64,
    pub protocol: Option<String>,
    pub criteria_version: String,
    pub assigned_to: Option<String>,
    pub institution: Option<String>,
    pub opened_by: String,
    pub opened_at: String,
    pub updated_at: String,
    pub ending: Option<String>,
    pub ending_reason: Option<String>,
    pub ending_requested_by: Option<String>,
    pub approved_by: Option<String>,
    pub closed_at: Option<String>,
    pub offered_to: Option<i64>,
}

const COLUMNS: &str = "id, unit_kind, unit_id, district_code, status, origin, reason, priority, score, \
    protocol, criteria_version, assigned_to, institution, opened_by, opened_at, updated_at, ending, \
    ending_reason, ending_requested_by, approved_by, closed_at, offered_to";

fn decode(r: &Row) -> Result<Case> {
    let bad = || StoreError::Invalid("caso ilegible".into());
    Ok(Case {
        id: r.int(0).ok_or_else(bad)?,
        unit_kind: r.text(1),
        unit_id: r.int(2).ok_or_else(bad)?,
        district_code: r.int(3).ok_or_else(bad)?,
        status: r.text(4),
        origin: r.text(5),
        reason: r.text(6),
        priority: r.text(7),
        score: r.int(8).unwrap_or(0),
        protocol: r.string(9),
        criteria_version: r.text(10),
        assigned_to: r.string(11),
        institution: r.string(12),
        opened_by: r.text(13),
        opened_at: r.text(14),
        updated_at: r.text(15),
        ending: r.string(16),
        ending_reason: r.string(17),
        ending_requested_by: r.string(18),
        approved_by: r.string(19),
        closed_at: r.string(20),
        offered_to: r.int(21),
    })
}

/// One task of a plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Task {
    pub id: i64,
    pub case_id: i64,
    /// `servicio` or `protocolo`.
    pub kind: String,
    pub unit_kind: Option<String>,
    pub unit_id: Option<i64>,
    pub service: Option<String>,
    pub referral_id: Option<i64>,
    pub step: Option<String>,
    pub institution: String,
    pub due_on: String,
    pub status: String,
    pub barrier: Option<String>,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

const TASK_COLUMNS: &str = "id, case_id, kind, unit_kind, unit_id, service, referral_id, step, \
    institution, due_on, status, barrier, done_at, done_by";

fn decode_task(r: &Row) -> Result<Task> {
    let bad = || StoreError::Invalid("tarea ilegible".into());
    Ok(Task {
        id: r.int(0).ok_or_else(bad)?,
        case_id: r.int(1).ok_or_else(bad)?,
        kind: r.text(2),
        unit_kind: r.string(3),
        unit_id: r.int(4),
        service: r.string(5),
        referral_id: r.int(6),
        step: r.string(7),
        institution: r.text(8),
        due_on: r.text(9),
        status: r.text(10),
        barrier: r.string(11),
        done_at: r.string(12),
        done_by: r.string(13),
    })
}

/// One step of a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

/// A case to open, with its plan and the first step of its timeline.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub unit_kind: String,
    pub unit_id: i64,
    pub district_code: i64,
    pub status: String,
    pub origin: String,
    pub reason: String,
    pub priority: String,
    pub score: i64,
    pub protocol: Option<String>,
    pub criteria_version: String,
    pub opened_by: String,
    pub opened_at: String,
    /// The populations of special attention of its unit, comma-separated.
    pub populations: String,
}

/// A task to plan (its `id` and `case_id` are given by [`open`]).
pub type NewTask = Task;

fn add_event(sql: &mut dyn Sql, case_id: i64, e: &Event) -> Result<()> {
    sql.execute(
        "INSERT INTO case_events (case_id, at, actor, kind, detail) VALUES ($1, $2, $3, $4, $5)",
        &[
            case_id.into(),
            e.at.as_str().into(),
            e.actor.as_str().into(),
            e.kind.as_str().into(),
            e.detail.as_str().into(),
        ],
    )?;
    Ok(())
}

fn insert_tasks(sql: &mut dyn Sql, case_id: i64, tasks: &[NewTask]) -> Result<()> {
    for t in tasks {
        sql.execute(
            "INSERT INTO case_tasks (case_id, kind, unit_kind, unit_id, service, referral_id, step,
             institution, due_on, status, barrier, done_at, done_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                case_id.into(),
                t.kind.as_str().into(),
                t.unit_kind.as_deref().into(),
                t.unit_id.into(),
                t.service.as_deref().into(),
                t.referral_id.into(),
                t.step.as_deref().into(),
                t.institution.as_str().into(),
                t.due_on.as_str().into(),
                t.status.as_str().into(),
                t.barrier.as_deref().into(),
                t.done_at.as_deref().into(),
                t.done_by.as_deref().into(),
            ],
        )?;
    }
    Ok(())
}

/// The open case of a unit, if any (any district: the caller checks scope).
pub fn open_case_of(
    db: &mut crate::sql::Db<'_>,
    unit_kind: &str,
    unit_id: i64,
) -> Result<Option<i64>> {
    Ok(db
        .raw()
        .query_opt(
            "SELECT id FROM cases WHERE unit_kind = $1 AND unit_id = $2 AND status <> 'cerrado'",
            &[unit_kind.into(), unit_id.into()],
        )?
        .and_then(|r| r.int(0)))
}

/// The open cases of household `household_id` and of its current members (any district).
pub fn open_cases_of_household(
    db: &mut crate::sql::Db<'_>,
    household_id: i64,
) -> Result<Vec<Case>> {
    db.raw()
        .query(
            &format!(
                "SELECT {COLUMNS} FROM cases WHERE status <> 'cerrado' AND (
                 (unit_kind = 'hogar' AND unit_id = $1)
                 OR (unit_kind = 'persona' AND unit_id IN (SELECT id FROM persons WHERE household_id = $1)))
                 ORDER BY id"
            ),
            &[household_id.into()],
        )?
        .iter()
        .map(decode)
        .collect()
}

/// The cases (open or closed) of the units named, within `ranges`, newest first, at most 20.
pub fn of_units(
    db: &mut crate::sql::Db<'_>,
    units: &[(&str, i64)],
    ranges: Option<&[(i64, i64)]>,
) -> Result<Vec<Case>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Param> = Vec::new();
    let mut any = Vec::new();
    for (kind, id) in units {
        params.push((*kind).into());
        params.push((*id).into());
        any.push(format!(
            "(unit_kind = ${} AND unit_id = ${})",
            params.len() - 1,
            params.len()
        ));
    }
    let mut clauses = vec![format!("({})", any.join(" OR "))];
    if let Some(r) = ranges {
        clauses.push(in_reach(r, &mut params));
    }
    db.raw()
        .query(
            &format!(
                "SELECT {COLUMNS} FROM cases WHERE {} ORDER BY id DESC LIMIT 20",
                clauses.join(" AND ")
            ),
            &params,
        )?
        .iter()
        .map(decode)
        .collect()
}

/// Opens a case with its plan and the timeline's first step, all or nothing. A unit with an
/// open case already answers [`StoreError::Conflict`] with that case's number.
pub fn open(
    db: &mut crate::sql::Db<'_>,
    c: &NewCase,
    tasks: &[NewTask],
    detail: &str,
) -> Result<i64> {
    in_tx(db.raw(), |sql| {
        if let Some(id) = sql
            .query_opt(
                "SELECT id FROM cases WHERE unit_kind = $1 AND unit_id = $2 AND status <> 'cerrado'",
                &[c.unit_kind.as_str().into(), c.unit_id.into()],
            )?
            .and_then(|r| r.int(0))
        {
            return Err(StoreError::Conflict(format!(
                "la unidad ya tiene el caso abierto {id}"
            )));
        }
        let id = sql
            .query_opt(
                "INSERT INTO cases (unit_kind, unit_id, district_code, status, origin, reason, priority,
                 score, protocol, criteria_version, opened_by, opened_at, updated_at, populations)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) RETURNING id",
                &[
                    c.unit_kind.as_str().into(),
                    c.unit_id.into(),
                    c.district_code.into(),
                    c.status.as_str().into(),
                    c.origin.as_str().into(),
                    c.reason.as_str().into(),
                    c.priority.as_str().into(),
                    c.score.into(),
                    c.protocol.as_deref().into(),
                    c.criteria_version.as_str().into(),
                    c.opened_by.as_str().into(),
                    c.opened_at.as_str().into(),
                    c.populations.as_str().into(),
                ],
            )?
            .and_then(|r| r.int(0))
            .ok_or_else(|| StoreError::Invalid("el caso no devolvió su número".into()))?;
        insert_tasks(sql, id, tasks)?;
        add_event(
            sql,
            id,
            &Event {
                at: c.opened_at.clone(),
                actor: c.opened_by.clone(),
                kind: "abierto".into(),
                detail: detail.into(),
            },
        )?;
        Ok(id)
    })
}

/// A case is within reach of the districts `ranges` when it is followed there or offered there
/// (its household moved in).
fn in_reach(ranges: &[(i64, i64)], params: &mut Vec<Param>) -> String {
    let followed = crate::bulk::ranges_sql("district_code", ranges, params);
    let offered = crate::bulk::ranges_sql("offered_to", ranges, params);
    format!("({followed} OR {offered})")
}

/// One case, if it is followed or offered within `ranges` (`None`: every district).
pub fn get(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    ranges: Option<&[(i64, i64)]>,
) -> Result<Option<Case>> {
    let mut params: Vec<Param> = vec![id.into()];
    let mut clauses = vec!["id = $1".to_string()];
    if let Some(r) = ranges {
        clauses.push(in_reach(r, &mut params));
    }
    db.raw()
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM cases WHERE {}",
                clauses.join(" AND ")
            ),
            &params,
        )?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub district: Option<i64>,
    pub status: Option<String>,
    pub open: bool,
    pub limit: i64,
}

/// Cases within `ranges` matching `f`: highest score first, then oldest.
pub fn list(
    db: &mut crate::sql::Db<'_>,
    ranges: Option<&[(i64, i64)]>,
    f: &Filter,
) -> Result<Vec<Case>> {
    let mut params: Vec<Param> = Vec::new();
    let mut clauses = vec!["1 = 1".to_string()];
    if let Some(r) = ranges {
        clauses.push(in_reach(r, &mut params));
    }
    if let Some(d) = f.district {
        params.push(d.into());
        clauses.push(format!(
            "(district_code = ${0} OR offered_to = ${0})",
            params.len()
        ));
    }
    if let Some(s) = &f.status {
        params.push(s.as_str().into());
        clauses.push(format!("status = ${}", params.len()));
    }
    if f.open {
        clauses.push("status <> 'cerrado'".into());
    }
    params.push(f.limit.clamp(1, 10_000).into());
    db.raw()
        .query(
            &format!(
                "SELECT {COLUMNS} FROM cases WHERE {} ORDER BY score DESC, id LIMIT ${}",
                clauses.join(" AND "),
                params.len()
            ),
            &params,
        )?
        .iter()
        .map(decode)
        .collect()
}

/// A case's plan, in task order.
pub fn tasks(db: &mut crate::sql::Db<'_>, case_id: i64) -> Result<Vec<Task>> {
    db.raw()
        .query(
            &format!("SELECT {TASK_COLUMNS} FROM case_tasks WHERE case_id = $1 ORDER BY id"),
            &[case_id.into()],
        )?
        .iter()
        .map(decode_task)
        .collect()
}

/// A case's timeline, oldest first.
pub fn events(db: &mut crate::sql::Db<'_>, case_id: i64) -> Result<Vec<Event>> {
    Ok(db
        .raw()
        .query(
            "SELECT at, actor, kind, detail FROM case_events WHERE case_id = $1 ORDER BY id",
            &[case_id.into()],
        )?
        .iter()
        .map(|r| Event {
            at: r.text(0),
            actor: r.text(1),
            kind: r.text(2),
            detail: r.text(3),
        })
        .collect())
}

/// Writes a case's mutable fields as given (status, assignment, ending, closing) with a step
/// of its timeline and its tasks' new statuses, all or nothing — provided the case is still in
/// `expected_status` (else [`StoreError::Conflict`]: someone moved it meanwhile).
pub fn save(
    db: &mut crate::sql::Db<'_>,
    c: &Case,
    expected_status: &str,
    tasks: &[Task],
    e: &Event,
) -> Result<()> {
    in_tx(db.raw(), |sql| {
        let n = sql.execute(
            "UPDATE cases SET status = $2, assigned_to = $3, institution = $4, updated_at = $5,
             ending = $6, ending_reason = $7, ending_requested_by = $8, approved_by = $9,
             closed_at = $10, offered_to = $11, district_code = $12
             WHERE id = $1 AND status = $13",
            &[
                c.id.into(),
                c.status.as_str().into(),
                c.assigned_to.as_deref().into(),
                c.institution.as_deref().into(),
                c.updated_at.as_str().into(),
                c.ending.as_deref().into(),
                c.ending_reason.as_deref().into(),
                c.ending_requested_by.as_deref().into(),
                c.approved_by.as_deref().into(),
                c.closed_at.as_deref().into(),
                c.offered_to.into(),
                c.district_code.into(),
                expected_status.into(),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "el caso {} cambió mientras tanto: vuelva a abrirlo",
                c.id
            )));
        }
        for t in tasks {
            sql.execute(
                "UPDATE case_tasks SET status = $2, barrier = $3, done_at = $4, done_by = $5
                 WHERE id = $1",
                &[
                    t.id.into(),
                    t.status.as_str().into(),
                    t.barrier.as_deref().into(),
                    t.done_at.as_deref().into(),
                    t.done_by.as_deref().into(),
                ],
            )?;
        }
        add_event(sql, c.id, e)
    })
}

/// Adds a step to a case's timeline (a visit, a contact, a note).
pub fn note(db: &mut crate::sql::Db<'_>, case_id: i64, e: &Event) -> Result<()> {
    add_event(db.raw(), case_id, e)
}

/// One open referral, as candidates are flagged from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenNeed {
    pub referral_id: i64,
    pub unit_kind: String,
    pub unit_id: i64,
    pub household_id: Option<i64>,
    pub district_code: i64,
    pub service: String,
    pub institution: String,
    pub populations: String,
    pub critical: bool,
    pub priority: i64,
    pub due_on: String,
}

const NEED_COLUMNS: &str = "id, unit_kind, unit_id, household_id, district_code, service, \
    institution, populations, critical, priority, CAST(due_on AS TEXT)";

fn decode_need(r: &Row) -> Option<OpenNeed> {
    Some(OpenNeed {
        referral_id: r.int(0)?,
        unit_kind: r.text(1),
        unit_id: r.int(2)?,
        household_id: r.int(3),
        district_code: r.int(4)?,
        service: r.text(5),
        institution: r.text(6),
        populations: r.text(7),
        critical: r.int(8).unwrap_or(0) != 0,
        priority: r.int(9).unwrap_or(0),
        due_on: r.text(10),
    })
}

/// A unit flagged for Canal Verde, as stored by [`replace_candidates`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateRow {
    pub unit_kind: String,
    pub unit_id: i64,
    pub measurement_id: i64,
    pub district_code: i64,
    pub priority: String,
    pub score: i64,
    /// The criteria met, by name.
    pub reasons: Vec<String>,
    pub unprotected: i64,
    /// Populations of special attention, comma-separated.
    pub populations: String,
    pub criteria_version: String,
    /// The unit's open case (read only).
    pub open_case: Option<i64>,
}

const CANDIDATE_COLS: [crate::bulk::Col; 10] = [
    crate::bulk::Col("unit_kind", false),
    crate::bulk::Col("unit_id", false),
    crate::bulk::Col("measurement_id", false),
    crate::bulk::Col("district_code", false),
    crate::bulk::Col("priority", false),
    crate::bulk::Col("score", false),
    crate::bulk::Col("reasons", false),
    crate::bulk::Col("unprotected", false),
    crate::bulk::Col("populations", false),
    crate::bulk::Col("criteria_version", false),
];

/// Replaces the candidates of the districts within `ranges` by `rows`, all or nothing; the
/// rows are taken from the iterator a slice at a time (a national generation flags over a
/// million units). How many were stored.
pub fn replace_candidates(
    db: &mut crate::sql::Db<'_>,
    ranges: &[(i64, i64)],
    rows: &mut dyn Iterator<Item = CandidateRow>,
) -> Result<u64> {
    in_tx(db.raw(), |sql| {
        let mut params: Vec<Param> = Vec::new();
        let cond = crate::bulk::ranges_sql("district_code", ranges, &mut params);
        sql.execute(
            &format!("DELETE FROM case_candidates WHERE {cond}"),
            &params,
        )?;
        let mut stored = 0u64;
        let mut values: Vec<Vec<Param>> = Vec::with_capacity(50_000);
        loop {
            values.clear();
            for c in (&mut *rows).take(50_000) {
                values.push(vec![
                    c.unit_kind.as_str().into(),
                    c.unit_id.into(),
                    c.measurement_id.into(),
                    c.district_code.into(),
                    c.priority.as_str().into(),
                    c.score.into(),
                    c.reasons.join("|").into(),
                    c.unprotected.into(),
                    c.populations.as_str().into(),
                    c.criteria_version.as_str().into(),
                ]);
            }
            if values.is_empty() {
                return Ok(stored);
            }
            stored += values.len() as u64;
            crate::bulk::insert_rows(sql, "case_candidates", &CANDIDATE_COLS, &values)?;
        }
    })
}

/// The candidates within `ranges` (and `district`), highest score first, at most `limit`, each
/// with its unit's open case; a unit whose referrals were all answered since it was flagged
/// is left out. Also how many were flagged in all (before the limit, answered ones included).
pub fn candidates(
    db: &mut crate::sql::Db<'_>,
    ranges: Option<&[(i64, i64)]>,
    district: Option<i64>,
    limit: i64,
) -> Result<(Vec<CandidateRow>, i64)> {
    let mut params: Vec<Param> = Vec::new();
    let mut clauses = vec!["1 = 1".to_string()];
    if let Some(r) = ranges {
        clauses.push(crate::bulk::ranges_sql("k.district_code", r, &mut params));
    }
    if let Some(d) = district {
        params.push(d.into());
        clauses.push(format!("k.district_code = ${}", params.len()));
    }
    // The count is of the units flagged (an index range); the answered ones are left out of
    // the rows read, which stop at `limit`.
    let flagged = clauses.join(" AND ");
    let open = "r.status IN ('emitida', 'recibida', 'contactada')";
    clauses.push(format!(
        "(CASE WHEN k.unit_kind = 'hogar'
             THEN EXISTS (SELECT 1 FROM referrals r WHERE r.household_id = k.unit_id AND {open})
             ELSE EXISTS (SELECT 1 FROM referrals r WHERE r.unit_kind = k.unit_kind AND r.unit_id = k.unit_id AND {open})
         END)"
    ));
    let filter = clauses.join(" AND ");
    let total = db
        .raw()
        .query_opt(
            &format!("SELECT COUNT(*) FROM case_candidates k WHERE {flagged}"),
            &params,
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(0);
    params.push(limit.max(1).into());
    let rows = db.raw().query(
        &format!(
            "SELECT k.unit_kind, k.unit_id, k.measurement_id, k.district_code, k.priority, k.score,
                    k.reasons, k.unprotected, k.populations, k.criteria_version,
                    (SELECT c.id FROM cases c WHERE c.unit_kind = k.unit_kind AND c.unit_id = k.unit_id
                     AND c.status <> 'cerrado')
             FROM case_candidates k WHERE {filter}
             ORDER BY k.score DESC, k.unit_id LIMIT ${}",
            params.len()
        ),
        &params,
    )?;
    let out = rows
        .iter()
        .map(|r| CandidateRow {
            unit_kind: r.text(0),
            unit_id: r.int(1).unwrap_or(0),
            measurement_id: r.int(2).unwrap_or(0),
            district_code: r.int(3).unwrap_or(0),
            priority: r.text(4),
            score: r.int(5).unwrap_or(0),
            reasons: r
                .text(6)
                .split('|')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
            unprotected: r.int(7).unwrap_or(0),
            populations: r.text(8),
            criteria_version: r.text(9),
            open_case: r.int(10),
        })
        .collect();
    Ok((out, total))
}

/// The open referrals of one unit — for a household, its own and its members'.
pub fn open_needs_of(
    db: &mut crate::sql::Db<'_>,
    unit_kind: &str,
    unit_id: i64,
) -> Result<Vec<OpenNeed>> {
    let open = "status IN ('emitida', 'recibida', 'contactada')";
    let (sql, params): (String, Vec<Param>) = if unit_kind == "hogar" {
        (
            format!("SELECT {NEED_COLUMNS} FROM referrals WHERE household_id = $1 AND {open} ORDER BY id"),
            vec![unit_id.into()],
        )
    } else {
        (
            format!("SELECT {NEED_COLUMNS} FROM referrals WHERE unit_kind = $1 AND unit_id = $2 AND {open} ORDER BY id"),
            vec![unit_kind.into(), unit_id.into()],
        )
    };
    Ok(db
        .raw()
        .query(&sql, &params)?
        .iter()
        .filter_map(decode_need)
        .collect())
}

/// What asks for a Mesa's attention, per case: the kind of notice and how many things it counts
/// (overdue tasks; 1 for the others).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub case_id: i64,
    pub kind: String,
    pub count: i64,
}

/// The notices of the open cases within `ranges`, at most `limit` of each kind:
/// `vencidas` (pending tasks due before `today`), `sin_asignar`, `contra_referencias` (every
/// service of the plan answered as attended by its institution: the case can be checked and
/// closed), `plan_completo` (verified by the system), `aprobar` (another ending waiting for a
/// second person: only when `approver` is given, never the asker's own) and `ofrecido` (a case
/// whose household moved into these districts).
pub fn notices(
    db: &mut crate::sql::Db<'_>,
    ranges: Option<&[(i64, i64)]>,
    today: &str,
    approver: Option<&str>,
    limit: i64,
) -> Result<Vec<Notice>> {
    let scope = |col: &str, params: &mut Vec<Param>| match ranges {
        None => "1 = 1".to_string(),
        Some(r) => crate::bulk::ranges_sql(col, r, params),
    };
    let mut out = Vec::new();
    let mut run = |kind: &str, sql: String, params: Vec<Param>| -> Result<()> {
        for r in db.raw().query(&sql, &params)? {
            out.push(Notice {
                case_id: r.int(0).unwrap_or(0),
                kind: kind.into(),
                count: r.int(1).unwrap_or(1),
            });
        }
        Ok(())
    };
    let mut p: Vec<Param> = vec![today.into()];
    let s = scope("c.district_code", &mut p);
    p.push(limit.into());
    run(
        "vencidas",
        format!(
            "SELECT c.id, count(*) FROM cases c JOIN case_tasks t ON t.case_id = c.id
             WHERE c.status <> 'cerrado' AND t.status = 'pendiente' AND t.due_on < $1 AND {s}
             GROUP BY c.id ORDER BY c.id LIMIT ${}",
            p.len()
        ),
        p,
    )?;
    let mut p: Vec<Param> = Vec::new();
    let s = scope("district_code", &mut p);
    p.push(limit.into());
    run(
        "sin_asignar",
        format!(
            "SELECT id, 1 FROM cases WHERE status <> 'cerrado' AND assigned_to IS NULL
             AND institution IS NULL AND {s} ORDER BY score DESC, id LIMIT ${}",
            p.len()
        ),
        p,
    )?;
    let mut p: Vec<Param> = Vec::new();
    let s = scope("c.district_code", &mut p);
    p.push(limit.into());
    run(
        "contra_referencias",
        format!(
            "SELECT c.id, 1 FROM cases c
             WHERE c.status IN ('abierto', 'en_seguimiento') AND {s}
             AND EXISTS (SELECT 1 FROM case_tasks t WHERE t.case_id = c.id AND t.kind = 'servicio')
             AND NOT EXISTS (
                 SELECT 1 FROM case_tasks t LEFT JOIN referrals r ON r.id = t.referral_id
                 WHERE t.case_id = c.id AND t.status <> 'verificada'
                 AND ((t.kind = 'protocolo' AND t.status = 'pendiente')
                      OR (t.kind = 'servicio' AND (r.status IS NULL OR r.status <> 'atendida'))))
             ORDER BY c.id LIMIT ${}",
            p.len()
        ),
        p,
    )?;
    let mut p: Vec<Param> = Vec::new();
    let s = scope("district_code", &mut p);
    p.push(limit.into());
    run(
        "plan_completo",
        format!(
            "SELECT id, 1 FROM cases WHERE status = 'plan_completo' AND {s} ORDER BY id LIMIT ${}",
            p.len()
        ),
        p,
    )?;
    if let Some(me) = approver {
        let mut p: Vec<Param> = vec![me.into()];
        let s = scope("district_code", &mut p);
        p.push(limit.into());
        run(
            "aprobar",
            format!(
                "SELECT id, 1 FROM cases WHERE status = 'cierre_pendiente'
                 AND ending_requested_by <> $1 AND {s} ORDER BY id LIMIT ${}",
                p.len()
            ),
            p,
        )?;
    }
    let mut p: Vec<Param> = Vec::new();
    let s = scope("offered_to", &mut p);
    p.push(limit.into());
    run(
        "ofrecido",
        format!(
            "SELECT id, 1 FROM cases WHERE status <> 'cerrado' AND offered_to IS NOT NULL
             AND {s} ORDER BY id LIMIT ${}",
            p.len()
        ),
        p,
    )?;
    Ok(out)
}

/// Counts of the cases within `ranges` and, for those closed as protected, the days each took
/// from opening to verified protection (the caller takes the median).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    pub open: i64,
    pub closed: i64,
    pub closed_protected: i64,
    pub pending_approval: i64,
    /// Per unit kind: (kind, open, closed).
    pub by_unit: Vec<(String, i64, i64)>,
    /// Opening and closing moments (RFC 3339) of the cases closed as protected.
    pub protected_spans: Vec<(String, String)>,
    /// Each case whose unit belongs to a population of special attention.
    pub with_populations: Vec<PopulationCase>,
}

/// A case's populations and how it stands (for the figures per population).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PopulationCase {
    pub populations: String,
    pub closed: bool,
    pub ending: Option<String>,
    pub opened_at: String,
    pub closed_at: Option<String>,
}

/// The figures of the cases within `ranges` (`None`: all).
pub fn figures(db: &mut crate::sql::Db<'_>, ranges: Option<&[(i64, i64)]>) -> Result<Figures> {
    let mut params: Vec<Param> = Vec::new();
    let scope = match ranges {
        None => "1 = 1".to_string(),
        Some(r) => crate::bulk::ranges_sql("district_code", r, &mut params),
    };
    let mut f = Figures::default();
    for r in db.raw().query(
        &format!(
            "SELECT unit_kind, status, ending, COUNT(*) FROM cases WHERE {scope}
             GROUP BY unit_kind, status, ending ORDER BY unit_kind"
        ),
        &params,
    )? {
        let (kind, status, ending, n) = (r.text(0), r.text(1), r.string(2), r.int(3).unwrap_or(0));
        let closed = status == "cerrado";
        if closed {
            f.closed += n;
            if ending.as_deref() == Some("protegido") {
                f.closed_protected += n;
            }
        } else {
            f.open += n;
        }
        if status == "cierre_pendiente" {
            f.pending_approval += n;
        }
        match f.by_unit.iter_mut().find(|(k, _, _)| *k == kind) {
            Some(row) => {
                if closed {
                    row.2 += n;
                } else {
                    row.1 += n;
                }
            }
            None => f
                .by_unit
                .push((kind, if closed { 0 } else { n }, if closed { n } else { 0 })),
        }
    }
    f.protected_spans = db
        .raw()
        .query(
            &format!(
                "SELECT opened_at, closed_at FROM cases WHERE {scope} AND status = 'cerrado'
                 AND ending = 'protegido' AND closed_at IS NOT NULL"
            ),
            &params,
        )?
        .iter()
        .map(|r| (r.text(0), r.text(1)))
        .collect();
    f.with_populations = db
        .raw()
        .query(
            &format!(
                "SELECT populations, status, ending, opened_at, closed_at FROM cases
                 WHERE {scope} AND populations <> ''"
            ),
            &params,
        )?
        .iter()
        .map(|r| PopulationCase {
            populations: r.text(0),
            closed: r.text(1) == "cerrado",
            ending: r.string(2),
            opened_at: r.text(3),
            closed_at: r.string(4),
        })
        .collect();
    Ok(f)
}
