//! Grievances and claims (*reclamos*, issue 36 item 4): anyone lodges one — a citizen on the
//! public page, an orientador, an institution, the command line — about a registration, a
//! status, a service or the system; the person keeps a tracking code to follow it without an
//! account; staff within scope assign, comment, resolve; an overdue one climbs a level; the
//! person may appeal a resolution once, within [`APPEAL_DAYS`] days.
//!
//! Three rules keep it from being an oracle or a leak. The person is told the same whatever
//! the registry holds (whether the cédula matched is for staff only). Tracking answers a wrong
//! code exactly like a missing one and shows no personal data — state, dates, category and the
//! public resolution text, never the description or the identification. Only the SHA-256 of a
//! code is stored: a code carries 100 random bits, so a plain hash cannot be reversed by trying
//! codes, and a copy of the database does not give anyone a code. Staff read grievances through
//! their scope (territory, and for an institution's operator its institution's): one outside it
//! answers exactly like one that does not exist. Every step writes an audit record.

use crate::{Actor, Error, ErrorKind, Result};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use vamos_domain::grievance::{
    self as dom, Action, Assignee, Category, Channel, GrievanceState, Outcome, TrackingCode,
    APPEAL_DAYS, CODE_BYTES, LEVELS,
};
use vamos_domain::limits::{Limit, TooLong};
use vamos_domain::{DistrictCode, NationalId, Permission, Role, Territory, TerritoryCode};
use vamos_store::grievances::{self as stored, Event, Filter, Grievance, NewGrievance, Reach};
use vamos_store::Store;

/// The audit subject kind of a grievance.
const SUBJECT: &str = "reclamo";
/// Most grievances a listing or an export answers.
pub const LIST_LIMIT: i64 = 1_000;
/// The answer to a wrong, malformed or missing tracking code: one text for all three.
const NO_SUCH_CODE: &str = "no hay ningún reclamo con ese código: revise que lo copió completo";
/// Most characters of a person's contact (a phone or an e-mail).
const CONTACT: Limit = Limit::Place;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

// ------------------------------------------------------------------------------------- lodging

/// The grievance form as received (the public page, the API body, the command line's
/// arguments): every field text, unchecked.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct Form {
    pub categoria: String,
    pub descripcion: String,
    #[serde(default)]
    pub cedula: Option<String>,
    /// `AAAA-MM-DD` or `dd/mm/aaaa`.
    #[serde(default)]
    pub fecha_nacimiento: Option<String>,
    #[serde(default)]
    pub nombres: Option<String>,
    #[serde(default)]
    pub apellidos: Option<String>,
    /// A phone or an e-mail to be reached at (optional, personal data).
    #[serde(default)]
    pub contacto: Option<String>,
    /// The district (`DDdd`) of the person or of the service.
    #[serde(default)]
    pub distrito: Option<String>,
    /// The institution that provides the service complained about (catalogue code).
    #[serde(default)]
    pub institucion: Option<String>,
}

impl Form {
    /// The form from the fields a page posted (`application/x-www-form-urlencoded`, decoded):
    /// the known ones by name, absent ones empty, anything else ignored.
    pub fn from_fields(v: &std::collections::HashMap<String, String>) -> Form {
        let get = |k: &str| v.get(k).cloned();
        Form {
            categoria: get("categoria").unwrap_or_default(),
            descripcion: get("descripcion").unwrap_or_default(),
            cedula: get("cedula"),
            fecha_nacimiento: get("fecha_nacimiento"),
            nombres: get("nombres"),
            apellidos: get("apellidos"),
            contacto: get("contacto"),
            distrito: get("distrito"),
            institucion: get("institucion"),
        }
    }
}

/// Who the grievance is about, as they identified themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub national_id: NationalId,
    pub birth_date: NaiveDate,
    pub given_names: String,
    pub family_names: String,
}

/// A checked grievance, ready to lodge.
#[derive(Debug, Clone, PartialEq)]
pub struct Lodging {
    pub category: &'static Category,
    pub description: String,
    pub person: Option<Identity>,
    pub contact: Option<String>,
    pub district: Option<DistrictCode>,
    pub institution: Option<String>,
}

/// A refused field: its name on the form and why, in Spanish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn too_long(e: TooLong) -> String {
    e.to_string()
}

/// Checks the form: a known category, a description (not empty, at most
/// [`vamos_domain::limits::FREE_TEXT`] characters), the person identified — cédula, birth date
/// (real, not in the future), names — unless the category may be anonymous (then all or
/// nothing), every text within its limit. Every refused field is reported, each with its reason.
pub fn validate(f: &Form, today: NaiveDate) -> std::result::Result<Lodging, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field: &'static str, message: String| {
        errors.push(FieldError { field, message });
    };
    let opt = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let category = dom::category(f.categoria.trim());
    if category.is_none() {
        err("categoria", "elija de qué se trata el reclamo".into());
    }
    let description = f.descripcion.trim().to_string();
    if description.is_empty() {
        err("descripcion", "cuente qué pasó".into());
    } else if let Err(e) = Limit::FreeText.check(&description) {
        err("descripcion", too_long(e));
    }
    let (ced, birth, given, family) = (
        opt(&f.cedula),
        opt(&f.fecha_nacimiento),
        opt(&f.nombres),
        opt(&f.apellidos),
    );
    let national_id = match ced.as_deref().map(NationalId::parse_optional) {
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            err(
                "cedula",
                "la cédula tiene de 3 a 9 dígitos (se admiten puntos)".into(),
            );
            None
        }
        None => None,
    };
    let birth_date = match birth.as_deref() {
        None => None,
        Some(s) if s.chars().count() > 10 => {
            err(
                "fecha_nacimiento",
                "escriba la fecha como dd/mm/aaaa".into(),
            );
            None
        }
        Some(s) => match vamos_ingest::dates::parse_date(s) {
            Ok(Some(d)) if d <= today && d >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d) => {
                Some(d)
            }
            _ => {
                err(
                    "fecha_nacimiento",
                    "la fecha de nacimiento no es válida (dd/mm/aaaa, no futura)".into(),
                );
                None
            }
        },
    };
    for (field, v) in [("nombres", &given), ("apellidos", &family)] {
        if let Some(v) = v {
            if let Err(e) = Limit::Name.check(v) {
                err(field, too_long(e));
            }
        }
    }
    let given_any = [&ced, &birth, &given, &family]
        .iter()
        .filter(|x| x.is_some())
        .count();
    let needs_person = category.is_some_and(|c| !c.anonymous);
    if (needs_person || given_any > 0) && given_any < 4 {
        let why = if needs_person {
            "un reclamo sobre el registro o el estado de protección necesita la cédula, la fecha de nacimiento, los nombres y los apellidos de la persona"
        } else {
            "complete la cédula, la fecha de nacimiento, los nombres y los apellidos, o deje los cuatro vacíos"
        };
        for (field, v) in [
            ("cedula", &ced),
            ("fecha_nacimiento", &birth),
            ("nombres", &given),
            ("apellidos", &family),
        ] {
            if v.is_none() {
                err(field, why.into());
            }
        }
    }
    let contact = opt(&f.contacto);
    if let Some(c) = &contact {
        if let Err(e) = CONTACT.check(c) {
            err("contacto", too_long(e));
        }
    }
    let district = match opt(&f.distrito) {
        None => None,
        Some(s) => match s
            .parse::<u16>()
            .ok()
            .and_then(|n| DistrictCode::from_number(n).ok())
        {
            Some(d) => Some(d),
            None => {
                err("distrito", "elija un distrito de la lista".into());
                None
            }
        },
    };
    let institution = opt(&f.institucion).map(|s| s.to_uppercase());
    if let Some(i) = &institution {
        if Limit::Code.check(i).is_err()
            || !i
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            err(
                "institucion",
                "la institución se indica por su código (MSPBS, MEC, …)".into(),
            );
        }
    }
    let person = match (national_id, birth_date, given, family) {
        (Some(national_id), Some(birth_date), Some(given_names), Some(family_names)) => {
            Some(Identity {
                national_id,
                birth_date,
                given_names,
                family_names,
            })
        }
        _ => None,
    };
    match category {
        Some(category) if errors.is_empty() => Ok(Lodging {
            category,
            description,
            person,
            contact,
            district,
            // Only a service is an institution's to answer.
            institution: institution.filter(|_| category.assignee == Assignee::Institution),
        }),
        _ => Err(errors),
    }
}

/// One line of every refused field (`campo: motivo; …`), for the API and the command line.
pub fn field_errors_message(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A lodged grievance: its number (for staff) and the tracking code, which is shown once and
/// never stored.
#[derive(Debug, Clone, Serialize)]
pub struct Lodged {
    pub id: i64,
    /// The tracking code as shown (`XXXX-XXXX-XXXX-XXXX-XXXX`): keep it, it is not shown again.
    pub code: String,
    pub due_at: String,
    pub category: &'static str,
}

/// The SHA-256 of a code as stored.
fn code_hash(code: &TrackingCode) -> String {
    crate::audit::sha256_hex(code.canonical())
}

/// Lodges a checked grievance as `actor` at `now` (the public page lodges as
/// [`Actor::public`]). Matches the person's cédula and birth date against the registry for
/// staff; the answer is the same whether they matched or not.
pub fn lodge(
    store: &mut dyn Store,
    actor: &Actor,
    l: &Lodging,
    now: DateTime<Utc>,
) -> Result<Lodged> {
    actor.require(Permission::GrievancesLodge)?;
    let mut random = [0u8; CODE_BYTES];
    getrandom::fill(&mut random)
        .map_err(|e| Error::internal(format!("sin azar del sistema: {e}")))?;
    let code = TrackingCode::from_random(&random);
    let matched = match &l.person {
        Some(p) => stored::persons_by_national_id(&mut store.db(), i64::from(p.national_id.get()))?
            .into_iter()
            .find(|m| m.birth_date.get(..10) == Some(p.birth_date.to_string().as_str())),
        None => None,
    };
    let district = l
        .district
        .map(|d| i64::from(d.get()))
        .or(matched.as_ref().map(|m| m.district_code));
    let channel = if actor.role == Some(Role::Publico) {
        Channel::Web
    } else if actor.operator {
        Channel::Operator
    } else {
        Channel::Account
    };
    let at = rfc3339(now);
    let due = rfc3339(l.category.deadline.due(now));
    let birth = l.person.as_ref().map(|p| p.birth_date.to_string());
    let id = stored::insert(
        &mut store.db(),
        &NewGrievance {
            code_hash: &code_hash(&code),
            category: l.category.code,
            state: GrievanceState::Recibido.code(),
            channel: channel.code(),
            lodged_by: &actor.name,
            lodged_at: &at,
            due_at: &due,
            district_code: district,
            institution: l.institution.as_deref(),
            description: &l.description,
            contact: l.contact.as_deref(),
            national_id: l.person.as_ref().map(|p| i64::from(p.national_id.get())),
            birth_date: birth.as_deref(),
            given_names: l.person.as_ref().map(|p| p.given_names.as_str()),
            family_names: l.person.as_ref().map(|p| p.family_names.as_str()),
            person_id: matched.as_ref().map(|m| m.person_id),
        },
    )?;
    actor.audit(
        store,
        "presentar reclamo",
        SUBJECT,
        &id.to_string(),
        "reclamo de una persona",
        &format!("ok: {}", l.category.code),
    )?;
    Ok(Lodged {
        id,
        code: code.display(),
        due_at: due,
        category: l.category.label,
    })
}

// ------------------------------------------------------------------------------------ tracking

/// A public step of a grievance: when and what, nothing more.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStep {
    pub at: String,
    pub kind: String,
    pub label: &'static str,
}

/// What the holder of a tracking code sees: no personal data, no description, no notes.
#[derive(Debug, Clone, Serialize)]
pub struct Tracking {
    pub category: &'static str,
    pub category_label: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    /// Who is looking at it now (`primer nivel`, `coordinación`, `dirección de la UTGS`).
    pub level_label: &'static str,
    pub lodged_at: String,
    pub due_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    /// The answer written for the person.
    pub resolution_text: Option<String>,
    /// Until when it may be appealed (only when it may).
    pub appeal_until: Option<String>,
    pub steps: Vec<PublicStep>,
}

fn step_label(kind: &str) -> &'static str {
    match kind {
        "presentado" => "Reclamo recibido",
        "asignado" => "En atención",
        "escalado" => "Plazo vencido: pasó al nivel siguiente",
        "resuelto" => "Respondido",
        "apelado" => "Apelación recibida",
        "solicitud_cambio" => "Se pidió un cambio en el registro",
        "cambio_aplicado" => "El cambio en el registro fue aprobado y aplicado",
        "cambio_rechazado" => "El cambio pedido en el registro no fue aprobado",
        _ => "Actualización",
    }
}

fn category_of(g: &Grievance) -> Result<&'static Category> {
    dom::category(&g.category)
        .ok_or_else(|| Error::internal(format!("categoría guardada desconocida: {}", g.category)))
}

fn state_of(g: &Grievance) -> Result<GrievanceState> {
    GrievanceState::parse(&g.state)
        .ok_or_else(|| Error::internal(format!("estado guardado desconocido: {}", g.state)))
}

/// Until when a closed grievance may be appealed (`None`: it may not — open, or appealed once).
fn appeal_until(g: &Grievance) -> Option<DateTime<Utc>> {
    if g.appealed_at.is_some() {
        return None;
    }
    let resolved = parse_time(g.resolved_at.as_deref()?)?;
    Some(resolved + chrono::Duration::days(APPEAL_DAYS))
}

/// The grievance of tracking code `code` as its holder sees it. A malformed, wrong or missing
/// code: the same not-found answer.
pub fn track(store: &mut dyn Store, code: &str, now: DateTime<Utc>) -> Result<Tracking> {
    let g = by_code(store, code)?;
    let category = category_of(&g)?;
    let state = state_of(&g)?;
    let steps = stored::events(&mut store.db(), g.id)?
        .into_iter()
        .filter(|e| e.public)
        .map(|e| PublicStep {
            label: step_label(&e.kind),
            at: e.at,
            kind: e.kind,
        })
        .collect();
    Actor::public().audit(
        store,
        "consultar reclamo por código",
        SUBJECT,
        &g.id.to_string(),
        "seguimiento por la persona",
        "ok",
    )?;
    Ok(Tracking {
        category: category.code,
        category_label: category.label,
        state: state.code(),
        state_label: state.label(),
        level_label: dom::level_label(g.level),
        lodged_at: g.lodged_at.clone(),
        due_at: g.due_at.clone(),
        updated_at: g.updated_at.clone(),
        resolved_at: g.resolved_at.clone(),
        resolution_text: g.public_text.clone(),
        appeal_until: appeal_until(&g).filter(|u| *u >= now).map(rfc3339),
        steps,
    })
}

fn by_code(store: &mut dyn Store, code: &str) -> Result<Grievance> {
    let missing = || Error::not_found(NO_SUCH_CODE);
    let code = TrackingCode::parse(code).ok_or_else(missing)?;
    stored::by_code_hash(&mut store.db(), &code_hash(&code))?.ok_or_else(missing)
}

/// The person appeals the resolution of the grievance of `code`, with a reason: it reopens at
/// the next level (at least coordination) with a new deadline. Once, within [`APPEAL_DAYS`].
pub fn appeal(
    store: &mut dyn Store,
    code: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Tracking> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::bad_request(
            "motivo: cuente por qué no está de acuerdo",
        ));
    }
    Limit::FreeText
        .check(reason)
        .map_err(|e| Error::bad_request(format!("motivo: {e}")))?;
    let g = by_code(store, code)?;
    let state = state_of(&g)?;
    if !state.may(Action::Appeal) {
        return Err(Error::conflict(
            "el reclamo todavía está en atención: se puede apelar cuando tenga respuesta",
        ));
    }
    match appeal_until(&g) {
        Some(until) if until >= now => {}
        Some(_) => {
            return Err(Error::conflict(format!(
                "el plazo para apelar ({APPEAL_DAYS} días desde la respuesta) ya pasó"
            )))
        }
        None => return Err(Error::conflict("este reclamo ya fue apelado una vez")),
    }
    let category = category_of(&g)?;
    let seen = g.updated_at.clone();
    let mut next = g.clone();
    next.state = GrievanceState::Apelado.code().into();
    next.level = (g.level + 1).clamp(2, i64::from(LEVELS));
    next.due_at = rfc3339(category.deadline.due(now));
    next.appealed_at = Some(rfc3339(now));
    next.updated_at = rfc3339(now);
    let event = Event {
        at: rfc3339(now),
        kind: "apelado".into(),
        actor: Actor::public().name,
        detail: Some(format!(
            "motivo de la persona: {reason} — respuesta anterior ({}): {}",
            g.resolution.as_deref().unwrap_or(""),
            g.public_text.as_deref().unwrap_or("")
        )),
        public: true,
    };
    if !stored::save(&mut store.db(), &next, &seen, &event)? {
        return Err(Error::conflict(
            "el reclamo cambió mientras tanto: vuelva a intentarlo",
        ));
    }
    Actor::public().audit(
        store,
        "apelar reclamo",
        SUBJECT,
        &g.id.to_string(),
        "apelación de la persona",
        &format!("ok: nivel {}", next.level),
    )?;
    track(store, code, now)
}

// ------------------------------------------------------------------------------------ handling

/// Where `actor` may read and move grievances: the whole country, or its territories and, for
/// an institution's operator, only its institution's. Refused without `reclamos:gestionar`.
pub fn reach(actor: &Actor) -> Result<Reach> {
    actor.require(Permission::GrievancesWork)?;
    if actor.operator {
        return Ok(Reach::default());
    }
    let districts = (!actor.scope.is_nationwide()).then(|| actor.scope.district_ranges());
    let institution = if actor.role == Some(Role::Operador) {
        Some(
            actor
                .institution
                .clone()
                .ok_or_else(|| Error::forbidden("la cuenta de operador no tiene institución"))?,
        )
    } else {
        None
    };
    Ok(Reach {
        districts,
        institution,
    })
}

/// A grievance as staff list it (no personal data).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: i64,
    pub category: String,
    pub category_label: &'static str,
    pub state: String,
    pub state_label: &'static str,
    pub level: i64,
    pub level_label: &'static str,
    pub channel: String,
    pub lodged_at: String,
    pub due_at: String,
    pub overdue: bool,
    /// Answered (resolved or not its business): only the person's appeal moves it again.
    pub closed: bool,
    pub district_code: Option<i64>,
    pub district: Option<String>,
    pub institution: Option<String>,
    pub assigned_to: Option<String>,
    pub change_request_id: Option<i64>,
}

fn district_name(code: Option<i64>) -> Option<String> {
    code.and_then(DistrictCode::from_stored)
        .map(|d| Territory::official().name_of(TerritoryCode::District(d)))
}

fn summary(g: &Grievance, now: DateTime<Utc>) -> Summary {
    let category = dom::category(&g.category);
    let state = GrievanceState::parse(&g.state);
    Summary {
        id: g.id,
        category: g.category.clone(),
        category_label: category.map_or("", |c| c.label),
        state: g.state.clone(),
        state_label: state.map_or("", |s| s.label()),
        level: g.level,
        level_label: dom::level_label(g.level),
        channel: g.channel.clone(),
        lodged_at: g.lodged_at.clone(),
        due_at: g.due_at.clone(),
        overdue: state.is_some_and(GrievanceState::is_open) && g.due_at < rfc3339(now),
        closed: state.is_some_and(GrievanceState::is_closed),
        district_code: g.district_code,
        district: district_name(g.district_code),
        institution: g.institution.clone(),
        assigned_to: g.assigned_to.clone(),
        change_request_id: g.change_request_id,
    }
}

/// Which grievances a member of staff asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// A state code, or `abierto` for every open one.
    pub state: Option<String>,
    pub category: Option<String>,
    /// Only open ones past their deadline.
    pub overdue: bool,
}

/// The grievances within `actor`'s reach, oldest deadline first (an audited read).
pub fn list(
    store: &mut dyn Store,
    actor: &Actor,
    q: &ListQuery,
    now: DateTime<Utc>,
) -> Result<Vec<Summary>> {
    Ok(listed(store, actor, q, now)?
        .iter()
        .map(|g| summary(g, now))
        .collect())
}

/// The grievances [`list`] shows, whole (checked, filtered and audited as the listing).
fn listed(
    store: &mut dyn Store,
    actor: &Actor,
    q: &ListQuery,
    now: DateTime<Utc>,
) -> Result<Vec<Grievance>> {
    let reach = reach(actor)?;
    let state = q.state.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let open = state == Some("abierto");
    if let Some(s) = state.filter(|_| !open) {
        if GrievanceState::parse(s).is_none() {
            return Err(Error::bad_request(format!(
                "estado desconocido «{}»: recibido, asignado, escalado, apelado, resuelto, no_corresponde o abierto",
                vamos_domain::limits::echo(s)
            )));
        }
    }
    let category = q
        .category
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(c) = category {
        if dom::category(c).is_none() {
            return Err(Error::bad_request(format!(
                "categoría desconocida «{}»",
                vamos_domain::limits::echo(c)
            )));
        }
    }
    let rows = stored::list(
        &mut store.db(),
        &reach,
        &Filter {
            state: state.filter(|_| !open).map(str::to_string),
            open,
            category: category.map(str::to_string),
            overdue_at: q.overdue.then(|| rfc3339(now)),
            limit: LIST_LIMIT,
        },
    )?;
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    actor.audit(
        store,
        "listar reclamos",
        SUBJECT,
        &if ids.is_empty() {
            "ninguno".to_string()
        } else {
            crate::referrals::summary_ids(&ids)
        },
        "gestión de reclamos",
        &format!("ok: {}", ids.len()),
    )?;
    Ok(rows)
}

/// The identification a grievance carries: for staff who may read the registry.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub national_id: Option<i64>,
    pub birth_date: Option<String>,
    pub given_names: Option<String>,
    pub family_names: Option<String>,
    pub contact: Option<String>,
    /// The registry person whose cédula and birth date matched at lodging (`None`: none did).
    pub registry_person: Option<i64>,
}

/// A step as staff see it (internal notes included).
#[derive(Debug, Clone, Serialize)]
pub struct StaffStep {
    pub at: String,
    pub kind: String,
    pub label: &'static str,
    pub actor: String,
    pub detail: Option<String>,
    pub public: bool,
}

/// One grievance as staff see it.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub lodged_by: String,
    pub description: String,
    pub resolution: Option<String>,
    pub public_text: Option<String>,
    pub resolved_at: Option<String>,
    pub appealed_at: Option<String>,
    /// `None` when the reader may not read personal data (`registro:leer`).
    pub person: Option<PersonView>,
    pub steps: Vec<StaffStep>,
}

fn load(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<(Grievance, Reach)> {
    let reach = reach(actor)?;
    // Outside the reach answers exactly like a number never given.
    let g = stored::get(&mut store.db(), id, &reach)?
        .ok_or_else(|| Error::not_found(format!("reclamo {id} no encontrado")))?;
    Ok((g, reach))
}

/// Grievance `id` with its steps and, for readers of the registry, the person's identification
/// and whether it matched the registry (an audited read of personal data).
pub fn show(store: &mut dyn Store, actor: &Actor, id: i64, now: DateTime<Utc>) -> Result<Detail> {
    let (g, _) = load(store, actor, id)?;
    let personal = actor.can(Permission::RegistryRead);
    let steps = stored::events(&mut store.db(), id)?
        .into_iter()
        .map(|e| StaffStep {
            label: step_label(&e.kind),
            at: e.at,
            kind: e.kind,
            actor: e.actor,
            detail: e.detail,
            public: e.public,
        })
        .collect();
    actor.audit(
        store,
        "leer reclamo",
        SUBJECT,
        &id.to_string(),
        "gestión de reclamos",
        if personal {
            "ok: con identificación"
        } else {
            "ok: sin identificación"
        },
    )?;
    Ok(Detail {
        summary: summary(&g, now),
        lodged_by: g.lodged_by.clone(),
        description: g.description.clone(),
        resolution: g.resolution.clone(),
        public_text: g.public_text.clone(),
        resolved_at: g.resolved_at.clone(),
        appealed_at: g.appealed_at.clone(),
        person: personal.then(|| PersonView {
            national_id: g.national_id,
            birth_date: g.birth_date.clone(),
            given_names: g.given_names.clone(),
            family_names: g.family_names.clone(),
            contact: g.contact.clone(),
            registry_person: g.person_id,
        }),
        steps,
    })
}

/// What a member of staff does to a grievance.
#[derive(Debug, Clone, PartialEq)]
pub enum Handling {
    /// To an account (user name) and/or an institution (catalogue code).
    Assign {
        account: Option<String>,
        institution: Option<String>,
    },
    /// An internal note.
    Comment { text: String },
    /// Closes it: the outcome, the internal reason and the text the person reads (a resolution
    /// that also requests a change in the registry is `changes::resolve_grievance`).
    Resolve {
        outcome: Outcome,
        reason: String,
        public_text: String,
    },
}

fn text(field: &str, v: &str, limit: Limit) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::bad_request(format!(
            "{field}: no puede quedar vacío"
        )));
    }
    limit
        .check(v)
        .map_err(|e| Error::bad_request(format!("{field}: {e}")))?;
    Ok(v.to_string())
}

/// Applies `h` to grievance `id` as `actor` at `now`; the grievance as staff now see it.
pub fn handle(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    h: &Handling,
    now: DateTime<Utc>,
) -> Result<Detail> {
    let (g, _) = load(store, actor, id)?;
    let state = state_of(&g)?;
    let at = rfc3339(now);
    let action = match h {
        Handling::Assign { .. } => Action::Assign,
        Handling::Comment { .. } => Action::Comment,
        Handling::Resolve { .. } => Action::Resolve,
    };
    if !state.may(action) {
        return Err(Error::conflict(format!(
            "el reclamo {id} está cerrado ({}): solo la persona puede reabrirlo apelando",
            state.label()
        )));
    }
    let mut next = g.clone();
    next.updated_at = at.clone();
    let (event, audit_action) = match h {
        Handling::Comment { text: t } => {
            let t = text("comentario", t, Limit::FreeText)?;
            stored::note(
                &mut store.db(),
                id,
                &Event {
                    at: at.clone(),
                    kind: "comentario".into(),
                    actor: actor.name.clone(),
                    detail: Some(t),
                    public: false,
                },
            )?;
            actor.audit(
                store,
                "comentar reclamo",
                SUBJECT,
                &id.to_string(),
                "gestión de reclamos",
                "ok",
            )?;
            return show(store, actor, id, now);
        }
        Handling::Assign {
            account,
            institution,
        } => {
            let account = account.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let institution = institution
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_uppercase);
            if account.is_none() && institution.is_none() {
                return Err(Error::bad_request(
                    "indique la cuenta o la institución a la que se asigna",
                ));
            }
            if let Some(a) = account {
                Limit::Code
                    .check(a)
                    .map_err(|e| Error::bad_request(format!("cuenta: {e}")))?;
                if vamos_store::accounts::user_by_name(&mut store.db(), a)?.is_none() {
                    return Err(Error::bad_request(format!(
                        "cuenta: no existe la cuenta «{}»",
                        vamos_domain::limits::echo(a)
                    )));
                }
                next.assigned_to = Some(a.to_string());
            }
            if let Some(i) = &institution {
                Limit::Code
                    .check(i)
                    .map_err(|e| Error::bad_request(format!("institución: {e}")))?;
                // An operator hands a grievance on only within its own institution.
                if actor.role == Some(Role::Operador)
                    && actor.institution.as_deref() != Some(i.as_str())
                {
                    return Err(Error::forbidden(
                        "un operador asigna reclamos solo dentro de su institución",
                    ));
                }
                next.institution = Some(i.clone());
            }
            if state == GrievanceState::Recibido {
                next.state = GrievanceState::Asignado.code().into();
            }
            (
                Event {
                    at: at.clone(),
                    kind: "asignado".into(),
                    actor: actor.name.clone(),
                    detail: Some(format!(
                        "a {}{}",
                        account.unwrap_or("(sin cuenta)"),
                        institution
                            .as_deref()
                            .map(|i| format!(", institución {i}"))
                            .unwrap_or_default()
                    )),
                    public: true,
                },
                "asignar reclamo",
            )
        }
        Handling::Resolve {
            outcome,
            reason,
            public_text,
        } => {
            let reason = text("motivo", reason, Limit::FreeText)?;
            let public_text = text("respuesta a la persona", public_text, Limit::FreeText)?;
            next.state = outcome.state().code().into();
            next.resolution = Some(outcome.state().code().into());
            next.public_text = Some(public_text);
            next.resolved_at = Some(at.clone());
            (
                Event {
                    at: at.clone(),
                    kind: "resuelto".into(),
                    actor: actor.name.clone(),
                    detail: Some(format!("{}: {reason}", outcome.state().code())),
                    public: true,
                },
                "resolver reclamo",
            )
        }
    };
    if !stored::save(&mut store.db(), &next, &g.updated_at, &event)? {
        return Err(Error::conflict(
            "el reclamo cambió mientras tanto: vuelva a abrirlo e intente de nuevo",
        ));
    }
    actor.audit(
        store,
        audit_action,
        SUBJECT,
        &id.to_string(),
        "gestión de reclamos",
        &format!("ok: {}", next.state),
    )?;
    show(store, actor, id, now)
}

/// Checks the texts of a resolution before anything else is done for it.
pub(crate) fn check_resolution(reason: &str, public_text: &str) -> Result<()> {
    text("motivo", reason, Limit::FreeText)?;
    text("respuesta a la persona", public_text, Limit::FreeText)?;
    Ok(())
}

/// Checks that `actor` may answer grievance `id` with a change request: one who handles
/// grievances, the grievance in reach (else answered like a missing one), open, and without a
/// request already.
pub(crate) fn check_for_change(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<()> {
    actor.require(Permission::GrievancesWork)?;
    let (g, _) = load(store, actor, id)?;
    if !state_of(&g)?.may(Action::Resolve) {
        return Err(Error::conflict(format!(
            "el reclamo {id} está cerrado: no se le puede asociar una solicitud de cambio"
        )));
    }
    if let Some(c) = g.change_request_id {
        return Err(Error::conflict(format!(
            "el reclamo {id} ya tiene la solicitud de cambio {c}"
        )));
    }
    Ok(())
}

/// Records on grievance `id` that change request `change` answers it (a step the person sees).
pub(crate) fn link_change(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    change: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let (g, _) = load(store, actor, id)?;
    let mut next = g.clone();
    next.change_request_id = Some(change);
    next.updated_at = rfc3339(now);
    let event = Event {
        at: next.updated_at.clone(),
        kind: "solicitud_cambio".into(),
        actor: actor.name.clone(),
        detail: Some(format!("solicitud de cambio {change}")),
        public: true,
    };
    if !stored::save(&mut store.db(), &next, &g.updated_at, &event)? {
        return Err(Error::conflict(
            "el reclamo cambió mientras tanto: vuelva a abrirlo e intente de nuevo",
        ));
    }
    actor.audit(
        store,
        "vincular solicitud de cambio",
        SUBJECT,
        &id.to_string(),
        "gestión de reclamos",
        &format!("ok: solicitud {change}"),
    )
}

/// Records on grievance `id` that its change request was applied or rejected (a step the
/// person sees; the grievance itself is not reopened or closed by it).
pub(crate) fn note_change_decision(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    change: i64,
    applied: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    stored::note(
        &mut store.db(),
        id,
        &Event {
            at: rfc3339(now),
            kind: if applied {
                "cambio_aplicado"
            } else {
                "cambio_rechazado"
            }
            .into(),
            actor: actor.name.clone(),
            detail: Some(format!("solicitud de cambio {change}")),
            public: true,
        },
    )?;
    Ok(())
}

/// Marks every open grievance whose deadline passed before `now` as escalated to the next
/// level (at the last level it stays there) with a new deadline from `now`, recording the step
/// and an audit record each. Run by `vamos grievances escalate` and by the server every minute;
/// the numbers escalated. The system acts here: nobody's scope limits it.
pub fn escalate_overdue(store: &mut dyn Store, now: DateTime<Utc>) -> Result<Vec<i64>> {
    let system = Actor {
        name: "sistema (plazos de reclamos)".into(),
        ..Actor::command_line("sistema")
    };
    let at = rfc3339(now);
    let mut done = Vec::new();
    loop {
        let batch = stored::list(
            &mut store.db(),
            &Reach::default(),
            &Filter {
                overdue_at: Some(at.clone()),
                limit: 500,
                ..Filter::default()
            },
        )?;
        if batch.is_empty() {
            break;
        }
        let mut moved = 0;
        for g in batch {
            let Some(category) = dom::category(&g.category) else {
                continue;
            };
            let mut next = g.clone();
            let top = g.level >= i64::from(LEVELS);
            next.level = (g.level + 1).min(i64::from(LEVELS));
            next.state = GrievanceState::Escalado.code().into();
            next.due_at = rfc3339(category.deadline.due(now));
            next.updated_at = at.clone();
            let event = Event {
                at: at.clone(),
                kind: "escalado".into(),
                actor: system.name.clone(),
                detail: Some(if top {
                    format!("vencido otra vez en el último nivel (venció {})", g.due_at)
                } else {
                    format!(
                        "de nivel {} a nivel {} (venció {})",
                        g.level, next.level, g.due_at
                    )
                }),
                public: true,
            };
            if stored::save(&mut store.db(), &next, &g.updated_at, &event)? {
                system.audit(
                    store,
                    "escalar reclamo",
                    SUBJECT,
                    &g.id.to_string(),
                    "plazo vencido",
                    &format!("ok: nivel {}", next.level),
                )?;
                done.push(g.id);
                moved += 1;
            }
        }
        // Nothing could move (all changed meanwhile): the next pass will see them.
        if moved == 0 {
            break;
        }
    }
    Ok(done)
}

/// The CSV export of the staff list (`reclamos.csv`): every cell through
/// `vamos_domain::csv_safe`, so a description typed as a formula is read as text. The
/// identification columns only for readers of the registry. An audited read.
pub fn export_csv(
    store: &mut dyn Store,
    actor: &Actor,
    q: &ListQuery,
    now: DateTime<Utc>,
) -> Result<Vec<u8>> {
    let personal = actor.can(Permission::RegistryRead);
    // The listing's own checks and audit record, with the rows' texts.
    let rows = listed(store, actor, q, now)?;
    // UTF-8 with BOM, so a spreadsheet reads the accents.
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header = vec![
        "numero",
        "categoria",
        "estado",
        "nivel",
        "canal",
        "presentado",
        "vence",
        "vencido",
        "distrito",
        "institucion",
        "asignado_a",
        "descripcion",
        "respuesta",
    ];
    if personal {
        header.extend([
            "cedula",
            "fecha_nacimiento",
            "nombres",
            "apellidos",
            "contacto",
        ]);
    }
    w.write_record(&header).map_err(Error::internal)?;
    for g in &rows {
        let s = summary(g, now);
        let mut row = vec![
            g.id.to_string(),
            s.category_label.to_string(),
            s.state_label.to_string(),
            g.level.to_string(),
            g.channel.clone(),
            g.lodged_at.clone(),
            g.due_at.clone(),
            if s.overdue { "sí" } else { "no" }.to_string(),
            s.district.clone().unwrap_or_default(),
            g.institution.clone().unwrap_or_default(),
            g.assigned_to.clone().unwrap_or_default(),
            g.description.clone(),
            g.public_text.clone().unwrap_or_default(),
        ];
        if personal {
            row.extend([
                g.national_id.map(|n| n.to_string()).unwrap_or_default(),
                g.birth_date.clone().unwrap_or_default(),
                g.given_names.clone().unwrap_or_default(),
                g.family_names.clone().unwrap_or_default(),
                g.contact.clone().unwrap_or_default(),
            ]);
        }
        w.write_record(&row).map_err(Error::internal)?;
    }
    w.into_inner().map_err(Error::internal)
}

/// The kind of error of a refused lodging form, for the interfaces.
pub fn invalid_form(errors: &[FieldError]) -> Error {
    Error::new(
        ErrorKind::Invalid,
        "reclamo_invalido",
        field_errors_message(errors),
    )
}

// A grievance does not open a Canal Verde case yet (`crate::cases`, origin `reclamo`): when it
// does, a grievance about a person in urgent need opens one from here, recorded on the
// grievance like a change request (`change_request_id`) — a `canal_verde_case_id` column of its
// own and a step `caso_canal_verde`.

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn form(category: &str) -> Form {
        Form {
            categoria: category.into(),
            descripcion: "No me llegó la visita".into(),
            ..Form::default()
        }
    }

    #[test]
    fn a_registration_grievance_needs_the_person_identified() {
        let e = validate(&form("registro_no_figuro"), today()).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|x| x.field).collect();
        assert_eq!(
            fields,
            vec!["cedula", "fecha_nacimiento", "nombres", "apellidos"]
        );
        let mut f = form("registro_no_figuro");
        f.cedula = Some("4.123.456".into());
        f.fecha_nacimiento = Some("04/05/1990".into());
        f.nombres = Some("Ana".into());
        f.apellidos = Some("Benítez".into());
        let l = validate(&f, today()).unwrap();
        assert_eq!(l.person.unwrap().national_id.get(), 4_123_456);
        assert!(validate(&form("servicio_mala_atencion"), today()).is_ok());
    }

    #[test]
    fn every_oversize_field_is_refused_with_its_own_spanish_reason() {
        let mut f = form("sistema");
        f.descripcion = "x".repeat(vamos_domain::limits::FREE_TEXT + 1);
        f.contacto = Some("9".repeat(vamos_domain::limits::PLACE + 1));
        f.institucion = Some("X".repeat(500));
        let e = validate(&f, today()).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|x| x.field).collect();
        assert_eq!(fields, vec!["descripcion", "contacto", "institucion"]);
        assert!(e[0].message.starts_with("texto demasiado largo"), "{e:?}");
    }
}
