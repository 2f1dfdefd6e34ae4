//! Canal Verde cases (issue 37): flagging candidates from the latest measurement's open
//! referrals by the catalogue's criteria, opening a case for a person, household or community
//! with a plan (one task per desprotección, linked to its referral, plus the steps of an
//! emergency protocol), assigning it, recording visits, contacts and notes, and ending it.
//!
//! **The closing rule.** A case closes as *protegido* only when the system verifies it: every
//! service of its plan is `protegido` in a classification of its unit at the closing date with
//! all the evidence then valid (administrative records, counter-referrals), and every protocol
//! step is done. Any other ending (moved, deceased, refused, lost contact) needs a reason and
//! the approval of a second account with `casos:aprobar` — never the one who asked.
//!
//! Scope: a case is read and moved only within the caller's territories (outside them it
//! answers like a case that does not exist); every read and change is audited.

// reason: JSON objects built here are indexed by key (a missing key reads as null).
#![allow(clippy::indexing_slicing)]

use crate::{Actor, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use vamos_catalogue::canal_verde::CanalVerde;
use vamos_catalogue::Catalogue;
use vamos_domain::authz::Scope;
use vamos_domain::cases::{CaseStatus, Ending, Origin, Priority, TaskStatus, UnitKind};
use vamos_domain::limits::Limit;
use vamos_domain::{DistrictCode, Permission, TerritoryCode};
use vamos_store::cases::{self as store_cases, Case, Event, NewCase, OpenNeed, Task};
use vamos_store::Store;

/// The Canal Verde criteria, protocols and barriers in force: the catalogue folder's own
/// `canal_verde.toml`, or the illustrative set shipped with Vamos, checked against the service
/// catalogue's institutions.
pub fn criteria(catalogue: &Catalogue) -> Result<CanalVerde> {
    vamos_catalogue::canal_verde::of(catalogue).map_err(|errors| {
        Error::internal(format!(
            "criterios de Canal Verde inválidos: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// The district ranges of a scope (`None`: national).
pub(crate) fn ranges(scope: &Scope) -> Option<Vec<(i64, i64)>> {
    match scope {
        Scope::National => None,
        s => Some(s.district_ranges()),
    }
}

fn territory_in_scope(actor: &Actor, territory: &str) -> Result<TerritoryCode> {
    let t = TerritoryCode::parse(territory)
        .map_err(|e| Error::bad_request(format!("territorio inválido «{territory}»: {e}")))?;
    if !actor.scope.covers(t) {
        return Err(Error::forbidden(format!(
            "el territorio {territory} está fuera de su ámbito"
        )));
    }
    Ok(t)
}

// ------------------------------------------------------------------------------- candidates

/// A unit the criteria flag for Canal Verde.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Candidate {
    pub unit_kind: UnitKind,
    pub unit_id: i64,
    pub district_code: i64,
    pub priority: Priority,
    /// For sorting: the priority's band, then the unit's highest referral priority.
    pub score: i64,
    /// The criteria met, by name.
    pub reasons: Vec<String>,
    /// Services the unit lacks (for a household: its own and its members').
    pub unprotected: u32,
    pub populations: Vec<String>,
    /// The unit's open case, when it already has one.
    pub open_case: Option<i64>,
}

/// One unmet need as the flagging reads it: an open referral (opening a case) or a need of
/// the measurement (referral generation).
#[derive(Debug, Clone, Copy)]
pub struct NeedRef<'a> {
    pub unit_kind: &'a str,
    pub unit_id: i64,
    pub household_id: Option<i64>,
    pub district_code: i64,
    /// Populations of special attention, comma-separated.
    pub populations: &'a str,
    pub critical: bool,
    pub priority: i64,
}

impl<'a> From<&'a OpenNeed> for NeedRef<'a> {
    fn from(n: &'a OpenNeed) -> Self {
        NeedRef {
            unit_kind: &n.unit_kind,
            unit_id: n.unit_id,
            household_id: n.household_id,
            district_code: n.district_code,
            populations: &n.populations,
            critical: n.critical,
            priority: n.priority,
        }
    }
}

impl<'a> From<&'a vamos_store::referrals::NewReferral> for NeedRef<'a> {
    fn from(n: &'a vamos_store::referrals::NewReferral) -> Self {
        NeedRef {
            unit_kind: n.unit_kind,
            unit_id: n.unit_id,
            household_id: n.household_id,
            district_code: n.district_code,
            populations: &n.populations,
            critical: n.critical,
            priority: n.priority,
        }
    }
}

/// What the flagging keeps per unit; populations as bits of the flagging's own list (a unit
/// seldom has more than two, and there are a few kinds in all: no string per unit).
#[derive(Default, Clone, Copy)]
struct Tally {
    district: i64,
    unprotected: u32,
    critical: bool,
    top: i64,
    populations: u64,
}

/// The populations met so far, in order of first appearance (a unit's bit `i` is `names[i]`).
#[derive(Default)]
struct Populations {
    names: Vec<String>,
}

impl Populations {
    fn bits(&mut self, list: &str) -> u64 {
        let mut bits = 0u64;
        for p in list.split(',').filter(|p| !p.is_empty()) {
            let i = match self.names.iter().position(|n| n == p) {
                Some(i) => i,
                None => {
                    self.names.push(p.to_string());
                    self.names.len() - 1
                }
            };
            if i < 64 {
                bits |= 1 << i;
            }
        }
        bits
    }

    fn names(&self, bits: u64) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .names
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && bits & (1 << i) != 0)
            .map(|(_, n)| n.as_str())
            .collect();
        v.sort_unstable();
        v
    }
}

impl Tally {
    fn add(&mut self, n: &NeedRef<'_>, populations: u64) {
        self.district = n.district_code;
        self.unprotected += 1;
        self.critical |= n.critical;
        self.top = self.top.max(n.priority);
        self.populations |= populations;
    }
}

/// The candidates among `needs`: per unit, the criteria of its kind it meets; highest priority
/// first, then score. (Their open cases are marked when the stored list is read.)
pub fn flag<'a>(
    canal: &CanalVerde,
    needs: impl IntoIterator<Item = NeedRef<'a>>,
) -> Vec<Candidate> {
    let mut units: rustc_hash::FxHashMap<(UnitKind, i64), Tally> = Default::default();
    let mut known = Populations::default();
    for n in needs {
        let own = match n.unit_kind {
            "persona" => Some(UnitKind::Persona),
            "hogar" => Some(UnitKind::Hogar),
            "comunidad" => Some(UnitKind::Comunidad),
            _ => None,
        };
        let bits = known.bits(n.populations);
        if let Some(k) = own {
            units.entry((k, n.unit_id)).or_default().add(&n, bits);
        }
        // A household counts its members' needs too.
        if n.unit_kind == "persona" {
            if let Some(h) = n.household_id {
                units.entry((UnitKind::Hogar, h)).or_default().add(&n, bits);
            }
        }
    }
    let mut out: Vec<Candidate> = units
        .into_iter()
        .filter_map(|((kind, id), t)| {
            let pops = known.names(t.populations);
            let met: Vec<_> = canal
                .criteria
                .iter()
                .filter(|c| c.unit == kind && c.met(t.unprotected, &pops, t.critical))
                .collect();
            let priority = met.iter().map(|c| c.priority).max()?;
            Some(Candidate {
                unit_kind: kind,
                unit_id: id,
                district_code: t.district,
                priority,
                score: band(priority) * 1_000_000 + t.top,
                reasons: met.iter().map(|c| c.name.clone()).collect(),
                unprotected: t.unprotected,
                populations: pops.into_iter().map(str::to_string).collect(),
                open_case: None,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.unit_id.cmp(&b.unit_id))
            .then(a.unit_kind.code().cmp(b.unit_kind.code()))
    });
    out
}

fn band(p: Priority) -> i64 {
    match p {
        Priority::Alta => 3,
        Priority::Media => 2,
        Priority::Baja => 1,
    }
}

/// What flagging a generation's needs did: how many units, and the seconds spent flagging and
/// storing them.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Flagged {
    pub candidates: u64,
    pub flag_seconds: f64,
    pub store_seconds: f64,
}

/// Flags the candidates of the districts within `ranges` from the needs of measurement
/// `measurement_id` and stores them, replacing those of an earlier generation (called by
/// referral generation).
pub fn refresh_candidates(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    measurement_id: i64,
    ranges: &[(i64, i64)],
    needs: &[vamos_store::referrals::NewReferral],
) -> Result<Flagged> {
    let started = std::time::Instant::now();
    let canal = criteria(catalogue)?;
    let mut flagged = flag(&canal, needs.iter().map(NeedRef::from));
    let flag_seconds = started.elapsed().as_secs_f64();
    // In the table's order (district, highest score first): the rows are appended.
    flagged.sort_unstable_by(|a, b| {
        (
            a.district_code,
            std::cmp::Reverse(a.score),
            a.unit_id,
            a.unit_kind.code(),
        )
            .cmp(&(
                b.district_code,
                std::cmp::Reverse(b.score),
                b.unit_id,
                b.unit_kind.code(),
            ))
    });
    let started = std::time::Instant::now();
    let version = canal.version.clone();
    let mut rows = flagged.into_iter().map(|c| store_cases::CandidateRow {
        unit_kind: c.unit_kind.code().into(),
        unit_id: c.unit_id,
        measurement_id,
        district_code: c.district_code,
        priority: c.priority.code().into(),
        score: c.score,
        reasons: c.reasons,
        unprotected: i64::from(c.unprotected),
        populations: c.populations.join(","),
        criteria_version: version.clone(),
        open_case: None,
    });
    let candidates = store_cases::replace_candidates(&mut store.db(), ranges, &mut rows)?;
    Ok(Flagged {
        candidates,
        flag_seconds,
        store_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The most candidates a list returns (the Mesa's workbench shows the first 200).
pub const CANDIDATES_LIMIT: i64 = 5_000;

/// The Canal Verde candidates of `territory` (within the caller's scope; all of it when
/// `None`), as flagged at the latest referral generation from the measurement's unmet needs,
/// highest score first, at most `limit` ([`CANDIDATES_LIMIT`] by default), without the units
/// whose referrals were all answered since; and how many were flagged in all. Populations and
/// criteria the caller's fields do not reveal are withheld. Audited (one record for the list).
pub fn candidates_page(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    territory: Option<&str>,
    limit: Option<i64>,
) -> Result<(Vec<Candidate>, i64)> {
    actor.require(Permission::CasesRead)?;
    let (r, district) = match territory {
        Some(territory) => {
            let t = territory_in_scope(actor, territory)?;
            let r =
                (t != TerritoryCode::Nation).then(|| Scope::Territories(vec![t]).district_ranges());
            let district = match t {
                TerritoryCode::District(d) => Some(i64::from(d.get())),
                _ => None,
            };
            // Within the account's scope as well (a department of a district-bound account).
            (r.or_else(|| ranges(&actor.scope)), district)
        }
        None => (ranges(&actor.scope), None),
    };
    let limit = limit.unwrap_or(CANDIDATES_LIMIT).clamp(1, CANDIDATES_LIMIT);
    let (rows, total) = store_cases::candidates(&mut store.db(), r.as_deref(), district, limit)?;
    // The populations of special attention the caller may know of (disability, poverty,
    // indigenous identity only with their field), and the criteria that name one it may not
    // read as withheld — as in a referral.
    let fields = crate::registry::visible_fields(store, actor)?;
    let visible = crate::registry::visible_populations(&fields);
    let may_know = |p: &str| visible.as_ref().is_none_or(|v| v.iter().any(|x| x == p));
    let canal = criteria(catalogue)?;
    let out: Vec<Candidate> = rows
        .into_iter()
        .filter_map(|c| {
            Some(Candidate {
                unit_kind: UnitKind::parse(&c.unit_kind)?,
                unit_id: c.unit_id,
                district_code: c.district_code,
                priority: Priority::parse(&c.priority)?,
                score: c.score,
                reasons: c
                    .reasons
                    .into_iter()
                    .map(|name| {
                        let hides = canal
                            .criteria
                            .iter()
                            .find(|k| k.name == name)
                            .is_some_and(|k| k.populations.iter().any(|p| !may_know(p)));
                        if hides {
                            crate::registry::WITHHELD.to_string()
                        } else {
                            name
                        }
                    })
                    .collect(),
                unprotected: u32::try_from(c.unprotected).unwrap_or(0),
                populations: c
                    .populations
                    .split(',')
                    .filter(|p| !p.is_empty() && may_know(p))
                    .map(str::to_string)
                    .collect(),
                open_case: c.open_case,
            })
        })
        .collect();
    actor.audit(
        store,
        "listar candidatos de Canal Verde",
        "territorio",
        territory.unwrap_or("ámbito de la cuenta"),
        "gestión de casos",
        &format!("ok: {} de {total} candidatos", out.len()),
    )?;
    Ok((out, total))
}

// ------------------------------------------------------------------------------------ open

/// What to open a case for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCase {
    /// `persona`, `hogar` or `comunidad`.
    pub unit_kind: String,
    pub unit_id: i64,
    pub reason: String,
    /// Where it came from (`mesa` by default).
    #[serde(default)]
    pub origin: Option<String>,
    /// An emergency protocol route of the criteria (`violencia_ninez`, …).
    #[serde(default)]
    pub protocol: Option<String>,
}

fn unit_kind(s: &str) -> Result<UnitKind> {
    UnitKind::parse(s).ok_or_else(|| {
        Error::bad_request(format!("unidad inválida «{s}»: persona, hogar o comunidad"))
    })
}

fn store_kind(k: UnitKind) -> vamos_store::UnitKind {
    match k {
        UnitKind::Persona => vamos_store::UnitKind::Person,
        UnitKind::Hogar => vamos_store::UnitKind::Household,
        UnitKind::Comunidad => vamos_store::UnitKind::Community,
    }
}

/// The district of a unit, if it exists and is within the caller's scope (else the same
/// "not found" either way).
fn locate(store: &mut dyn Store, actor: &Actor, kind: UnitKind, id: i64) -> Result<DistrictCode> {
    let found = store
        .locate(store_kind(kind), id)?
        .filter(|(found, _)| *found == id)
        .and_then(|(_, d)| DistrictCode::from_number(d).ok())
        .filter(|d| actor.scope.contains(*d));
    found.ok_or_else(|| Error::not_found(format!("{} {id} no encontrada", kind_label(kind))))
}

fn kind_label(k: UnitKind) -> &'static str {
    match k {
        UnitKind::Persona => "persona",
        UnitKind::Hogar => "hogar",
        UnitKind::Comunidad => "comunidad",
    }
}

fn days_after(date: chrono::NaiveDate, days: u32) -> String {
    (date + chrono::Duration::days(i64::from(days))).to_string()
}

/// Opens a case: its plan is one task per open referral of the unit (for a household, its own
/// and its members'), plus one per step of `protocol`; its priority is the highest of the
/// criteria the unit meets (`baja` when it meets none: the Mesa decided). Refused when the unit
/// already has an open case (the conflict names it). Returns the case's number.
pub fn open(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    o: &OpenCase,
) -> Result<i64> {
    if !(actor.can(Permission::CasesOpen) || actor.can(Permission::CasesWork)) {
        return Err(Error::forbidden("no tiene permiso para abrir casos"));
    }
    let kind = unit_kind(&o.unit_kind)?;
    let reason = o.reason.trim();
    if reason.is_empty() {
        return Err(Error::bad_request("indique el motivo del caso"));
    }
    Limit::FreeText
        .check(reason)
        .map_err(|e| Error::bad_request(format!("motivo: {e}")))?;
    let origin = match o.origin.as_deref() {
        None => Origin::Mesa,
        Some(s) => Origin::parse(s).ok_or_else(|| {
            Error::bad_request(format!(
                "origen inválido «{s}»: candidato, referencia, mesa, alerta_comunitaria, orientacion o reclamo"
            ))
        })?,
    };
    let canal = criteria(catalogue)?;
    let protocol = match o.protocol.as_deref() {
        None => None,
        Some(p) => Some(canal.protocol(p).ok_or_else(|| {
            let all: Vec<&str> = canal.protocols.iter().map(|p| p.code.as_str()).collect();
            Error::bad_request(format!("protocolo desconocido «{p}» ({})", all.join(", ")))
        })?),
    };
    let district = match locate(store, actor, kind, o.unit_id) {
        Ok(d) => d,
        Err(e) => {
            actor.audit(
                store,
                "abrir caso",
                kind.code(),
                &o.unit_id.to_string(),
                "gestión de casos",
                "no encontrado o fuera de su ámbito territorial",
            )?;
            return Err(e);
        }
    };
    let needs = store_cases::open_needs_of(&mut store.db(), kind.code(), o.unit_id)?;
    let flagged = flag(&canal, needs.iter().map(NeedRef::from))
        .into_iter()
        .find(|c| c.unit_kind == kind && c.unit_id == o.unit_id);
    let (priority, score) = flagged
        .as_ref()
        .map_or((Priority::Baja, 0), |c| (c.priority, c.score));
    let today = crate::clock::today();
    let mut tasks: Vec<Task> = needs
        .iter()
        .map(|n| Task {
            id: 0,
            case_id: 0,
            kind: "servicio".into(),
            unit_kind: Some(n.unit_kind.clone()),
            unit_id: Some(n.unit_id),
            service: Some(n.service.clone()),
            referral_id: Some(n.referral_id),
            step: None,
            institution: n.institution.clone(),
            due_on: n.due_on.clone(),
            status: TaskStatus::Pendiente.code().into(),
            barrier: None,
            done_at: None,
            done_by: None,
        })
        .collect();
    if let Some(p) = protocol {
        tasks.extend(p.steps.iter().map(|s| Task {
            id: 0,
            case_id: 0,
            kind: "protocolo".into(),
            unit_kind: None,
            unit_id: None,
            service: None,
            referral_id: None,
            step: Some(s.name.clone()),
            institution: s.institution.clone(),
            due_on: days_after(today, s.days),
            status: TaskStatus::Pendiente.code().into(),
            barrier: None,
            done_at: None,
            done_by: None,
        }));
    }
    let at = crate::clock::now_rfc3339();
    let by = actor.name.clone();
    // The unit's populations, as its referrals carry them (a household: its members' too).
    let mut populations: Vec<&str> = needs
        .iter()
        .flat_map(|n| n.populations.split(','))
        .filter(|p| !p.is_empty())
        .collect();
    populations.sort_unstable();
    populations.dedup();
    let new = NewCase {
        populations: populations.join(","),
        unit_kind: kind.code().into(),
        unit_id: o.unit_id,
        district_code: i64::from(district.get()),
        status: CaseStatus::Abierto.code().into(),
        origin: origin.code().into(),
        reason: reason.into(),
        priority: priority.code().into(),
        score,
        protocol: protocol.map(|p| p.code.clone()),
        criteria_version: canal.version.clone(),
        opened_by: by,
        opened_at: at,
    };
    let detail = format!(
        "{} — {}; plan de {} tareas{}",
        origin.label(),
        reason,
        tasks.len(),
        // How many criteria, not which: the timeline is read by accounts whose agreement may
        // withhold what a criterion names (indigenous identity, disability, poverty).
        flagged
            .map(|c| format!("; cumple {} criterios de Canal Verde", c.reasons.len()))
            .unwrap_or_default()
    );
    let id = store_cases::open(&mut store.db(), &new, &tasks, &detail).map_err(|e| match e {
        vamos_store::StoreError::Conflict(m) => Error::conflict(m),
        e => e.into(),
    })?;
    actor.audit(
        store,
        "abrir caso",
        "caso",
        &format!("{id} ({} {})", kind.code(), o.unit_id),
        "gestión de casos",
        "ok",
    )?;
    Ok(id)
}

// ------------------------------------------------------------------------------- read

/// A case within the caller's scope, or "not found" (audited either way).
pub(crate) fn visible(store: &mut dyn Store, actor: &Actor, id: i64, action: &str) -> Result<Case> {
    actor.require(Permission::CasesRead)?;
    let c = store_cases::get(&mut store.db(), id, ranges(&actor.scope).as_deref())?;
    match c {
        Some(c) => Ok(c),
        None => {
            actor.audit(
                store,
                action,
                "caso",
                &id.to_string(),
                "gestión de casos",
                "no encontrado o fuera de su ámbito territorial",
            )?;
            Err(Error::not_found(format!("caso {id} no encontrado")))
        }
    }
}

fn task_json(t: &Task, verdicts: &Verdicts, cv: &CanalVerde) -> Value {
    let status = TaskStatus::parse(&t.status).unwrap_or(TaskStatus::Pendiente);
    let evidence = match (&t.unit_kind, t.unit_id, &t.service) {
        (Some(k), Some(u), Some(s)) => verdicts
            .get(&(k.clone(), u, s.clone()))
            .map(|v| json!({ "status": v })),
        _ => None,
    };
    json!({
        "id": t.id,
        "kind": t.kind,
        "unit_kind": t.unit_kind,
        "unit_id": t.unit_id,
        "service": t.service,
        "step": t.step,
        "referral_id": t.referral_id,
        "institution": t.institution,
        "due": t.due_on,
        "status": status.code(),
        "status_label": status.label(),
        "barrier": t.barrier,
        "barrier_label": t.barrier.as_deref().map(|b| cv.barrier(b).unwrap_or(b)),
        "evidence": evidence,
        "done_at": t.done_at,
        "done_by": t.done_by,
    })
}

fn case_json(
    c: &Case,
    tasks: &[Task],
    events: &[Event],
    verdicts: &Verdicts,
    catalogue: &Catalogue,
) -> Result<Value> {
    let cv = criteria(catalogue)?;
    let cv = &cv;
    let status = CaseStatus::parse(&c.status).unwrap_or(CaseStatus::Abierto);
    Ok(json!({
        "id": c.id,
        "status": status.code(),
        "status_label": status.label(),
        "unit": { "kind": c.unit_kind, "id": c.unit_id },
        "district_code": c.district_code,
        "origin": c.origin,
        "origin_label": Origin::parse(&c.origin).map(Origin::label),
        "reason": c.reason,
        "priority": c.priority,
        "score": c.score,
        "protocol": c.protocol,
        "criteria_version": c.criteria_version,
        "assigned_to": c.assigned_to,
        "institution": c.institution,
        "opened_by": c.opened_by,
        "opened_at": c.opened_at,
        "updated_at": c.updated_at,
        "ending": c.ending,
        "ending_label": c.ending.as_deref().and_then(Ending::parse).map(Ending::label),
        "ending_reason": c.ending_reason,
        "ending_requested_by": c.ending_requested_by,
        "approved_by": c.approved_by,
        "closed_at": c.closed_at,
        "offered_to": c.offered_to,
        "offered_to_name": c.offered_to.and_then(DistrictCode::from_stored).map(|d| {
            format!(
                "{} ({d})",
                vamos_domain::Territory::official().name_of(TerritoryCode::District(d))
            )
        }),
        "tasks": tasks.iter().map(|t| {
            let mut v = task_json(t, verdicts, cv);
            // Names people read, next to the codes.
            v["service_name"] = json!(t.service.as_deref().and_then(|code| {
                catalogue.services.iter().find(|s| s.code == code).map(|s| s.name.clone())
            }));
            v
        }).collect::<Vec<_>>(),
        "timeline": events.iter().map(|e| json!({
            "at": e.at, "actor": e.actor, "kind": e.kind,
            "kind_label": vamos_domain::cases::event_label(&e.kind), "detail": e.detail,
        })).collect::<Vec<_>>(),
    }))
}

/// One case with its plan and timeline (audited).
pub fn show(store: &mut dyn Store, actor: &Actor, catalogue: &Catalogue, id: i64) -> Result<Value> {
    let c = visible(store, actor, id, "leer caso")?;
    let tasks = store_cases::tasks(&mut store.db(), id)?;
    let events = store_cases::events(&mut store.db(), id)?;
    actor.audit(
        store,
        "leer caso",
        "caso",
        &id.to_string(),
        "gestión de casos",
        "ok",
    )?;
    case_json(&c, &tasks, &events, &HashMap::new(), catalogue)
}

/// Which cases to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    pub territory: Option<String>,
    pub status: Option<String>,
    /// Only open cases (the default).
    pub all: Option<bool>,
    pub limit: Option<i64>,
}

/// Cases within the caller's scope (and `territory`), highest score first (audited).
pub fn list(store: &mut dyn Store, actor: &Actor, q: &ListQuery) -> Result<Vec<Case>> {
    actor.require(Permission::CasesRead)?;
    let district = match q.territory.as_deref() {
        None => None,
        Some(t) => match territory_in_scope(actor, t)? {
            TerritoryCode::District(d) => Some(i64::from(d.get())),
            _ => None,
        },
    };
    if let Some(s) = &q.status {
        if CaseStatus::parse(s).is_none() {
            return Err(Error::bad_request(format!(
                "estado inválido «{s}»: abierto, en_seguimiento, plan_completo, cierre_pendiente o cerrado"
            )));
        }
    }
    let f = store_cases::Filter {
        district,
        status: q.status.clone(),
        open: !q.all.unwrap_or(false) && q.status.is_none(),
        limit: q.limit.unwrap_or(200),
    };
    let out = store_cases::list(&mut store.db(), ranges(&actor.scope).as_deref(), &f)?;
    actor.audit(
        store,
        "listar casos",
        "casos",
        &out.iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
            .join(","),
        "gestión de casos",
        "ok",
    )?;
    Ok(out)
}

/// The cases of a person and of their household (open or closed, newest first) within the
/// caller's scope: what a person's page lists. Audited as one read naming the cases found.
pub fn of_person(
    store: &mut dyn Store,
    actor: &Actor,
    person_id: i64,
    household_id: Option<i64>,
) -> Result<Vec<Case>> {
    actor.require(Permission::CasesRead)?;
    let mut units = vec![("persona", person_id)];
    if let Some(h) = household_id {
        units.push(("hogar", h));
    }
    let out = store_cases::of_units(&mut store.db(), &units, ranges(&actor.scope).as_deref())?;
    actor.audit(
        store,
        "listar casos de una persona",
        "persona",
        &person_id.to_string(),
        "gestión de casos",
        &format!(
            "ok: casos {}",
            out.iter()
                .map(|c| c.id.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    )?;
    Ok(out)
}

// ------------------------------------------------------------------------------- follow-up

/// Whether the case is followed within the caller's territories (not only offered to them):
/// a case offered to another district is read there, and worked there only once accepted.
fn followed_here(actor: &Actor, c: &Case) -> bool {
    DistrictCode::from_stored(c.district_code)
        .is_some_and(|d| actor.scope.covers(TerritoryCode::District(d)))
}

/// [`visible`], refusing a case only offered to the caller's districts (it must be accepted
/// first) — for every step that changes it.
fn visible_to_work(store: &mut dyn Store, actor: &Actor, id: i64, action: &str) -> Result<Case> {
    let c = visible(store, actor, id, action)?;
    if !followed_here(actor, &c) {
        actor.audit(
            store,
            action,
            "caso",
            &id.to_string(),
            "gestión de casos",
            "denegado: caso ofrecido y todavía no aceptado",
        )?;
        return Err(Error::forbidden(format!(
            "el caso {id} se ofreció a su distrito: acéptelo primero para seguirlo"
        )));
    }
    Ok(c)
}

fn work(store: &mut dyn Store, actor: &Actor, id: i64, action: &str) -> Result<(Case, Vec<Task>)> {
    actor.require(Permission::CasesWork)?;
    let c = visible_to_work(store, actor, id, action)?;
    if c.status == CaseStatus::Cerrado.code() {
        return Err(Error::conflict(format!(
            "el caso {id} está cerrado: ábralo de nuevo para seguir"
        )));
    }
    let tasks = store_cases::tasks(&mut store.db(), id)?;
    Ok((c, tasks))
}

fn save(
    store: &mut dyn Store,
    actor: &Actor,
    c: &Case,
    expected: &str,
    tasks: &[Task],
    kind: &str,
    detail: String,
) -> Result<()> {
    let e = Event {
        at: c.updated_at.clone(),
        actor: actor.name.clone(),
        kind: kind.into(),
        detail,
    };
    store_cases::save(&mut store.db(), c, expected, tasks, &e).map_err(|e| match e {
        vamos_store::StoreError::Conflict(m) => Error::conflict(m),
        e => e.into(),
    })?;
    actor.audit(
        store,
        &format!("caso: {kind}"),
        "caso",
        &c.id.to_string(),
        "gestión de casos",
        "ok",
    )
}

/// Assigns the case to a member (an account) and/or an institution (catalogue code).
pub fn assign(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    to: Option<&str>,
    institution: Option<&str>,
) -> Result<()> {
    let (mut c, _) = work(store, actor, id, "asignar caso")?;
    let to = to.map(str::trim).filter(|s| !s.is_empty());
    let institution = institution
        .map(|s| s.trim().to_uppercase())
        .filter(|s| !s.is_empty());
    if to.is_none() && institution.is_none() {
        return Err(Error::bad_request(
            "indique a quién asignar el caso (--to o --institution)",
        ));
    }
    if let Some(t) = to {
        Limit::Name
            .check(t)
            .map_err(|e| Error::bad_request(format!("cuenta: {e}")))?;
    }
    if let Some(i) = &institution {
        if catalogue.institution(i).is_none() {
            return Err(Error::bad_request(format!("institución desconocida «{i}»")));
        }
    }
    let expected = c.status.clone();
    c.assigned_to = to.map(str::to_string).or(c.assigned_to);
    c.institution = institution.or(c.institution);
    if c.status == CaseStatus::Abierto.code() {
        c.status = CaseStatus::EnSeguimiento.code().into();
    }
    c.updated_at = crate::clock::now_rfc3339();
    let detail = format!(
        "asignado a {}{}",
        c.assigned_to.as_deref().unwrap_or("—"),
        c.institution
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default()
    );
    save(store, actor, &c, &expected, &[], "asignado", detail)
}

/// What to do with one task of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAction {
    /// A protocol step done (a service task is done when its service is delivered and proven).
    Done { note: String },
    /// A barrier that keeps the unit from the service (a code of the Canal Verde barriers).
    Barrier { code: String, note: String },
}

/// Records a task's progress: a protocol step done, or a barrier met.
pub fn task(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    task_id: i64,
    action: &TaskAction,
) -> Result<()> {
    let (mut c, tasks) = work(store, actor, id, "actualizar tarea de caso")?;
    let mut t = tasks
        .into_iter()
        .find(|t| t.id == task_id)
        .ok_or_else(|| Error::not_found(format!("el caso {id} no tiene la tarea {task_id}")))?;
    let now = crate::clock::now_rfc3339();
    let (kind, detail) = match action {
        TaskAction::Done { note } => {
            if t.kind != "protocolo" {
                return Err(Error::bad_request(
                    "una tarea de servicio se cumple cuando la institución informa el servicio (contra-referencia) y la clasificación lo verifica; aquí se registran los pasos de protocolo",
                ));
            }
            t.status = TaskStatus::Hecha.code().into();
            t.done_at = Some(now.clone());
            t.done_by = Some(actor.name.clone());
            (
                "paso_cumplido",
                format!("{} — {}", t.step.clone().unwrap_or_default(), note.trim()),
            )
        }
        TaskAction::Barrier { code, note } => {
            let cv = criteria(catalogue)?;
            let label = cv.barrier(code).map(str::to_string).ok_or_else(|| {
                Error::bad_request(format!(
                    "barrera desconocida «{code}» ({})",
                    cv.barriers
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            t.barrier = Some(code.clone());
            (
                "barrera",
                format!(
                    "{}: {label} — {}",
                    t.service.clone().or(t.step.clone()).unwrap_or_default(),
                    note.trim()
                ),
            )
        }
    };
    Limit::FreeText
        .check(&detail)
        .map_err(|e| Error::bad_request(format!("nota: {e}")))?;
    let expected = c.status.clone();
    c.updated_at = now;
    save(store, actor, &c, &expected, &[t], kind, detail)
}

/// Records a visit, a contact or a note on the case's timeline.
pub fn note(store: &mut dyn Store, actor: &Actor, id: i64, kind: &str, text: &str) -> Result<()> {
    let (c, _) = work(store, actor, id, "anotar en caso")?;
    if !matches!(kind, "visita" | "contacto" | "nota") {
        return Err(Error::bad_request(
            "tipo de anotación: visita, contacto o nota",
        ));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::bad_request("la anotación está vacía"));
    }
    Limit::FreeText
        .check(text)
        .map_err(|e| Error::bad_request(format!("anotación: {e}")))?;
    store_cases::note(
        &mut store.db(),
        c.id,
        &Event {
            at: crate::clock::now_rfc3339(),
            actor: actor.name.clone(),
            kind: kind.into(),
            detail: text.into(),
        },
    )?;
    actor.audit(
        store,
        &format!("caso: {kind}"),
        "caso",
        &id.to_string(),
        "gestión de casos",
        "ok",
    )
}

// ------------------------------------------------------------------------- verification

/// Per (unit kind, unit id, service code): the service's status in a classification.
type Verdicts = HashMap<(String, i64, String), &'static str>;

/// The status of every service task's service in a classification of its unit at `date`, with
/// every piece of evidence then valid (counter-referrals delivered up to that date included).
fn verdicts(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    c: &Case,
    tasks: &[Task],
    date: chrono::NaiveDate,
) -> Result<Verdicts> {
    let mut out = HashMap::new();
    let units: BTreeSet<(String, i64)> = tasks
        .iter()
        .filter_map(|t| Some((t.unit_kind.clone()?, t.unit_id?)))
        .collect();
    if units.is_empty() {
        return Ok(out);
    }
    // Where the unit lives now (a household may have moved since the case was opened).
    let kind = UnitKind::parse(&c.unit_kind).unwrap_or(UnitKind::Persona);
    let now_in = store
        .locate(store_kind(kind), c.unit_id)?
        .filter(|(found, _)| *found == c.unit_id)
        .map_or(c.district_code, |(_, d)| i64::from(d));
    let district = u16::try_from(now_in)
        .ok()
        .and_then(|d| DistrictCode::from_number(d).ok())
        .ok_or_else(|| Error::internal(format!("distrito del caso inválido: {now_in}")))?;
    // Only the communities the plan's units live in today (a page of a case reads a few
    // hundred households, not a district).
    let reading = vamos_store::Reading::at(date);
    let mut communities = Vec::new();
    for (kind, id) in &units {
        let k = match kind.as_str() {
            "persona" => vamos_store::UnitKind::Person,
            "hogar" => vamos_store::UnitKind::Household,
            _ => vamos_store::UnitKind::Community,
        };
        if let Some(c) = crate::measurements::community_of(store, k, *id)? {
            if !communities.contains(&c) {
                communities.push(c);
            }
        }
    }
    let mut data = vamos_engine::RegistryData::new(&crate::measurements::FormVocabulary);
    store.load_communities(&communities, i64::MAX, &reading, &mut data)?;
    data.finish();
    for (kind, id) in units {
        let k = match kind.as_str() {
            "persona" => vamos_store::UnitKind::Person,
            "hogar" => vamos_store::UnitKind::Household,
            _ => vamos_store::UnitKind::Community,
        };
        // A unit no longer in the registry read (deceased, moved away) proves nothing.
        let Ok(v) = crate::measurements::explain_in(&data, catalogue, k, id, district, date, date)
        else {
            continue;
        };
        for cat in v["categories"].as_array().into_iter().flatten() {
            for s in cat["services"].as_array().into_iter().flatten() {
                let status = match s["status"].as_str() {
                    Some("protegido") => "protegido",
                    Some("desprotegido") => "desprotegido",
                    Some("sin_dato") => "sin_dato",
                    _ => "no_aplica",
                };
                if let Some(code) = s["service"].as_str() {
                    out.insert((kind.clone(), id, code.to_string()), status);
                }
            }
        }
    }
    Ok(out)
}

/// The plan checked against a classification at `date`: each service task `verificada` when
/// its service is `protegido`; whether every task is then done.
fn check_plan(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    c: &Case,
    tasks: &[Task],
    date: chrono::NaiveDate,
    by: &str,
) -> Result<(Vec<Task>, Verdicts, Vec<String>)> {
    let v = verdicts(store, catalogue, c, tasks, date)?;
    let mut changed = Vec::new();
    let mut missing = Vec::new();
    for t in tasks {
        let mut t = t.clone();
        if t.kind == "servicio" {
            let key = (
                t.unit_kind.clone().unwrap_or_default(),
                t.unit_id.unwrap_or(0),
                t.service.clone().unwrap_or_default(),
            );
            let verdict = v.get(&key).copied().unwrap_or("sin_dato");
            let want = if verdict == "protegido" {
                TaskStatus::Verificada
            } else {
                TaskStatus::Pendiente
            };
            if verdict != "protegido" {
                let name = catalogue
                    .services
                    .iter()
                    .find(|s| s.code == key.2)
                    .map_or(key.2.as_str(), |s| s.name.as_str());
                missing.push(format!(
                    "{name} ({} {}): {}",
                    key.0,
                    key.1,
                    verdict.replace('_', " ")
                ));
            }
            if t.status != want.code() {
                t.status = want.code().into();
                t.done_at = (want == TaskStatus::Verificada).then(crate::clock::now_rfc3339);
                t.done_by = (want == TaskStatus::Verificada).then(|| by.to_string());
                changed.push(t);
            }
        } else if t.status != TaskStatus::Hecha.code() {
            missing.push(format!(
                "paso de protocolo pendiente: {}",
                t.step.clone().unwrap_or_default()
            ));
        }
    }
    Ok((changed, v, missing))
}

/// One case with its plan checked against a classification today: what `show` gives plus
/// each service task's verdict. Saves what the check found (tasks verified, the plan complete).
pub fn check(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
) -> Result<Value> {
    let c = visible(store, actor, id, "verificar caso")?;
    let tasks = store_cases::tasks(&mut store.db(), id)?;
    let today = crate::clock::today();
    let (changed, v, missing) = check_plan(store, catalogue, &c, &tasks, today, "sistema")?;
    let mut c2 = c.clone();
    let complete = missing.is_empty() && !tasks.is_empty();
    if complete
        && matches!(
            CaseStatus::parse(&c.status),
            Some(CaseStatus::Abierto | CaseStatus::EnSeguimiento)
        )
    {
        c2.status = CaseStatus::PlanCompleto.code().into();
    }
    if (!changed.is_empty() || c2.status != c.status)
        && actor.can(Permission::CasesWork)
        && c.status != CaseStatus::Cerrado.code()
    {
        c2.updated_at = crate::clock::now_rfc3339();
        let detail = if c2.status == CaseStatus::PlanCompleto.code() {
            "plan completo: cada servicio del plan está protegido según la clasificación; el caso se puede cerrar".to_string()
        } else {
            format!(
                "{} tareas verificadas por la clasificación",
                changed
                    .iter()
                    .filter(|t| t.status == TaskStatus::Verificada.code())
                    .count()
            )
        };
        save(
            store,
            actor,
            &c2,
            &c.status,
            &changed,
            "verificacion",
            detail,
        )?;
    }
    let tasks = store_cases::tasks(&mut store.db(), id)?;
    let events = store_cases::events(&mut store.db(), id)?;
    let mut out = case_json(&c2, &tasks, &events, &v, catalogue)?;
    out["plan_complete"] = json!(complete);
    out["missing"] = json!(missing);
    Ok(out)
}

// -------------------------------------------------------------------------------- endings

/// Closes a case. Without `ending` (or `protegido`) the system verifies protection: it closes
/// only when every service of the plan is `protegido` in a classification of its unit today and
/// every protocol step is done — else a conflict that lists what is missing, in Spanish. Any
/// other ending needs a reason and waits for another account's approval ([`approve`]).
pub fn close(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    ending: Option<&str>,
    reason: Option<&str>,
) -> Result<CaseStatus> {
    let (mut c, tasks) = work(store, actor, id, "cerrar caso")?;
    let ending = match ending {
        None => Ending::Protegido,
        Some(e) => Ending::parse(e).ok_or_else(|| {
            Error::bad_request(format!(
                "cierre inválido «{e}»: protegido, mudanza, fallecimiento, rechazo o sin_contacto"
            ))
        })?,
    };
    let expected = c.status.clone();
    let now = crate::clock::now_rfc3339();
    if ending == Ending::Protegido {
        let (changed, _, missing) = check_plan(
            store,
            catalogue,
            &c,
            &tasks,
            crate::clock::today(),
            &actor.name,
        )?;
        if tasks.is_empty() {
            return Err(Error::conflict(
                "el caso no tiene plan: no hay servicios que verificar; use otro cierre con su motivo",
            ));
        }
        if !missing.is_empty() {
            if !changed.is_empty() {
                c.updated_at = now;
                save(
                    store,
                    actor,
                    &c,
                    &expected,
                    &changed,
                    "verificacion",
                    format!("{} tareas verificadas", changed.len()),
                )?;
            }
            actor.audit(
                store,
                "caso: cerrar",
                "caso",
                &id.to_string(),
                "gestión de casos",
                "rechazado: protección sin verificar",
            )?;
            return Err(Error::conflict(format!(
                "no se puede cerrar como protegido: falta verificar {}",
                missing.join("; ")
            )));
        }
        c.status = CaseStatus::Cerrado.code().into();
        c.ending = Some(ending.code().into());
        c.closed_at = Some(now.clone());
        c.updated_at = now;
        save(
            store,
            actor,
            &c,
            &expected,
            &changed,
            "cerrado",
            "protección verificada: cada servicio del plan está protegido en la clasificación de hoy".into(),
        )?;
        return Ok(CaseStatus::Cerrado);
    }
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Error::bad_request(format!(
                "el cierre «{}» necesita un motivo (--reason)",
                ending.label()
            ))
        })?;
    Limit::FreeText
        .check(reason)
        .map_err(|e| Error::bad_request(format!("motivo: {e}")))?;
    if actor.account().is_none() {
        return Err(Error::forbidden(
            "pedir un cierre necesita una cuenta con nombre (--as): otra persona lo aprobará",
        ));
    }
    c.status = CaseStatus::CierrePendiente.code().into();
    c.ending = Some(ending.code().into());
    c.ending_reason = Some(reason.into());
    c.ending_requested_by = actor.account().map(str::to_string);
    c.updated_at = now;
    save(
        store,
        actor,
        &c,
        &expected,
        &[],
        "cierre_pedido",
        format!(
            "{}: {reason} (espera la aprobación de otra persona)",
            ending.label()
        ),
    )?;
    Ok(CaseStatus::CierrePendiente)
}

/// Approves (or refuses) the ending another account asked for: a named account with
/// `casos:aprobar`, never the one who asked. Refusing puts the case back in follow-up.
pub fn approve(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    accept: bool,
    reason: Option<&str>,
) -> Result<CaseStatus> {
    actor.require(Permission::CasesApprove)?;
    let c0 = visible_to_work(store, actor, id, "aprobar cierre de caso")?;
    if c0.status != CaseStatus::CierrePendiente.code() {
        return Err(Error::conflict(format!(
            "el caso {id} no tiene un cierre pendiente de aprobación"
        )));
    }
    let me = actor.account().ok_or_else(|| {
        Error::forbidden("aprobar un cierre necesita una cuenta con nombre (--as)")
    })?;
    if c0.ending_requested_by.as_deref() == Some(me) {
        actor.audit(
            store,
            "aprobar cierre de caso",
            "caso",
            &id.to_string(),
            "gestión de casos",
            "denegado: quien lo pidió no puede aprobarlo",
        )?;
        return Err(Error::forbidden(
            "no puede aprobar el cierre que usted mismo pidió: lo aprueba otra persona",
        ));
    }
    let mut c = c0.clone();
    let now = crate::clock::now_rfc3339();
    c.updated_at = now.clone();
    let (kind, detail) = if accept {
        c.status = CaseStatus::Cerrado.code().into();
        c.approved_by = Some(me.to_string());
        c.closed_at = Some(now);
        (
            "cierre_aprobado",
            format!(
                "{} aprobado por {me}",
                c.ending
                    .as_deref()
                    .and_then(Ending::parse)
                    .map_or("cierre", Ending::label)
            ),
        )
    } else {
        c.status = CaseStatus::EnSeguimiento.code().into();
        c.ending = None;
        c.ending_reason = None;
        c.ending_requested_by = None;
        (
            "cierre_rechazado",
            format!(
                "cierre rechazado por {me}: {}",
                reason.map(str::trim).unwrap_or("sin motivo")
            ),
        )
    };
    save(store, actor, &c, &c0.status, &[], kind, detail)?;
    Ok(CaseStatus::parse(&c.status).unwrap_or(CaseStatus::EnSeguimiento))
}

/// Reopens a closed case: the same case, its history kept, back in follow-up.
pub fn reopen(store: &mut dyn Store, actor: &Actor, id: i64, reason: &str) -> Result<()> {
    actor.require(Permission::CasesWork)?;
    let c0 = visible_to_work(store, actor, id, "reabrir caso")?;
    if c0.status != CaseStatus::Cerrado.code() {
        return Err(Error::conflict(format!("el caso {id} no está cerrado")));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::bad_request("indique por qué se reabre el caso"));
    }
    if let Some(other) = store_cases::open_case_of(&mut store.db(), &c0.unit_kind, c0.unit_id)? {
        return Err(Error::conflict(format!(
            "la unidad ya tiene el caso abierto {other}"
        )));
    }
    let mut c = c0.clone();
    c.status = CaseStatus::EnSeguimiento.code().into();
    c.closed_at = None;
    c.ending = None;
    c.ending_reason = None;
    c.ending_requested_by = None;
    c.approved_by = None;
    c.updated_at = crate::clock::now_rfc3339();
    save(
        store,
        actor,
        &c,
        &c0.status,
        &[],
        "reabierto",
        reason.into(),
    )
}

// ------------------------------------------------------------------------------- moves

/// A household that moved (an applied change request) takes its open cases along: each open
/// case of the household or of a member followed in another district is offered to the Mesa of
/// the district it moved to, which accepts it ([`accept`]); until then the old Mesa keeps it.
pub fn follow_move(store: &mut dyn Store, actor: &Actor, household_id: i64) -> Result<Vec<i64>> {
    let Some((h, _)) = vamos_store::versions::household(&mut store.db(), household_id)? else {
        return Ok(Vec::new());
    };
    let to = i64::from(h.district.get());
    let mut offered = Vec::new();
    for c0 in store_cases::open_cases_of_household(&mut store.db(), household_id)? {
        if c0.offered_to == Some(to) || (c0.district_code == to && c0.offered_to.is_none()) {
            continue;
        }
        if c0.district_code == to {
            // Back where it is followed: the offer to the district it had moved to is withdrawn.
            let mut c = c0.clone();
            c.offered_to = None;
            c.updated_at = crate::clock::now_rfc3339();
            save(
                store,
                actor,
                &c,
                &c0.status,
                &[],
                "oferta_retirada",
                format!("el hogar volvió al distrito {to:04}: la oferta se retira"),
            )?;
            continue;
        }
        let mut c = c0.clone();
        c.offered_to = Some(to);
        c.updated_at = crate::clock::now_rfc3339();
        save(
            store,
            actor,
            &c,
            &c0.status,
            &[],
            "ofrecido",
            format!("el hogar se mudó al distrito {to:04}: el caso se ofrece a su Mesa"),
        )?;
        offered.push(c.id);
    }
    Ok(offered)
}

/// The Mesa of the district a case was offered to takes it: the case is followed there from now
/// on (its responsible member is cleared; the institution stays), its history kept.
pub fn accept(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<()> {
    actor.require(Permission::CasesWork)?;
    let c0 = visible(store, actor, id, "aceptar caso")?;
    if c0.status == CaseStatus::Cerrado.code() {
        return Err(Error::conflict(format!("el caso {id} está cerrado")));
    }
    let Some(to) = c0.offered_to else {
        return Err(Error::conflict(format!(
            "el caso {id} no fue ofrecido a otro distrito"
        )));
    };
    let covered = DistrictCode::from_stored(to)
        .is_some_and(|d| actor.scope.covers(TerritoryCode::District(d)));
    if !covered {
        actor.audit(
            store,
            "aceptar caso",
            "caso",
            &id.to_string(),
            "gestión de casos",
            "denegado: el distrito ofrecido está fuera de su ámbito",
        )?;
        return Err(Error::forbidden(
            "el caso se ofreció a la Mesa de otro distrito: solo ella puede aceptarlo",
        ));
    }
    let mut c = c0.clone();
    let from = c.district_code;
    c.district_code = to;
    c.offered_to = None;
    c.assigned_to = None;
    c.updated_at = crate::clock::now_rfc3339();
    save(
        store,
        actor,
        &c,
        &c0.status,
        &[],
        "traspasado",
        format!("aceptado por la Mesa del distrito {to:04} (venía del {from:04})"),
    )
}

// ------------------------------------------------------------------------------- notices

/// Something a case asks of the Mesa, in words.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notification {
    pub case_id: i64,
    /// `vencidas`, `sin_asignar`, `contra_referencias`, `plan_completo`, `aprobar`, `ofrecido`.
    pub kind: String,
    /// Overdue tasks for `vencidas`; 1 otherwise.
    pub count: i64,
    pub text: String,
}

/// How many notices of each kind are read at most (the header shows the total, the home page
/// the list; the workbench has the rest).
const NOTICE_LIMIT: i64 = 50;

/// The account's notifications: overdue tasks, unassigned cases, plans whose every service was
/// answered by a counter-referral (check and close), plans verified complete, endings waiting
/// for its approval (never its own) and cases offered to its districts. Empty for an account
/// that cannot read cases. Not audited: it names case numbers only, and every case it points
/// to is read (and audited) when opened.
pub fn notifications(store: &mut dyn Store, actor: &Actor) -> Result<Vec<Notification>> {
    if !actor.can(Permission::CasesRead) {
        return Ok(Vec::new());
    }
    let approver = if actor.can(Permission::CasesApprove) {
        actor.account()
    } else {
        None
    };
    let today = crate::clock::today().to_string();
    let rows = store_cases::notices(
        &mut store.db(),
        ranges(&actor.scope).as_deref(),
        &today,
        approver,
        NOTICE_LIMIT,
    )?;
    Ok(rows
        .into_iter()
        .map(|n| {
            let id = n.case_id;
            let text = match n.kind.as_str() {
                "vencidas" if n.count == 1 => format!("Caso {id}: 1 tarea vencida"),
                "vencidas" => format!("Caso {id}: {} tareas vencidas", n.count),
                "sin_asignar" => format!("Caso {id}: sin responsable asignado"),
                "contra_referencias" => format!(
                    "Caso {id}: cada servicio del plan fue atendido según su institución — verifique y cierre"
                ),
                "plan_completo" => {
                    format!("Caso {id}: protección verificada en cada servicio — puede cerrarse")
                }
                "aprobar" => format!("Caso {id}: un cierre espera su aprobación"),
                "ofrecido" => {
                    format!("Caso {id}: el hogar se mudó a su distrito — acepte el caso")
                }
                other => format!("Caso {id}: {other}"),
            };
            Notification {
                case_id: id,
                kind: n.kind,
                count: n.count,
                text,
            }
        })
        .collect())
}

// ------------------------------------------------------------------------------- figures

/// What the Mesa's figures say: cases open and closed, how many closed with protection
/// verified, and the median days from opening to verified protection; per unit kind.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub open: i64,
    pub closed: i64,
    pub closed_protected: i64,
    pub pending_approval: i64,
    /// Median days from opening to verified protection; `None` before the first such case.
    pub median_days_to_protection: Option<f64>,
    pub by_unit: Vec<UnitFigures>,
    /// Per population of special attention the caller may know of (a case counts in each of
    /// its unit's populations).
    pub by_population: Vec<PopulationFigures>,
}

/// Cases of one population of special attention.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PopulationFigures {
    pub population: String,
    pub label: String,
    pub open: i64,
    pub closed: i64,
    pub closed_protected: i64,
    pub median_days_to_protection: Option<f64>,
}

/// Days from opening to closing of each span (RFC 3339 moments), and their median in tenths.
fn median_days<'a>(spans: impl Iterator<Item = (&'a str, &'a str)>) -> Option<f64> {
    let mut days: Vec<f64> = spans
        .filter_map(|(a, b)| {
            let a = chrono::DateTime::parse_from_rfc3339(a).ok()?;
            let b = chrono::DateTime::parse_from_rfc3339(b).ok()?;
            Some((b - a).num_seconds() as f64 / 86_400.0)
        })
        .collect();
    days.sort_by(f64::total_cmp);
    let median = match days.len() {
        0 => None,
        n if n % 2 == 1 => days.get(n / 2).copied(),
        n => Some(
            (days.get(n / 2 - 1).copied().unwrap_or(0.0) + days.get(n / 2).copied().unwrap_or(0.0))
                / 2.0,
        ),
    };
    median.map(|d| (d * 10.0).round() / 10.0)
}

/// Cases of one unit kind.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnitFigures {
    pub unit_kind: String,
    pub open: i64,
    pub closed: i64,
}

/// The figures of the cases within the caller's scope (and `territory`). Aggregates of its own
/// cases, nothing personal: not audited.
pub fn figures(store: &mut dyn Store, actor: &Actor, territory: Option<&str>) -> Result<Figures> {
    actor.require(Permission::CasesRead)?;
    let r = match territory {
        Some(t) => {
            let t = territory_in_scope(actor, t)?;
            (t != TerritoryCode::Nation)
                .then(|| Scope::Territories(vec![t]).district_ranges())
                .or_else(|| ranges(&actor.scope))
        }
        None => ranges(&actor.scope),
    };
    let f = store_cases::figures(&mut store.db(), r.as_deref())?;
    let median = median_days(
        f.protected_spans
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str())),
    );
    // Only the populations the caller's fields let it know of.
    let visible =
        crate::registry::visible_populations(&crate::registry::visible_fields(store, actor)?);
    let mut by_population: Vec<PopulationFigures> = Vec::new();
    // A household's populations are every one a case can carry (its members' and its own).
    for p in UnitKind::Hogar.populations() {
        if visible.as_ref().is_some_and(|v| !v.iter().any(|x| x == p)) {
            continue;
        }
        let mine: Vec<&store_cases::PopulationCase> = f
            .with_populations
            .iter()
            .filter(|c| c.populations.split(',').any(|x| x == *p))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let protected: Vec<&&store_cases::PopulationCase> = mine
            .iter()
            .filter(|c| c.closed && c.ending.as_deref() == Some("protegido"))
            .collect();
        by_population.push(PopulationFigures {
            population: (*p).to_string(),
            label: vamos_domain::referral::population_label(p).to_string(),
            open: mine.iter().filter(|c| !c.closed).count() as i64,
            closed: mine.iter().filter(|c| c.closed).count() as i64,
            closed_protected: protected.len() as i64,
            median_days_to_protection: median_days(
                protected
                    .iter()
                    .filter_map(|c| Some((c.opened_at.as_str(), c.closed_at.as_deref()?))),
            ),
        });
    }
    Ok(Figures {
        open: f.open,
        closed: f.closed,
        closed_protected: f.closed_protected,
        pending_approval: f.pending_approval,
        median_days_to_protection: median,
        by_population,
        by_unit: f
            .by_unit
            .into_iter()
            .map(|(unit_kind, open, closed)| UnitFigures {
                unit_kind,
                open,
                closed,
            })
            .collect(),
    })
}
