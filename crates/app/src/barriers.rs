//! Social innovation for access (component IV of the Modelo de Gestión): the barriers that keep
//! people from services in a territory — met on a case's task (`cases::task`) or recorded by the
//! Mesa for its district — the facilitators designed against them, with an owner, a period and
//! a follow-up status, and the territorial view: which barriers block most cases, and which
//! facilitators worked (the tasks blocked by their barrier in their district that were overcome
//! once they started, and the Mesa's own judgement).
//!
//! The barrier list is catalogue data (`canal_verde.toml`, extended by the Mesa Técnica). Reading
//! needs `casos:leer`, recording and following `casos:gestionar`; both are scoped to the account's
//! districts and audited. Nothing here names a person: the view counts tasks and cases.

use crate::cases::{criteria, ranges};
use crate::{Actor, Error, Result};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use vamos_catalogue::Catalogue;
use vamos_domain::authz::Scope;
use vamos_domain::limits::Limit;
use vamos_domain::{DistrictCode, Permission, Territory, TerritoryCode};
use vamos_store::barriers::{self as sb, Facilitator, TerritoryBarrier, Update};
use vamos_store::Store;

/// The follow-up statuses of a facilitator, with their labels.
pub const STATUSES: &[(&str, &str)] = &[
    ("planificado", "Planificado"),
    ("en_curso", "En curso"),
    ("cumplido", "Cumplido"),
    ("suspendido", "Suspendido"),
];

/// The Mesa's judgement of a facilitator that ended, with its labels.
pub const RESULTS: &[(&str, &str)] = &[("funciono", "Funcionó"), ("no_funciono", "No funcionó")];

fn label(list: &[(&str, &'static str)], code: &str) -> Option<&'static str> {
    list.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// The district `territory` names, inside the account's scope.
fn district_in_scope(actor: &Actor, territory: &str) -> Result<DistrictCode> {
    match TerritoryCode::parse(territory.trim()) {
        Ok(TerritoryCode::District(d)) if actor.scope.contains(d) => Ok(d),
        Ok(TerritoryCode::District(_)) => Err(Error::forbidden(format!(
            "el distrito {territory} está fuera de su ámbito"
        ))),
        Ok(_) => Err(Error::bad_request(
            "las barreras y los facilitadores se registran por distrito (DDdd)",
        )),
        Err(e) => Err(Error::bad_request(format!(
            "territorio inválido «{territory}»: {e}"
        ))),
    }
}

fn text(what: &str, value: &str, limit: Limit) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::bad_request(format!("{what}: falta")));
    }
    limit
        .check(v)
        .map_err(|e| Error::bad_request(format!("{what}: {e}")))?;
    Ok(v.to_string())
}

fn barrier_code(catalogue: &Catalogue, code: &str) -> Result<String> {
    let cv = criteria(catalogue)?;
    if cv.barrier(code).is_some() {
        return Ok(code.to_string());
    }
    Err(Error::bad_request(format!(
        "barrera desconocida «{code}» ({})",
        cv.barriers
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// A barrier the Mesa found in its district.
#[derive(Debug, Clone, Default)]
pub struct NewBarrier {
    /// The district, `DDdd`.
    pub territory: String,
    /// A barrier code of `canal_verde.toml`.
    pub barrier: String,
    /// The service it keeps people from (a catalogue code), if one.
    pub service: Option<String>,
    pub description: String,
}

/// Records a barrier of a district; its number.
pub fn record(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    b: &NewBarrier,
) -> Result<i64> {
    actor.require(Permission::CasesWork)?;
    let d = district_in_scope(actor, &b.territory)?;
    let barrier = barrier_code(catalogue, b.barrier.trim())?;
    let service = match b
        .service
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) if catalogue.services.iter().any(|x| x.code == s) => Some(s.to_string()),
        Some(s) => return Err(Error::bad_request(format!("servicio desconocido «{s}»"))),
        None => None,
    };
    let description = text("descripción", &b.description, Limit::FreeText)?;
    let id = sb::record(
        &mut store.db(),
        &TerritoryBarrier {
            id: 0,
            district_code: i64::from(d.get()),
            barrier: barrier.clone(),
            service,
            description,
            recorded_by: actor.name.clone(),
            recorded_at: crate::clock::now_rfc3339(),
            resolved_at: None,
        },
    )?;
    actor.audit(
        store,
        "registrar barrera",
        "barrera",
        &id.to_string(),
        "innovación social para el acceso",
        &format!("ok: {barrier} en {d}"),
    )?;
    Ok(id)
}

/// Marks a recorded barrier of the account's districts as removed.
pub fn resolve(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<()> {
    actor.require(Permission::CasesWork)?;
    let r = ranges(&actor.scope);
    let b = sb::territory_barrier(&mut store.db(), id, r.as_deref())?
        .ok_or_else(|| Error::not_found(format!("no existe la barrera {id} en su ámbito")))?;
    if b.resolved_at.is_some() {
        return Err(Error::conflict(format!("la barrera {id} ya fue superada")));
    }
    sb::resolve(&mut store.db(), id, &crate::clock::now_rfc3339())?;
    actor.audit(
        store,
        "superar barrera",
        "barrera",
        &id.to_string(),
        "innovación social para el acceso",
        "ok",
    )?;
    Ok(())
}

/// A facilitator to design against a barrier.
#[derive(Debug, Clone, Default)]
pub struct NewFacilitator {
    pub territory: String,
    pub barrier: String,
    pub name: String,
    pub description: String,
    /// Who answers for it (an institution or a person).
    pub owner: String,
    /// `AAAA-MM-DD` or `DD/MM/AAAA`.
    pub starts_on: String,
    pub ends_on: String,
}

fn date(what: &str, s: &str) -> Result<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| Error::bad_request(format!("{what}: fecha inválida «{s}» (DD/MM/AAAA)")))
}

/// Adds a facilitator (status `planificado`); its number.
pub fn add_facilitator(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    f: &NewFacilitator,
) -> Result<i64> {
    actor.require(Permission::CasesWork)?;
    let d = district_in_scope(actor, &f.territory)?;
    let barrier = barrier_code(catalogue, f.barrier.trim())?;
    let name = text("nombre", &f.name, Limit::Name)?;
    let owner = text("responsable", &f.owner, Limit::Name)?;
    let description = f.description.trim().to_string();
    Limit::FreeText
        .check(&description)
        .map_err(|e| Error::bad_request(format!("descripción: {e}")))?;
    let (from, to) = (date("desde", &f.starts_on)?, date("hasta", &f.ends_on)?);
    if to < from {
        return Err(Error::bad_request(
            "el período termina antes de empezar: revise las fechas",
        ));
    }
    let now = crate::clock::now_rfc3339();
    let id = sb::add_facilitator(
        &mut store.db(),
        &Facilitator {
            id: 0,
            district_code: i64::from(d.get()),
            barrier: barrier.clone(),
            name,
            description,
            owner,
            starts_on: from.to_string(),
            ends_on: to.to_string(),
            status: "planificado".into(),
            result: None,
            created_by: actor.name.clone(),
            created_at: now.clone(),
            updated_at: now,
        },
        "diseñado",
    )?;
    actor.audit(
        store,
        "diseñar facilitador",
        "facilitador",
        &id.to_string(),
        "innovación social para el acceso",
        &format!("ok: contra {barrier} en {d}"),
    )?;
    Ok(id)
}

/// Records the follow-up of a facilitator of the account's districts: its status now, the
/// Mesa's judgement once it ends (`cumplido` or `suspendido`), and a note.
pub fn follow(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    status: &str,
    result: Option<&str>,
    note: &str,
) -> Result<()> {
    actor.require(Permission::CasesWork)?;
    let r = ranges(&actor.scope);
    let f = sb::facilitator(&mut store.db(), id, r.as_deref())?
        .ok_or_else(|| Error::not_found(format!("no existe el facilitador {id} en su ámbito")))?;
    let status = status.trim();
    if label(STATUSES, status).is_none() {
        return Err(Error::bad_request(format!(
            "estado desconocido «{status}» (planificado, en_curso, cumplido, suspendido)"
        )));
    }
    let result = result.map(str::trim).filter(|r| !r.is_empty());
    if let Some(x) = result {
        if label(RESULTS, x).is_none() {
            return Err(Error::bad_request(format!(
                "resultado desconocido «{x}» (funciono, no_funciono)"
            )));
        }
        if !matches!(status, "cumplido" | "suspendido") {
            return Err(Error::bad_request(
                "el resultado se juzga cuando el facilitador termina (cumplido o suspendido)",
            ));
        }
    }
    let note = note.trim();
    Limit::FreeText
        .check(note)
        .map_err(|e| Error::bad_request(format!("nota: {e}")))?;
    sb::follow(
        &mut store.db(),
        f.id,
        status,
        result,
        &Update {
            at: crate::clock::now_rfc3339(),
            actor: actor.name.clone(),
            status: status.into(),
            note: note.into(),
        },
    )?;
    actor.audit(
        store,
        "seguir facilitador",
        "facilitador",
        &id.to_string(),
        "innovación social para el acceso",
        &format!("ok: {status}"),
    )?;
    Ok(())
}

/// One barrier in the territorial view.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BarrierRow {
    pub code: String,
    pub label: String,
    /// Open cases with a pending task it blocks.
    pub blocked_cases: usize,
    /// Pending tasks of open cases it blocks.
    pub blocked_tasks: usize,
    /// Tasks it blocked that were done since.
    pub overcome_tasks: usize,
    /// Records of it in the territory not yet removed.
    pub recorded: usize,
    pub facilitators: usize,
}

/// One facilitator in the territorial view, with what followed it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FacilitatorRow {
    #[serde(flatten)]
    pub facilitator: Facilitator,
    pub district_name: String,
    pub barrier_label: String,
    pub status_label: String,
    pub result_label: Option<String>,
    /// Tasks blocked by its barrier in its district done since it started.
    pub overcome_since: usize,
    /// Tasks blocked by its barrier in its district still pending.
    pub still_blocked: usize,
    pub updates: Vec<Update>,
}

/// A recorded barrier with its labels.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordRow {
    #[serde(flatten)]
    pub record: TerritoryBarrier,
    pub district_name: String,
    pub barrier_label: String,
    pub service_name: Option<String>,
}

/// The territorial view of barriers and facilitators.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct View {
    pub territory: serde_json::Value,
    /// Every barrier of the list, those blocking most cases first.
    pub barriers: Vec<BarrierRow>,
    pub facilitators: Vec<FacilitatorRow>,
    /// The latest records (at most 200).
    pub records: Vec<RecordRow>,
}

/// Every barrier of the list (and any older code still on a task), with what it blocks, those
/// blocking most cases first.
fn barrier_rows(
    cv: &vamos_catalogue::canal_verde::CanalVerde,
    tasks: &[sb::BlockedTask],
    records: &[TerritoryBarrier],
    facilitators: &[Facilitator],
) -> Vec<BarrierRow> {
    let mut rows: BTreeMap<String, BarrierRow> = cv
        .barriers
        .iter()
        .map(|(code, label)| {
            (
                code.clone(),
                BarrierRow {
                    code: code.clone(),
                    label: label.clone(),
                    blocked_cases: 0,
                    blocked_tasks: 0,
                    overcome_tasks: 0,
                    recorded: 0,
                    facilitators: 0,
                },
            )
        })
        .collect();
    fn row<'a>(rows: &'a mut BTreeMap<String, BarrierRow>, code: &str) -> &'a mut BarrierRow {
        rows.entry(code.to_string()).or_insert_with(|| BarrierRow {
            code: code.to_string(),
            label: code.to_string(),
            blocked_cases: 0,
            blocked_tasks: 0,
            overcome_tasks: 0,
            recorded: 0,
            facilitators: 0,
        })
    }
    let mut cases: BTreeMap<&str, std::collections::BTreeSet<i64>> = BTreeMap::new();
    for k in tasks {
        if k.pending && k.case_open {
            row(&mut rows, &k.barrier).blocked_tasks += 1;
            cases.entry(&k.barrier).or_default().insert(k.case_id);
        } else if !k.pending {
            row(&mut rows, &k.barrier).overcome_tasks += 1;
        }
    }
    for (code, set) in &cases {
        row(&mut rows, code).blocked_cases = set.len();
    }
    for rec in records.iter().filter(|x| x.resolved_at.is_none()) {
        row(&mut rows, &rec.barrier).recorded += 1;
    }
    for f in facilitators {
        row(&mut rows, &f.barrier).facilitators += 1;
    }
    let mut barriers: Vec<BarrierRow> = rows.into_values().collect();
    let order: Vec<&String> = cv.barriers.iter().map(|(c, _)| c).collect();
    barriers.sort_by_key(|b| {
        (
            std::cmp::Reverse(b.blocked_cases),
            std::cmp::Reverse(b.blocked_tasks + b.recorded),
            order
                .iter()
                .position(|c| **c == b.code)
                .unwrap_or(usize::MAX),
        )
    });
    barriers
}

/// The barriers and facilitators of `territory` (the account's whole scope when `None`).
pub fn view(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    territory: Option<&str>,
) -> Result<View> {
    actor.require(Permission::CasesRead)?;
    let t = match territory.map(str::trim).filter(|t| !t.is_empty()) {
        Some(x) => {
            let t = TerritoryCode::parse(x)
                .map_err(|e| Error::bad_request(format!("territorio inválido «{x}»: {e}")))?;
            if !actor.scope.covers(t) {
                return Err(Error::forbidden(format!(
                    "el territorio {x} está fuera de su ámbito"
                )));
            }
            t
        }
        // The account's whole scope: named by its one territory when it has only one.
        None => match &actor.scope {
            Scope::Territories(ts) if ts.len() == 1 => {
                ts.first().copied().unwrap_or(TerritoryCode::Nation)
            }
            _ => TerritoryCode::Nation,
        },
    };
    let r = match t {
        TerritoryCode::Nation => ranges(&actor.scope),
        t => Some(Scope::Territories(vec![t]).district_ranges()),
    };
    let cv = criteria(catalogue)?;
    let tasks = sb::blocked_tasks(&mut store.db(), r.as_deref())?;
    let facilitators = sb::facilitators(&mut store.db(), r.as_deref())?;
    let records = sb::territory_barriers(&mut store.db(), r.as_deref(), 200)?;
    let barrier_label = |code: &str| cv.barrier(code).unwrap_or(code).to_string();
    let territory_name = |d: i64| {
        DistrictCode::from_stored(d)
            .map(|d| Territory::official().name_of(TerritoryCode::District(d)))
            .unwrap_or_else(|| d.to_string())
    };
    let barriers = barrier_rows(&cv, &tasks, &records, &facilitators);
    let mut out = Vec::with_capacity(facilitators.len());
    for f in facilitators {
        let mine = tasks
            .iter()
            .filter(|k| k.district_code == f.district_code && k.barrier == f.barrier);
        let (mut overcome, mut still) = (0, 0);
        for k in mine {
            if k.pending && k.case_open {
                still += 1;
            } else if k
                .done_at
                .as_deref()
                .is_some_and(|d| d >= f.starts_on.as_str())
            {
                overcome += 1;
            }
        }
        let updates = sb::updates(&mut store.db(), f.id)?;
        out.push(FacilitatorRow {
            district_name: territory_name(f.district_code),
            barrier_label: barrier_label(&f.barrier),
            status_label: label(STATUSES, &f.status).unwrap_or("").to_string(),
            result_label: f
                .result
                .as_deref()
                .and_then(|x| label(RESULTS, x))
                .map(str::to_string),
            overcome_since: overcome,
            still_blocked: still,
            updates,
            facilitator: f,
        });
    }
    let records = records
        .into_iter()
        .map(|rec| RecordRow {
            district_name: territory_name(rec.district_code),
            barrier_label: barrier_label(&rec.barrier),
            service_name: rec.service.as_deref().map(|s| {
                catalogue
                    .services
                    .iter()
                    .find(|x| x.code == s)
                    .map_or_else(|| s.to_string(), |x| x.name.clone())
            }),
            record: rec,
        })
        .collect();
    actor.audit(
        store,
        "leer barreras",
        "territorio",
        &t.to_string(),
        "innovación social para el acceso",
        "ok",
    )?;
    // An account of several territories that named none reads all of them, and is told so.
    let territory = match (
        &actor.scope,
        territory.map(str::trim).filter(|x| !x.is_empty()),
    ) {
        (Scope::Territories(ts), None) if ts.len() > 1 => serde_json::json!({
            "code": "",
            "name": format!(
                "su ámbito ({})",
                ts.iter()
                    .map(|x| Territory::official().name_of(*x))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "level": "ambito",
        }),
        _ => crate::measurements::territory_json(t),
    };
    Ok(View {
        territory,
        barriers,
        facilitators: out,
        records,
    })
}
