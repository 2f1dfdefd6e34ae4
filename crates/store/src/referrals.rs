//! Storage of referrals (migration `0007_access`): generating them from a measurement's needs,
//! their life cycle, the lists institutions work from, and the funnel — on both backends.
//!
//! Life cycle of a referral: `emitida → recibida → contactada → atendida | rechazada`, with
//! `vencida` when its deadline passes unanswered (a late counter-referral still answers it) and
//! `cerrada` when a newer measurement no longer shows the need. Every transition is a row of
//! `referral_events` (when, who, from, to, why). At most one referral per unit and service is
//! open at a time (a partial unique index), so generating again never duplicates.

use crate::bulk::*;
use crate::sql::{in_tx, lock, Param, Row, Sql};
use crate::{Result, StoreError};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use vamos_domain::{CommunityId, HouseholdId, Mover, ReferralId, ReferralStatus};

/// Advisory-lock key of referral generation and of the writes that answer referrals: storing
/// counter-referrals at once, applying the intake log (PostgreSQL; the server's appliers take
/// it in shared mode, side by side, every other holder alone).
pub(crate) const ACCESS_LOCK: i64 = 7_261_005;
/// Advisory-lock key of the ids of counter-referrals and of appends to the intake log
/// (PostgreSQL): held by whoever assigns ids — the server writer's log commits, and stores at
/// once (after [`ACCESS_LOCK`]: always in that order) — but not by applications of the log,
/// which keep the ids given, so that the server acknowledges groups on one connection while
/// another applies the log.
pub(crate) const LOG_LOCK: i64 = 7_261_006;

/// The open statuses ([`ReferralStatus::is_open`]) as an SQL list.
pub(crate) const OPEN_SQL: &str = "('emitida', 'recibida', 'contactada')";
/// Statuses a counter-referral answers ([`ReferralStatus::is_answerable`]: the open ones and
/// `vencida`, a late answer still counts) as an SQL list.
pub(crate) const ANSWERABLE_SQL: &str = "('emitida', 'recibida', 'contactada', 'vencida')";

/// A referral to create (see [`sync_referrals`]).
#[derive(Debug, Clone)]
pub struct NewReferral {
    /// `persona`, `hogar` or `comunidad`.
    pub unit_kind: &'static str,
    pub unit_id: i64,
    pub household_id: Option<i64>,
    pub community_id: Option<i64>,
    pub district_code: i64,
    pub category: String,
    pub service: String,
    pub institution: String,
    pub priority: i64,
    pub unprotected: i64,
    /// Populations of special attention, comma-separated.
    pub populations: String,
    pub critical: bool,
    /// Deadline (ISO date).
    pub due_on: String,
    /// The household's weighted deprivation score (IPM) in basis points (0 to 10000); `None`:
    /// unknown or a community's referral.
    pub deprivation: Option<i64>,
}

/// What [`sync_referrals`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    /// New referrals emitted.
    pub created: u64,
    /// Needs that already had an open referral (left as they were).
    pub kept: u64,
    /// Open referrals whose need disappeared, closed (`cerrada`).
    pub closed: u64,
    /// Open referrals past their deadline, marked `vencida`.
    pub expired: u64,
    /// Needs whose referral from this same measurement is already closed (served, rejected,
    /// expired): not issued again until a newer measurement shows them.
    pub resolved: u64,
    /// New referrals per institution.
    pub by_institution: std::collections::BTreeMap<String, u64>,
}

/// Brings the referrals of a territory (district ranges) in line with a measurement's needs, in
/// one transaction: a need without an open referral gets one (`emitida`), an open referral
/// whose need is gone is closed with that reason, and overdue ones expire.
pub fn sync_referrals(
    sql: &mut crate::sql::Db<'_>,
    measurement_id: i64,
    ranges: &[(i64, i64)],
    needs: &[NewReferral],
    today: &str,
    at: &str,
    actor: &str,
) -> Result<SyncOutcome> {
    let sql = sql.raw();
    let out = in_tx(sql, |sql| {
        lock(sql, ACCESS_LOCK)?;
        let mut out = SyncOutcome {
            expired: expire_in_tx(sql, today, at)?,
            ..SyncOutcome::default()
        };
        let mut params = Vec::new();
        let cond = ranges_sql("district_code", ranges, &mut params);
        let open = sql.query(
            &format!("SELECT id, unit_kind, unit_id, service, deprivation FROM referrals WHERE status IN {OPEN_SQL} AND {cond}"),
            &params,
        )?;
        let mut existing: HashMap<(String, i64, String), i64> = open
            .iter()
            .map(|r| {
                (
                    (r.text(1), r.int(2).unwrap_or_default(), r.text(3)),
                    r.int(0).unwrap_or_default(),
                )
            })
            .collect();
        // Open referrals issued before scores were kept get their household's now.
        let unscored: HashSet<i64> = open
            .iter()
            .filter(|r| r.int(4).is_none())
            .filter_map(|r| r.int(0))
            .collect();
        let mut scored: Vec<(i64, i64)> = Vec::new();
        let closed_here: HashSet<(String, i64, String)> = sql
            .query(
                &format!("SELECT unit_kind, unit_id, service FROM referrals WHERE measurement_id = $1 AND status NOT IN {OPEN_SQL}"),
                &[measurement_id.into()],
            )?
            .iter()
            .map(|r| (r.text(0), r.int(1).unwrap_or_default(), r.text(2)))
            .collect();
        let mut id = next_id(sql, "referrals")?;
        let mut rows = Vec::new();
        let mut events = Vec::new();
        let mut seen: HashSet<(&str, i64, &str)> = HashSet::new();
        for n in needs {
            if !seen.insert((n.unit_kind, n.unit_id, n.service.as_str())) {
                continue;
            }
            let key = (n.unit_kind.to_string(), n.unit_id, n.service.clone());
            if let Some(kept) = existing.remove(&key) {
                out.kept += 1;
                if let (true, Some(d)) = (unscored.contains(&kept), n.deprivation) {
                    scored.push((kept, d));
                }
                continue;
            }
            if closed_here.contains(&key) {
                out.resolved += 1;
                continue;
            }
            *out.by_institution.entry(n.institution.clone()).or_insert(0) += 1;
            rows.push(vec![
                id.into(),
                measurement_id.into(),
                n.unit_kind.into(),
                n.unit_id.into(),
                n.household_id.into(),
                n.community_id.into(),
                n.district_code.into(),
                n.category.as_str().into(),
                n.service.as_str().into(),
                n.institution.as_str().into(),
                n.priority.into(),
                n.unprotected.into(),
                n.populations.as_str().into(),
                n.critical.into(),
                "emitida".into(),
                at.into(),
                n.due_on.as_str().into(),
                at.into(),
                n.deprivation.into(),
            ]);
            events.push(vec![
                id.into(),
                at.into(),
                actor.into(),
                Param::from(None::<String>),
                "emitida".into(),
                format!("medición {measurement_id}").into(),
            ]);
            id += 1;
            out.created += 1;
            // Written as they come, a slice at a time: a national run creates millions of
            // referrals, and their rows held all at once took gigabytes.
            if rows.len() >= FLUSH_ROWS {
                insert_rows(sql, "referrals", &REFERRAL_COLS, &rows)?;
                insert_rows(sql, "referral_events", &EVENT_COLS, &events)?;
                rows.clear();
                events.clear();
            }
        }
        insert_rows(sql, "referrals", &REFERRAL_COLS, &rows)?;
        insert_rows(sql, "referral_events", &EVENT_COLS, &events)?;
        events.clear();
        for chunk in scored.chunks(500) {
            let mut p: Vec<Param> = Vec::with_capacity(chunk.len() * 2);
            let mut cases = String::new();
            let mut ids = Vec::with_capacity(chunk.len());
            for (id, d) in chunk {
                p.push((*id).into());
                p.push((*d).into());
                cases.push_str(&format!(
                    " WHEN ${} THEN CAST(${} AS BIGINT)",
                    p.len() - 1,
                    p.len()
                ));
                ids.push(format!("${}", p.len() - 1));
            }
            sql.execute(
                &format!(
                    "UPDATE referrals SET deprivation = CASE id{cases} END WHERE id IN ({})",
                    ids.join(", ")
                ),
                &p,
            )?;
        }
        // What is left had an open referral but no longer a need.
        let reason = format!("la necesidad ya no aparece en la medición {measurement_id}");
        let gone: Vec<i64> = existing.into_values().collect();
        out.closed = gone.len() as u64;
        for chunk in gone.chunks(500) {
            set_status_many(sql, chunk, "cerrada", Some(&reason), at)?;
            events.extend(chunk.iter().map(|id| {
                vec![
                    (*id).into(),
                    at.into(),
                    actor.into(),
                    Param::from(None::<String>),
                    "cerrada".into(),
                    reason.as_str().into(),
                ]
            }));
        }
        insert_rows(sql, "referral_events", &EVENT_COLS, &events)?;
        Ok(out)
    })?;
    // Many referrals may have been created: the planner must know (see the function).
    crate::sql::refresh_statistics(
        &mut crate::sql::Db::new(sql),
        &["referrals", "referral_events"],
    )?;
    Ok(out)
}

/// Rows written per statement batch by [`sync_referrals`].
pub(crate) const FLUSH_ROWS: usize = 10_000;

pub(crate) const REFERRAL_COLS: [Col; 19] = [
    Col("id", false),
    Col("measurement_id", false),
    Col("unit_kind", false),
    Col("unit_id", false),
    Col("household_id", false),
    Col("community_id", false),
    Col("district_code", false),
    Col("category", false),
    Col("service", false),
    Col("institution", false),
    Col("priority", false),
    Col("unprotected", false),
    Col("populations", false),
    Col("critical", false),
    Col("status", false),
    Col("emitted_at", false),
    Col("due_on", true),
    Col("updated_at", false),
    Col("deprivation", false),
];

pub(crate) const EVENT_COLS: [Col; 6] = [
    Col("referral_id", false),
    Col("at", false),
    Col("actor", false),
    Col("from_status", false),
    Col("to_status", false),
    Col("reason", false),
];

/// Sets a closing status on many referrals (the caller records the events).
fn set_status_many(
    sql: &mut dyn Sql,
    ids: &[i64],
    status: &str,
    reason: Option<&str>,
    at: &str,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut params: Vec<Param> = vec![status.into(), reason.into(), at.into()];
    let list: Vec<String> = ids
        .iter()
        .map(|id| {
            params.push((*id).into());
            format!("${}", params.len())
        })
        .collect();
    sql.execute(
        &format!(
            "UPDATE referrals SET status = $1, reason = $2, closed_at = $3, updated_at = $3 WHERE id IN ({})",
            list.join(", ")
        ),
        &params,
    )?;
    Ok(())
}

fn expire_in_tx(sql: &mut dyn Sql, today: &str, at: &str) -> Result<u64> {
    let due = date_param(sql, 1);
    let overdue: Vec<(i64, String)> = sql
        .query(
            &format!(
                "SELECT id, status FROM referrals WHERE status IN {OPEN_SQL} AND due_on < {due}"
            ),
            &[today.into()],
        )?
        .iter()
        .map(|r| (r.int(0).unwrap_or_default(), r.text(1)))
        .collect();
    let reason = "venció el plazo de atención sin contra-referencia";
    let mut events = Vec::new();
    for chunk in overdue.chunks(500) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        set_status_many(sql, &ids, "vencida", Some(reason), at)?;
        events.extend(chunk.iter().map(|(id, from)| {
            vec![
                (*id).into(),
                at.into(),
                "sistema".into(),
                from.as_str().into(),
                "vencida".into(),
                reason.into(),
            ]
        }));
    }
    insert_rows(sql, "referral_events", &EVENT_COLS, &events)?;
    Ok(overdue.len() as u64)
}

/// Marks open referrals past their deadline (`due_on` before `today`) as `vencida`.
pub fn expire_overdue(sql: &mut crate::sql::Db<'_>, today: &str, at: &str) -> Result<u64> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        lock(sql, ACCESS_LOCK)?;
        expire_in_tx(sql, today, at)
    })
}

/// A stored referral.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Referral {
    pub id: ReferralId,
    pub measurement_id: i64,
    pub unit_kind: String,
    pub unit_id: i64,
    pub household_id: Option<HouseholdId>,
    pub community_id: Option<CommunityId>,
    pub district_code: i64,
    pub category: String,
    pub service: String,
    pub institution: String,
    pub priority: i64,
    pub unprotected: i64,
    pub populations: Vec<String>,
    pub critical: bool,
    pub status: ReferralStatus,
    pub reason: Option<String>,
    pub emitted_at: String,
    pub due_on: String,
    pub received_at: Option<String>,
    pub contacted_at: Option<String>,
    pub closed_at: Option<String>,
    pub counter_referral_id: Option<i64>,
    pub updated_at: String,
    /// The household's weighted deprivation score (0 to 1) when the referral was issued
    /// (poverty: shown only where the caller's agreement includes it).
    pub deprivation_score: Option<f64>,
}

const REFERRAL_COLUMNS: &str = "r.id, r.measurement_id, r.unit_kind, r.unit_id, r.household_id, r.community_id, r.district_code, r.category, r.service, r.institution, r.priority, r.unprotected, r.populations, r.critical, r.status, r.reason, r.emitted_at, CAST(r.due_on AS TEXT) AS due_on, r.received_at, r.contacted_at, r.closed_at, r.counter_referral_id, r.updated_at, r.deprivation";
const REFERRAL_WIDTH: usize = 24;

fn referral(r: &Row) -> Result<Referral> {
    let status = r.req_text("status")?;
    Ok(Referral {
        id: ReferralId(r.req_int("id")?),
        measurement_id: r.req_int("measurement_id")?,
        unit_kind: r.req_text("unit_kind")?,
        unit_id: r.req_int("unit_id")?,
        household_id: r.opt_int("household_id")?.map(HouseholdId),
        community_id: r.opt_int("community_id")?.map(CommunityId),
        district_code: r.req_int("district_code")?,
        category: r.req_text("category")?,
        service: r.req_text("service")?,
        institution: r.req_text("institution")?,
        priority: r.req_int("priority")?,
        unprotected: r.req_int("unprotected")?,
        populations: r
            .opt_text("populations")?
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        critical: r.opt_int("critical")? == Some(1),
        status: ReferralStatus::parse(&status).ok_or_else(|| {
            StoreError::Invalid(format!("estado de referencia desconocido «{status}»"))
        })?,
        reason: r.opt_text("reason")?,
        emitted_at: r.req_text("emitted_at")?,
        due_on: r.req_text("due_on")?,
        received_at: r.opt_text("received_at")?,
        contacted_at: r.opt_text("contacted_at")?,
        closed_at: r.opt_text("closed_at")?,
        counter_referral_id: r.opt_int("counter_referral_id")?,
        updated_at: r.req_text("updated_at")?,
        deprivation_score: r
            .opt_int("deprivation")?
            .map(|bp| bp as f64 / DEPRIVATION_SCALE as f64),
    })
}

/// Basis points: a stored deprivation score of 10000 is a household deprived in every
/// indicator.
pub const DEPRIVATION_SCALE: i64 = 10_000;

/// Which referrals a report lists.
#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    pub institution: Option<String>,
    /// District ranges of the requested territory (`None`: anywhere).
    pub territory: Option<Vec<(i64, i64)>>,
    /// District ranges of the caller's scope (`None`: national).
    pub scope: Option<Vec<(i64, i64)>>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub min_priority: Option<i64>,
    pub household_id: Option<HouseholdId>,
    /// Only referrals of this unit (`persona` / `hogar` / `comunidad`, id).
    pub unit: Option<(String, i64)>,
    /// The populations of special attention the caller may see (`None`: all). The priority
    /// orders and filters by then counts only these: the stored one counts every population,
    /// so ordering by it would tell a reader how many the unit belongs to.
    pub visible_populations: Option<Vec<String>>,
    /// Highest deprivation score first (unknown last), then by priority; the caller checks
    /// that it may know poverty.
    pub by_deprivation: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The priority as the caller may know it (see [`ReferralFilter::visible_populations`]): the
/// stored one, or its part without populations (critical, unprotected: multiples of 100) plus
/// how many of the visible populations the unit belongs to.
fn priority_sql(f: &ReferralFilter, params: &mut Vec<Param>) -> String {
    let Some(visible) = &f.visible_populations else {
        return "r.priority".into();
    };
    let mut terms = vec!["(r.priority / 100) * 100".to_string()];
    for p in visible {
        params.push(format!("%,{p},%").into());
        terms.push(format!(
            "(CASE WHEN (',' || r.populations || ',') LIKE ${} THEN 1 ELSE 0 END)",
            params.len()
        ));
    }
    format!("({})", terms.join(" + "))
}

fn filter_sql(f: &ReferralFilter, params: &mut Vec<Param>) -> String {
    let mut conds = vec!["1 = 1".to_string()];
    if let Some(i) = &f.institution {
        params.push(i.as_str().into());
        conds.push(format!("r.institution = ${}", params.len()));
    }
    if let Some(t) = &f.territory {
        conds.push(ranges_sql("r.district_code", t, params));
    }
    if let Some(s) = &f.scope {
        conds.push(ranges_sql("r.district_code", s, params));
    }
    if let Some(s) = &f.service {
        params.push(s.as_str().into());
        conds.push(format!("r.service = ${}", params.len()));
    }
    if let Some(s) = &f.status {
        if s == "abierta" {
            conds.push(format!("r.status IN {OPEN_SQL}"));
        } else {
            params.push(s.as_str().into());
            conds.push(format!("r.status = ${}", params.len()));
        }
    }
    if let Some(p) = f.min_priority {
        let priority = priority_sql(f, params);
        params.push(p.into());
        conds.push(format!("{priority} >= ${}", params.len()));
    }
    if let Some(h) = f.household_id {
        params.push(h.into());
        conds.push(format!(
            "(r.household_id = ${n} OR (r.unit_kind = 'hogar' AND r.unit_id = ${n}))",
            n = params.len()
        ));
    }
    if let Some((k, id)) = &f.unit {
        params.push(k.as_str().into());
        params.push((*id).into());
        conds.push(format!(
            "r.unit_kind = ${} AND r.unit_id = ${}",
            params.len() - 1,
            params.len()
        ));
    }
    conds.join(" AND ")
}

/// A referral with its person's columns (when the unit is a person).
pub type ReportRow = (Referral, Option<serde_json::Map<String, serde_json::Value>>);

/// Referrals matching `f`, by priority (highest first; or by deprivation, see
/// [`ReferralFilter::by_deprivation`]), then id; with the referred person's
/// columns (`person` object) when the unit is a person, for the caller to filter by its field
/// policy.
pub fn referrals(sql: &mut crate::sql::Db<'_>, f: &ReferralFilter) -> Result<Vec<ReportRow>> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let cond = filter_sql(f, &mut params);
    let priority = priority_sql(f, &mut params);
    let mut text = format!(
        "SELECT {REFERRAL_COLUMNS}, {} FROM referrals r
         LEFT JOIN persons p ON r.unit_kind = 'persona' AND p.id = r.unit_id
         LEFT JOIN households h ON h.id = p.household_id
         WHERE {cond} ORDER BY {deprivation}{priority} DESC, r.id",
        crate::views::person_columns(),
        deprivation = if f.by_deprivation {
            "(CASE WHEN r.deprivation IS NULL THEN 1 ELSE 0 END), r.deprivation DESC, "
        } else {
            ""
        }
    );
    if let Some(l) = f.limit {
        params.push(l.into());
        text.push_str(&format!(" LIMIT ${}", params.len()));
        if let Some(o) = f.offset {
            params.push(o.into());
            text.push_str(&format!(" OFFSET ${}", params.len()));
        }
    }
    sql.query(&text, &params)?
        .iter()
        .map(|r| {
            let person = r
                .int(REFERRAL_WIDTH)
                .is_some()
                .then(|| r.object_from(REFERRAL_WIDTH));
            Ok((referral(r)?, person))
        })
        .collect()
}

/// How many referrals match `f` (ignoring limit and offset).
pub fn referral_count(sql: &mut crate::sql::Db<'_>, f: &ReferralFilter) -> Result<u64> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let cond = filter_sql(f, &mut params);
    Ok(sql
        .query_opt(
            &format!("SELECT count(*) FROM referrals r WHERE {cond}"),
            &params,
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(0) as u64)
}

/// One referral.
pub fn referral_by_id(sql: &mut crate::sql::Db<'_>, id: ReferralId) -> Result<Option<Referral>> {
    let sql = sql.raw();
    sql.query_opt(
        &format!("SELECT {REFERRAL_COLUMNS} FROM referrals r WHERE r.id = $1"),
        &[id.into()],
    )?
    .map(|r| referral(&r))
    .transpose()
}

/// One transition of a referral's life cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferralEvent {
    pub at: String,
    pub actor: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: Option<String>,
}

/// A referral's history, oldest first.
pub fn referral_events(sql: &mut crate::sql::Db<'_>, id: ReferralId) -> Result<Vec<ReferralEvent>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            "SELECT at, actor, from_status, to_status, reason FROM referral_events WHERE referral_id = $1 ORDER BY id",
            &[id.into()],
        )?
        .iter()
        .map(|r| ReferralEvent {
            at: r.text(0),
            actor: r.text(1),
            from_status: r.string(2),
            to_status: r.text(3),
            reason: r.string(4),
        })
        .collect())
}

/// Moves referral `id` to `to` (`recibida`, `contactada`, `rechazada` — with a reason — or
/// `atendida`), records the transition, and returns the referral; `Ok(Err(reason))` when the
/// transition is not allowed from its current status.
pub fn transition(
    sql: &mut crate::sql::Db<'_>,
    id: ReferralId,
    to: ReferralStatus,
    reason: Option<&str>,
    actor: &str,
    at: &str,
) -> Result<std::result::Result<Referral, String>> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        let Some(r) = referral_by_id(&mut crate::sql::Db::new(sql), id)? else {
            return Ok(Err(format!("no existe la referencia {id}")));
        };
        if r.status == to && to == ReferralStatus::Recibida {
            // Acknowledging twice is harmless.
            return Ok(Ok(r));
        }
        let mover = if to == ReferralStatus::Atendida {
            Mover::Service
        } else {
            Mover::Institution
        };
        if !r.status.may_become(to, mover) {
            return Ok(Err(format!(
                "la referencia {id} está «{}»: no puede pasar a «{to}»",
                r.status
            )));
        }
        if to == ReferralStatus::Rechazada && reason.is_none_or(|s| s.trim().is_empty()) {
            return Ok(Err("un rechazo necesita un motivo".into()));
        }
        let stamp = match to {
            ReferralStatus::Recibida => "received_at = $2,",
            ReferralStatus::Contactada => "contacted_at = $2,",
            _ => "closed_at = $2,",
        };
        sql.execute(
            &format!("UPDATE referrals SET status = $1, {stamp} reason = COALESCE($3, reason), updated_at = $2 WHERE id = $4"),
            &[to.code().into(), at.into(), reason.into(), id.into()],
        )?;
        insert_rows(
            sql,
            "referral_events",
            &EVENT_COLS,
            &[vec![
                id.into(),
                at.into(),
                actor.into(),
                r.status.code().into(),
                to.code().into(),
                reason.into(),
            ]],
        )?;
        let r = referral_by_id(&mut crate::sql::Db::new(sql), id)?
            .ok_or_else(|| StoreError::Invalid("referencia perdida".into()))?;
        Ok(Ok(r))
    })
}

/// Acknowledges receipt of every `emitida` referral of an institution in a territory
/// (ranges): the institution has pulled its list. Returns how many.
pub fn acknowledge_all(
    sql: &mut crate::sql::Db<'_>,
    institution: &str,
    ranges: &[(i64, i64)],
    actor: &str,
    at: &str,
) -> Result<u64> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        let mut params: Vec<Param> = vec![institution.into()];
        let cond = ranges_sql("district_code", ranges, &mut params);
        let ids: Vec<i64> = sql
            .query(
                &format!("SELECT id FROM referrals WHERE institution = $1 AND status = 'emitida' AND {cond}"),
                &params,
            )?
            .iter()
            .filter_map(|r| r.int(0))
            .collect();
        for chunk in ids.chunks(500) {
            let mut p: Vec<Param> = vec![at.into()];
            let list: Vec<String> = chunk
                .iter()
                .map(|id| {
                    p.push((*id).into());
                    format!("${}", p.len())
                })
                .collect();
            sql.execute(
                &format!("UPDATE referrals SET status = 'recibida', received_at = $1, updated_at = $1 WHERE id IN ({})", list.join(", ")),
                &p,
            )?;
        }
        let events: Vec<Vec<Param>> = ids
            .iter()
            .map(|id| {
                vec![
                    (*id).into(),
                    at.into(),
                    actor.into(),
                    "emitida".into(),
                    "recibida".into(),
                    Param::from(None::<String>),
                ]
            })
            .collect();
        insert_rows(sql, "referral_events", &EVENT_COLS, &events)?;
        Ok(ids.len() as u64)
    })
}

/// How many communities each district has: `district_code → count`.
pub fn communities_per_district(sql: &mut crate::sql::Db<'_>) -> Result<HashMap<i64, i64>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            "SELECT district_code, count(*) FROM communities GROUP BY district_code",
            &[],
        )?
        .iter()
        .map(|r| (r.int(0).unwrap_or_default(), r.int(1).unwrap_or_default()))
        .collect())
}

/// The referral funnel of one institution × service × district.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunnelRow {
    pub institution: String,
    pub service: String,
    pub district_code: i64,
    pub referred: u64,
    pub received: u64,
    pub contacted: u64,
    pub served: u64,
    pub rejected: u64,
    pub expired: u64,
    pub closed: u64,
    pub open: u64,
    /// Days from referral to the service's delivery, over the served referrals.
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
    /// Counter-referrals of this institution and service for persons of the district that
    /// answered no referral (active search, services given on the institution's own).
    pub served_without_referral: u64,
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

/// The funnel per institution, service and district, for the referrals matching `f`
/// (institution, territory, scope, service).
pub fn funnel(sql: &mut crate::sql::Db<'_>, f: &ReferralFilter) -> Result<Vec<FunnelRow>> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let cond = filter_sql(f, &mut params);
    let mut rows: std::collections::BTreeMap<(String, String, i64), FunnelRow> =
        std::collections::BTreeMap::new();
    for r in sql.query(
        &format!(
            "SELECT r.institution, r.service, r.district_code, r.status,
                    count(*), count(r.received_at), count(r.contacted_at)
             FROM referrals r WHERE {cond} GROUP BY r.institution, r.service, r.district_code, r.status"
        ),
        &params,
    )? {
        let key = (r.text(0), r.text(1), r.int(2).unwrap_or_default());
        let row = rows.entry(key.clone()).or_insert_with(|| FunnelRow {
            institution: key.0.clone(),
            service: key.1.clone(),
            district_code: key.2,
            ..FunnelRow::default()
        });
        let n = r.int(4).unwrap_or_default() as u64;
        row.referred += n;
        row.received += r.int(5).unwrap_or_default() as u64;
        row.contacted += r.int(6).unwrap_or_default() as u64;
        match r.text(3).as_str() {
            "atendida" => row.served += n,
            "rechazada" => row.rejected += n,
            "vencida" => row.expired += n,
            "cerrada" => row.closed += n,
            _ => row.open += n,
        }
    }
    // Timeliness: referral emitted → service delivered.
    let mut params = Vec::new();
    let cond = filter_sql(f, &mut params);
    let mut days: HashMap<(String, String, i64), Vec<f64>> = HashMap::new();
    for r in sql.query(
        &format!(
            "SELECT r.institution, r.service, r.district_code, r.emitted_at, CAST(c.delivered_on AS TEXT)
             FROM referrals r JOIN counter_referrals c ON c.id = r.counter_referral_id
             WHERE r.status = 'atendida' AND {cond}"
        ),
        &params,
    )? {
        let emitted = chrono::NaiveDate::parse_from_str(r.text(3).get(..10).unwrap_or(""), "%Y-%m-%d");
        let served = chrono::NaiveDate::parse_from_str(&r.text(4), "%Y-%m-%d");
        if let (Ok(a), Ok(b)) = (emitted, served) {
            days.entry((r.text(0), r.text(1), r.int(2).unwrap_or_default()))
                .or_default()
                .push(((b - a).num_days().max(0)) as f64);
        }
    }
    for (k, mut v) in days {
        v.sort_by(f64::total_cmp);
        if let Some(row) = rows.get_mut(&k) {
            row.median_days = median(&v);
            row.p90_days = percentile(&v, 0.9);
        }
    }
    // Served without referral, for the same institution / territory / scope / service.
    let mut params: Vec<Param> = Vec::new();
    let mut conds = vec!["c.referral_id IS NULL".to_string()];
    if let Some(i) = &f.institution {
        params.push(i.as_str().into());
        conds.push(format!("c.institution = ${}", params.len()));
    }
    if let Some(t) = &f.territory {
        conds.push(ranges_sql("h.district_code", t, &mut params));
    }
    if let Some(s) = &f.scope {
        conds.push(ranges_sql("h.district_code", s, &mut params));
    }
    if let Some(s) = &f.service {
        params.push(s.as_str().into());
        conds.push(format!("c.service = ${}", params.len()));
    }
    for r in sql.query(
        &format!(
            "SELECT c.institution, c.service, h.district_code, count(*) FROM counter_referrals c
             JOIN persons p ON p.id = c.person_id JOIN households h ON h.id = p.household_id
             WHERE {} GROUP BY c.institution, c.service, h.district_code",
            conds.join(" AND ")
        ),
        &params,
    )? {
        let key = (r.text(0), r.text(1), r.int(2).unwrap_or_default());
        let row = rows.entry(key.clone()).or_insert_with(|| FunnelRow {
            institution: key.0.clone(),
            service: key.1.clone(),
            district_code: key.2,
            ..FunnelRow::default()
        });
        row.served_without_referral += r.int(3).unwrap_or_default() as u64;
    }
    Ok(rows.into_values().collect())
}

/// The funnel's total alone (no rows per institution, service and district, no timeliness):
/// one pass counting by status, and the served without referral — what a report of a whole
/// territory prints, without sorting millions of referrals into groups. Equal to the sum of
/// [`funnel`]'s rows.
pub fn funnel_totals(sql: &mut crate::sql::Db<'_>, f: &ReferralFilter) -> Result<FunnelRow> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let cond = filter_sql(f, &mut params);
    let mut total = FunnelRow::default();
    for r in sql.query(
        &format!(
            "SELECT r.status, count(*), count(r.received_at), count(r.contacted_at)
             FROM referrals r WHERE {cond} GROUP BY r.status"
        ),
        &params,
    )? {
        let n = r.int(1).unwrap_or_default() as u64;
        total.referred += n;
        total.received += r.int(2).unwrap_or_default() as u64;
        total.contacted += r.int(3).unwrap_or_default() as u64;
        match r.text(0).as_str() {
            "atendida" => total.served += n,
            "rechazada" => total.rejected += n,
            "vencida" => total.expired += n,
            "cerrada" => total.closed += n,
            _ => total.open += n,
        }
    }
    let mut params: Vec<Param> = Vec::new();
    let mut conds = vec!["c.referral_id IS NULL".to_string()];
    if let Some(i) = &f.institution {
        params.push(i.as_str().into());
        conds.push(format!("c.institution = ${}", params.len()));
    }
    if let Some(t) = &f.territory {
        conds.push(ranges_sql("h.district_code", t, &mut params));
    }
    if let Some(s) = &f.scope {
        conds.push(ranges_sql("h.district_code", s, &mut params));
    }
    if let Some(s) = &f.service {
        params.push(s.as_str().into());
        conds.push(format!("c.service = ${}", params.len()));
    }
    total.served_without_referral = sql
        .query_opt(
            &format!(
                "SELECT count(*) FROM counter_referrals c
                 JOIN persons p ON p.id = c.person_id JOIN households h ON h.id = p.household_id
                 WHERE {}",
                conds.join(" AND ")
            ),
            &params,
        )?
        .and_then(|r| r.int(0))
        .unwrap_or_default() as u64;
    Ok(total)
}

/// The median of sorted values.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    if n % 2 == 1 {
        sorted.get(mid).copied()
    } else {
        Some((sorted.get(mid - 1)? + sorted.get(mid)?) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_status_lists_are_the_domain_s() {
        let list = |f: fn(ReferralStatus) -> bool| {
            let codes: Vec<String> = ReferralStatus::ALL
                .into_iter()
                .filter(|s| f(*s))
                .map(|s| format!("'{}'", s.code()))
                .collect();
            format!("({})", codes.join(", "))
        };
        assert_eq!(OPEN_SQL, list(ReferralStatus::is_open));
        assert_eq!(ANSWERABLE_SQL, list(ReferralStatus::is_answerable));
    }

    #[test]
    fn medians_and_percentiles_of_delivery_days() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(median(&v), Some(3.0));
        assert_eq!(median(&[1.0, 3.0]), Some(2.0));
        assert_eq!(percentile(&v, 0.9), Some(10.0));
        assert_eq!(percentile(&[], 0.9), None);
    }
}
