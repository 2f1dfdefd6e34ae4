//! Governance of the Modelo de Gestión (issue 41, VAMOS.md §3.9): the bodies — Gabinete
//! Social, Comité de Gestión, Mesas Técnicas, Mesas de Protección Social — with their members,
//! their meetings recorded in the structure of a real minute (`shared/seeds/002_*`), and the
//! agreements and next steps each meeting takes, with owner, due date and status.
//!
//! Two rules make the agreements followed rather than forgotten (the complaint of every
//! meeting tool's users): an agreement still open **carries over** to the body's next meeting —
//! computed when the meeting is read, so it is never copied and never out of date — and an open
//! agreement past its due date **notifies** its owner's account and the body's members, in the
//! same notices as Canal Verde's. An agreement may link to a case, a shared target, a strategic
//! action or a change request; a case or a request is checked within the caller's scope, so
//! the link cannot be used to learn that one exists elsewhere.
//!
//! Reading needs `gobernanza:leer`; recording needs `gobernanza:registrar` and a scope that
//! covers the body's territory (national bodies: a nationwide scope). Every read and change is
//! audited. The shipped bodies and the example minute (`data/governance/`) are loaded by
//! [`seed`], as written — where the minute names no owner, date or attendance, neither does the
//! record.

use crate::{Actor, Error, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use vamos_domain::{Permission, Territory, TerritoryCode};
use vamos_store::governance::{
    self as sg, Agreement, AgreementFilter, Attendee, Body, Meeting, Member,
};
use vamos_store::Store;

const BODIES_CSV: &str = include_str!("../../../data/governance/instancias.csv");
const MINUTE_JSON: &str = include_str!("../../../data/governance/minuta_2023_01_31.json");

/// Agreement statuses and their labels.
pub const STATUSES: [(&str, &str); 4] = [
    ("pendiente", "Pendiente"),
    ("en_curso", "En curso"),
    ("cumplido", "Cumplido"),
    ("cancelado", "Cancelado"),
];

/// What an agreement may link to, and its label.
pub const LINK_KINDS: [(&str, &str); 4] = [
    ("caso", "Caso de Canal Verde"),
    ("meta", "Meta compartida (TERRITORIO:LOGRO:AÑO)"),
    ("ae", "Acción estratégica (código)"),
    ("solicitud", "Solicitud de cambio al registro"),
];

/// Body kinds and their labels.
pub fn kind_label(kind: &str) -> &str {
    match kind {
        "gabinete" => "Gabinete",
        "coordinacion" => "Coordinación",
        "unidad_tecnica" => "Unidad técnica",
        "comite" => "Comité",
        "mesa_tecnica" => "Mesa Técnica",
        "comision" => "Comisión",
        "consultiva" => "Instancia asesora",
        "mesa_departamental" => "Mesa de Protección Social departamental",
        "equipo_territorial" => "Equipo de Coordinación Territorial",
        "mesa_proteccion_social" => "Mesa de Protección Social",
        other => other,
    }
}

/// The label of a status.
pub fn status_label(s: &str) -> &str {
    STATUSES
        .iter()
        .find(|(c, _)| *c == s)
        .map_or(s, |(_, l)| *l)
}

fn open(status: &str) -> bool {
    matches!(status, "pendiente" | "en_curso")
}

fn territory_of(b: &Body) -> Result<TerritoryCode> {
    crate::registry::parse_territory(Some(&b.territory))
}

/// Refuses `actor` recording for body `b` outside its territories.
fn require_record(store: &mut dyn Store, actor: &Actor, b: &Body, action: &str) -> Result<()> {
    if let Err(e) = actor.require(Permission::GovernanceRecord) {
        actor.audit(store, action, "instancia", &b.code, PURPOSE, "denegado")?;
        return Err(e);
    }
    let t = territory_of(b)?;
    if !actor.operator && !actor.scope.covers(t) {
        actor.audit(
            store,
            action,
            "instancia",
            &b.code,
            PURPOSE,
            "denegado: fuera de su ámbito",
        )?;
        return Err(Error::forbidden(format!(
            "{} es de {}, fuera de su ámbito territorial",
            b.name,
            Territory::official().name_of(t)
        )));
    }
    Ok(())
}

const PURPOSE: &str = "gobernanza del Modelo de Gestión";

/// Whether `actor` may read body `b`'s meetings and agreements: a national or advisory body's
/// (the public institutions of the system), or one within its territories. A district's Mesa
/// is not another district's business: out of scope, it reads like a missing one.
fn readable(actor: &Actor, b: &Body) -> bool {
    actor.operator
        || actor.scope.is_nationwide()
        || matches!(b.level.as_str(), "nacional" | "consultivo")
        || territory_of(b).is_ok_and(|t| actor.scope.covers(t))
}

/// The bodies `actor` may read (every body's name and territory is public; this decides their
/// meetings and agreements).
fn readable_ids(store: &mut dyn Store, actor: &Actor) -> Result<Vec<i64>> {
    Ok(sg::bodies(&mut store.db())?
        .into_iter()
        .filter(|b| readable(actor, b))
        .map(|b| b.id)
        .collect())
}

// ---------------------------------------------------------------------------------- seed

#[derive(Deserialize)]
struct ShippedMinute {
    body: String,
    number: Option<i64>,
    title: String,
    held_on: String,
    place: String,
    time_from: Option<String>,
    time_to: Option<String>,
    objectives: Vec<String>,
    agenda: Vec<String>,
    development: Vec<String>,
    annexes: Vec<String>,
    attendance: Option<Vec<Attendee>>,
    endorsement: Option<String>,
    source: Option<String>,
    agreements: Vec<ShippedAgreement>,
}

#[derive(Deserialize)]
struct ShippedAgreement {
    text: String,
    owner: Option<String>,
    due_on: Option<String>,
    note: Option<String>,
}

/// The shipped bodies, read from `data/governance/instancias.csv`.
pub fn shipped_bodies() -> Result<Vec<Body>> {
    let mut r = csv::Reader::from_reader(BODIES_CSV.as_bytes());
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.map_err(Error::internal)?;
        let col = |i: usize| row.get(i).unwrap_or("").trim().to_string();
        let opt = |i: usize| Some(col(i)).filter(|s| !s.is_empty());
        out.push(Body {
            id: 0,
            code: col(0),
            name: col(1),
            kind: col(2),
            level: col(3),
            territory: col(4),
            parent_code: opt(5),
            installed_on: opt(6),
            source: col(7),
        });
    }
    Ok(out)
}

/// Loads the shipped bodies and the example minute, once (re-running adds nothing): how many
/// bodies were new, and whether the minute was.
pub fn seed(store: &mut dyn Store) -> Result<(u64, bool)> {
    let bodies = sg::seed_bodies(&mut store.db(), &shipped_bodies()?)?;
    let m: ShippedMinute = serde_json::from_str(MINUTE_JSON).map_err(Error::internal)?;
    let Some(body) = sg::body_by_code(&mut store.db(), &m.body)? else {
        return Err(Error::internal(format!(
            "la minuta de ejemplo es de una instancia que no existe: {}",
            m.body
        )));
    };
    let at = crate::clock::now_rfc3339();
    let by = "datos incluidos (data/governance)";
    let meeting = Meeting {
        body_id: body.id,
        number: m.number,
        title: m.title,
        held_on: m.held_on,
        place: m.place,
        time_from: m.time_from,
        time_to: m.time_to,
        objectives: m.objectives,
        agenda: m.agenda,
        development: m.development,
        annexes: m.annexes,
        attendance: m.attendance,
        endorsement: m.endorsement,
        source: m.source,
        recorded_by: by.into(),
        recorded_at: at.clone(),
        agreements: m
            .agreements
            .into_iter()
            .enumerate()
            .map(|(i, a)| Agreement {
                position: i as i64 + 1,
                text: a.text,
                owner: a.owner,
                due_on: a.due_on,
                status: "pendiente".into(),
                status_note: a.note,
                updated_by: by.into(),
                updated_at: at.clone(),
                ..Agreement::default()
            })
            .collect(),
        ..Meeting::default()
    };
    let new = sg::insert_meeting(&mut store.db(), &meeting)?.is_some();
    Ok((bodies, new))
}

// -------------------------------------------------------------------------------- bodies

/// A body as listed: with its members' count, meetings, open and overdue agreements.
#[derive(Debug, Clone, Serialize)]
pub struct BodyView {
    #[serde(flatten)]
    pub body: Body,
    pub kind_label: String,
    pub territory_name: String,
    pub installed_on_es: Option<String>,
    pub members: usize,
    pub meetings: usize,
    pub last_meeting: Option<String>,
    pub open_agreements: usize,
    pub overdue_agreements: usize,
}

fn view(b: Body, members: usize, meetings: &[Meeting], agreements: &[Agreement]) -> BodyView {
    let today = crate::clock::today().to_string();
    let mine: Vec<&Agreement> = agreements
        .iter()
        .filter(|a| a.body_id == b.id && open(&a.status))
        .collect();
    let territory_name = crate::registry::parse_territory(Some(&b.territory))
        .map(|t| Territory::official().name_of(t))
        .unwrap_or_default();
    BodyView {
        kind_label: kind_label(&b.kind).to_string(),
        territory_name,
        installed_on_es: b.installed_on.as_deref().map(crate::clock::date_es),
        members,
        meetings: meetings.iter().filter(|m| m.body_id == b.id).count(),
        last_meeting: meetings
            .iter()
            .filter(|m| m.body_id == b.id)
            .map(|m| m.held_on.clone())
            .max(),
        open_agreements: mine.len(),
        overdue_agreements: mine
            .iter()
            .filter(|a| a.due_on.as_ref().is_some_and(|d| *d < today))
            .count(),
        body: b,
    }
}

/// Every body, with its figures (`gobernanza:leer`; audited).
pub fn bodies(store: &mut dyn Store, actor: &Actor) -> Result<Vec<BodyView>> {
    actor.require(Permission::GovernanceRead)?;
    let all: Vec<Body> = sg::bodies(&mut store.db())?
        .into_iter()
        .filter(|b| readable(actor, b))
        .collect();
    let meetings = sg::meetings(&mut store.db(), None)?;
    let agreements = sg::agreements(
        &mut store.db(),
        &AgreementFilter {
            open: true,
            ..AgreementFilter::default()
        },
    )?;
    let mut out = Vec::with_capacity(all.len());
    for b in all {
        let members = sg::members(&mut store.db(), b.id)?.len();
        out.push(view(b, members, &meetings, &agreements));
    }
    actor.audit(store, "listar", "instancias", "", PURPOSE, "ok")?;
    Ok(out)
}

/// A body whole: its figures, members, meetings (newest first) and open agreements.
#[derive(Debug, Clone, Serialize)]
pub struct BodyDetail {
    #[serde(flatten)]
    pub view: BodyView,
    pub members_list: Vec<Member>,
    pub meetings_list: Vec<Meeting>,
    pub open: Vec<AgreementView>,
}

fn find_body(store: &mut dyn Store, actor: &Actor, code: &str, action: &str) -> Result<Body> {
    actor.require(Permission::GovernanceRead)?;
    match sg::body_by_code(&mut store.db(), code.trim())? {
        Some(b) if readable(actor, &b) => Ok(b),
        _ => {
            let shown: String = code.chars().take(40).collect();
            actor.audit(store, action, "instancia", &shown, PURPOSE, "no encontrada")?;
            Err(Error::not_found(format!(
                "no existe la instancia «{shown}»"
            )))
        }
    }
}

/// Body `code` (or number) whole (audited).
pub fn body(store: &mut dyn Store, actor: &Actor, code: &str) -> Result<BodyDetail> {
    let b = find_body(store, actor, code, "leer")?;
    let members = sg::members(&mut store.db(), b.id)?;
    let meetings = sg::meetings(&mut store.db(), Some(b.id))?;
    let agreements = sg::agreements(
        &mut store.db(),
        &AgreementFilter {
            body_id: Some(b.id),
            open: true,
            ..AgreementFilter::default()
        },
    )?;
    actor.audit(store, "leer", "instancia", &b.code, PURPOSE, "ok")?;
    let names = body_names(store)?;
    let open = agreements
        .iter()
        .map(|a| agreement_view(a, &names))
        .collect();
    let view = view(b, members.len(), &meetings, &agreements);
    Ok(BodyDetail {
        view,
        members_list: members,
        meetings_list: meetings,
        open,
    })
}

/// Adds member `m` to body `code` (`gobernanza:registrar` within the body's territory).
pub fn add_member(store: &mut dyn Store, actor: &Actor, code: &str, m: &Member) -> Result<i64> {
    let b = find_body(store, actor, code, "agregar miembro")?;
    require_record(store, actor, &b, "agregar miembro")?;
    let name = bounded(&m.name, "nombre", 1, 200)?;
    let institution = bounded(&m.institution, "institución", 1, 200)?;
    let role = bounded(&m.role, "rol en la instancia", 1, 120)?;
    let since = opt_date(m.since.as_deref(), "miembro desde")?;
    let account = match m
        .account
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        Some(a) => Some(existing_account(store, a, "cuenta")?),
        None => None,
    };
    let id = sg::add_member(
        &mut store.db(),
        &Member {
            body_id: b.id,
            name,
            institution,
            role,
            account,
            since,
            until: None,
            id: 0,
        },
    )?;
    actor.audit(
        store,
        "agregar miembro",
        "instancia",
        &b.code,
        PURPOSE,
        &format!("ok: miembro {id}"),
    )?;
    Ok(id)
}

/// An account named to be notified must exist: a typo would silently notify nobody.
fn existing_account(store: &mut dyn Store, name: &str, what: &str) -> Result<String> {
    let name = bounded(name, what, 1, 120)?;
    if vamos_store::accounts::user_by_name(&mut store.db(), &name)?.is_none() {
        return Err(Error::bad_request(format!(
            "{what}: no hay una cuenta «{}» en Vamos",
            name.chars().take(40).collect::<String>()
        )));
    }
    Ok(name)
}

/// Ends member `member_id`'s membership of body `code` on `until` (`gobernanza:registrar`
/// within the body's territory): from then on the member is listed as former and its account
/// is no longer notified of the body's overdue agreements.
pub fn end_member(
    store: &mut dyn Store,
    actor: &Actor,
    code: &str,
    member_id: i64,
    until: &str,
) -> Result<()> {
    let b = find_body(store, actor, code, "terminar membresía")?;
    require_record(store, actor, &b, "terminar membresía")?;
    let until = crate::clock::parse_date(until, "miembro hasta")?.to_string();
    if !sg::end_member(&mut store.db(), b.id, member_id, &until)? {
        return Err(Error::not_found(format!(
            "{} no tiene un miembro vigente número {member_id}",
            b.name
        )));
    }
    actor.audit(
        store,
        "terminar membresía",
        "instancia",
        &b.code,
        PURPOSE,
        &format!("ok: miembro {member_id} hasta {until}"),
    )?;
    Ok(())
}

fn bounded(s: &str, what: &str, min: usize, max: usize) -> Result<String> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(Error::bad_request(format!(
            "{what}: de {min} a {max} caracteres (tiene {n})"
        )));
    }
    Ok(t.to_string())
}

/// An optional text as typed: trimmed, empty as absent, at most `max` characters.
pub(crate) fn opt_text(v: Option<&str>, what: &str, max: usize) -> Result<Option<String>> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| bounded(s, what, 1, max))
        .transpose()
}

/// An optional date as typed (`dd/mm/aaaa` or ISO), stored ISO.
pub(crate) fn opt_date(s: Option<&str>, what: &str) -> Result<Option<String>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Ok(Some(crate::clock::parse_date(s, what)?.to_string())),
    }
}

fn body_names(store: &mut dyn Store) -> Result<std::collections::HashMap<i64, (String, String)>> {
    Ok(sg::bodies(&mut store.db())?
        .into_iter()
        .map(|b| (b.id, (b.code, b.name)))
        .collect())
}

// ------------------------------------------------------------------------------ meetings

/// A meeting as recorded by a member (dates `dd/mm/aaaa` or ISO).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct MeetingInput {
    pub body: String,
    #[serde(default)]
    pub number: Option<i64>,
    pub title: String,
    pub held_on: String,
    pub place: String,
    #[serde(default)]
    pub time_from: Option<String>,
    #[serde(default)]
    pub time_to: Option<String>,
    #[serde(default)]
    pub objectives: Vec<String>,
    #[serde(default)]
    pub agenda: Vec<String>,
    #[serde(default)]
    pub development: Vec<String>,
    #[serde(default)]
    pub annexes: Vec<String>,
    /// `None`: attendance not recorded.
    #[serde(default)]
    pub attendance: Option<Vec<Attendee>>,
    #[serde(default)]
    pub agreements: Vec<AgreementInput>,
}

/// An agreement as written in a meeting.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct AgreementInput {
    pub text: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub owner_account: Option<String>,
    #[serde(default)]
    pub due_on: Option<String>,
    #[serde(default)]
    pub link_kind: Option<String>,
    #[serde(default)]
    pub link_ref: Option<String>,
}

/// Upper bounds of a minute: what a two-hour meeting writes, with room.
const MAX_ITEMS: usize = 50;
const MAX_TEXT: usize = 4000;

fn texts(items: &[String], what: &str) -> Result<Vec<String>> {
    if items.len() > MAX_ITEMS {
        return Err(Error::bad_request(format!(
            "{what}: como mucho {MAX_ITEMS} puntos"
        )));
    }
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| bounded(s, what, 1, MAX_TEXT))
        .collect()
}

fn time(s: Option<&str>, what: &str) -> Result<Option<String>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => chrono::NaiveTime::parse_from_str(t, "%H:%M")
            .map(|x| Some(x.format("%H:%M").to_string()))
            .map_err(|_| {
                Error::bad_request(format!(
                    "{what}: hora inválida «{}» (hh:mm)",
                    t.chars().take(10).collect::<String>()
                ))
            }),
    }
}

/// Checks the link of an agreement or a priority: the kind known, and what it names exists —
/// a case or a change request within `actor`'s scope (else the same refusal as a missing one).
fn check_link(
    store: &mut dyn Store,
    actor: &Actor,
    kind: Option<&str>,
    reference: Option<&str>,
) -> Result<(Option<String>, Option<String>)> {
    let kind = kind.map(str::trim).filter(|s| !s.is_empty());
    let reference = reference.map(str::trim).filter(|s| !s.is_empty());
    let (kind, reference) = match (kind, reference) {
        (None, None) => return Ok((None, None)),
        (Some(k), Some(r)) => (k, bounded(r, "vínculo", 1, 60)?),
        _ => {
            return Err(Error::bad_request(
                "un vínculo necesita su tipo y su referencia",
            ))
        }
    };
    let missing = || {
        Error::bad_request(format!(
            "vínculo: no existe {} «{reference}» (o está fuera de su ámbito)",
            LINK_KINDS
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or("", |(_, l)| *l)
        ))
    };
    match kind {
        "caso" | "solicitud" => {
            let id: i64 = reference.parse().map_err(|_| missing())?;
            let found = if kind == "caso" {
                crate::cases::visible(store, actor, id, "vincular acuerdo").map(|_| ())
            } else {
                crate::changes::visible(store, actor, id, "vincular acuerdo").map(|_| ())
            };
            match found {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind,
                        crate::error::ErrorKind::NotFound | crate::error::ErrorKind::Forbidden
                    ) =>
                {
                    return Err(missing())
                }
                Err(e) => return Err(e),
            }
        }
        "meta" | "ae" => {
            // Targets are read with the Logros, strategic actions with the plans.
            actor.require(if kind == "meta" {
                Permission::LogrosRead
            } else {
                Permission::PlansRead
            })?;
            if !sg::link_exists(&mut store.db(), kind, &reference)? {
                return Err(missing());
            }
        }
        other => {
            return Err(Error::bad_request(format!(
                "vínculo: tipo desconocido «{}» (caso, meta, ae o solicitud)",
                other.chars().take(20).collect::<String>()
            )))
        }
    }
    Ok((Some(kind.to_string()), Some(reference)))
}

/// The checks of a minute that need nothing but the minute and the day (what the fuzz target
/// exercises): dates, times, lengths and counts, each refusal naming its field. The accounts and
/// links it carries come back trimmed, still to be checked against the database.
#[allow(clippy::too_many_lines)] // reason: one rule per part of the minute
pub fn checked_minute(m: &MeetingInput, today: NaiveDate) -> Result<Meeting> {
    let held = crate::clock::parse_date(&m.held_on, "fecha de la reunión")?;
    if held > today {
        return Err(Error::bad_request(
            "fecha de la reunión: todavía no ocurrió (registre la minuta después de la reunión)",
        ));
    }
    if m.agreements.len() > MAX_ITEMS {
        return Err(Error::bad_request(format!(
            "como mucho {MAX_ITEMS} acuerdos por reunión"
        )));
    }
    let attendance = match &m.attendance {
        None => None,
        Some(list) if list.len() > 500 => {
            return Err(Error::bad_request("asistencia: como mucho 500 personas"))
        }
        Some(list) => Some(
            list.iter()
                .filter(|a| !a.name.trim().is_empty())
                .map(|a| {
                    Ok(Attendee {
                        name: bounded(&a.name, "asistente", 1, 200)?,
                        institution: a.institution.trim().chars().take(200).collect(),
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let mut agreements = Vec::new();
    for (i, a) in m.agreements.iter().enumerate() {
        let n = i + 1;
        if a.text.trim().is_empty() {
            continue;
        }
        agreements.push(Agreement {
            position: agreements.len() as i64 + 1,
            text: bounded(&a.text, &format!("acuerdo {n}"), 1, MAX_TEXT)?,
            owner: opt_text(
                a.owner.as_deref(),
                &format!("responsable del acuerdo {n}"),
                200,
            )?,
            owner_account: opt_text(
                a.owner_account.as_deref(),
                &format!("cuenta del responsable del acuerdo {n}"),
                120,
            )?,
            due_on: opt_date(a.due_on.as_deref(), &format!("fecha del acuerdo {n}"))?,
            status: "pendiente".into(),
            link_kind: opt_text(a.link_kind.as_deref(), "vínculo", 20)?,
            link_ref: opt_text(a.link_ref.as_deref(), "vínculo", 60)?,
            ..Agreement::default()
        });
    }
    Ok(Meeting {
        number: m.number,
        title: bounded(&m.title, "título", 1, 300)?,
        held_on: held.to_string(),
        place: bounded(&m.place, "lugar", 1, 300)?,
        time_from: time(m.time_from.as_deref(), "hora de inicio")?,
        time_to: time(m.time_to.as_deref(), "hora de fin")?,
        objectives: texts(&m.objectives, "objetivos")?,
        agenda: texts(&m.agenda, "temas")?,
        development: texts(&m.development, "desarrollo")?,
        annexes: texts(&m.annexes, "anexos")?,
        attendance,
        agreements,
        ..Meeting::default()
    })
}

/// Records a meeting with its minute and agreements (`gobernanza:registrar` within the body's
/// territory); its number. The same body, date and title twice is refused (a re-sent form
/// records nothing).
pub fn record_meeting(store: &mut dyn Store, actor: &Actor, m: &MeetingInput) -> Result<i64> {
    let b = find_body(store, actor, &m.body, "registrar reunión")?;
    require_record(store, actor, &b, "registrar reunión")?;
    let mut meeting = checked_minute(m, crate::clock::today())?;
    let at = crate::clock::now_rfc3339();
    meeting.body_id = b.id;
    meeting.recorded_by.clone_from(&actor.name);
    meeting.recorded_at.clone_from(&at);
    // What only the database can say: the accounts to notify exist, the links point at
    // something the recorder may see.
    for a in &mut meeting.agreements {
        let n = a.position;
        if let Some(acc) = a.owner_account.take() {
            let acc = existing_account(
                store,
                &acc,
                &format!("cuenta del responsable del acuerdo {n}"),
            )?;
            if a.owner.is_none() {
                a.owner = Some(acc.clone());
            }
            a.owner_account = Some(acc);
        }
        let (k, r) = check_link(store, actor, a.link_kind.as_deref(), a.link_ref.as_deref())?;
        a.link_kind = k;
        a.link_ref = r;
        a.updated_by.clone_from(&actor.name);
        a.updated_at.clone_from(&at);
    }
    let Some(id) = sg::insert_meeting(&mut store.db(), &meeting)? else {
        actor.audit(
            store,
            "registrar reunión",
            "instancia",
            &b.code,
            PURPOSE,
            "rechazada: ya registrada",
        )?;
        return Err(Error::conflict(format!(
            "{} ya tiene registrada una reunión del {} con ese título",
            b.name,
            crate::clock::date_es(&meeting.held_on)
        )));
    };
    actor.audit(
        store,
        "registrar reunión",
        "reunión",
        &id.to_string(),
        PURPOSE,
        &format!("ok: {} acuerdos", meeting.agreements.len()),
    )?;
    Ok(id)
}

/// A meeting as listed.
#[derive(Debug, Clone, Serialize)]
pub struct MeetingRow {
    pub id: i64,
    pub body: String,
    pub body_name: String,
    pub number: Option<i64>,
    pub title: String,
    pub held_on: String,
    pub held_on_es: String,
    pub place: String,
    pub imported: bool,
}

/// The meetings of body `code` (every body when `None`), newest first (audited).
pub fn meetings(
    store: &mut dyn Store,
    actor: &Actor,
    code: Option<&str>,
) -> Result<Vec<MeetingRow>> {
    let body_id = match code.map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) => Some(find_body(store, actor, c, "listar reuniones")?.id),
        None => {
            actor.require(Permission::GovernanceRead)?;
            None
        }
    };
    let names = body_names(store)?;
    let ids = readable_ids(store, actor)?;
    let rows = sg::meetings(&mut store.db(), body_id)?
        .into_iter()
        .filter(|m| ids.contains(&m.body_id))
        .map(|m| {
            let (code, name) = names.get(&m.body_id).cloned().unwrap_or_default();
            MeetingRow {
                id: m.id,
                body: code,
                body_name: name,
                number: m.number,
                held_on_es: crate::clock::date_es(&m.held_on),
                held_on: m.held_on,
                title: m.title,
                place: m.place,
                imported: m.source.is_some(),
            }
        })
        .collect();
    actor.audit(
        store,
        "listar",
        "reuniones",
        code.unwrap_or(""),
        PURPOSE,
        "ok",
    )?;
    Ok(rows)
}

/// A meeting whole: its minute, its agreements and those carried over from the body's earlier
/// meetings (still open when it met, or still open now).
#[derive(Debug, Clone, Serialize)]
pub struct MeetingDetail {
    #[serde(flatten)]
    pub meeting: Meeting,
    pub body: Body,
    pub held_on_es: String,
    pub agreements_view: Vec<AgreementView>,
    pub carried: Vec<AgreementView>,
}

/// Meeting `id` whole (audited; a missing one and one of no body are the same refusal).
pub fn meeting(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<MeetingDetail> {
    actor.require(Permission::GovernanceRead)?;
    let Some(m) = sg::meeting(&mut store.db(), id)? else {
        actor.audit(
            store,
            "leer",
            "reunión",
            &id.to_string(),
            PURPOSE,
            "no encontrada",
        )?;
        return Err(Error::not_found(format!("no existe la reunión {id}")));
    };
    let Some(body) = sg::bodies(&mut store.db())?
        .into_iter()
        .find(|b| b.id == m.body_id && readable(actor, b))
    else {
        actor.audit(
            store,
            "leer",
            "reunión",
            &id.to_string(),
            PURPOSE,
            "no encontrada o fuera de su ámbito",
        )?;
        return Err(Error::not_found(format!("no existe la reunión {id}")));
    };
    let earlier = sg::agreements(
        &mut store.db(),
        &AgreementFilter {
            body_id: Some(m.body_id),
            agreed_before: Some(m.held_on.clone()),
            ..AgreementFilter::default()
        },
    )?;
    let names = body_names(store)?;
    let carried = earlier
        .iter()
        // Closed after the meeting: it was still open when the body met.
        .filter(|a| open(&a.status) || a.closed_on.as_ref().is_some_and(|c| *c > m.held_on))
        .map(|a| agreement_view(a, &names))
        .collect();
    let agreements_view = m
        .agreements
        .iter()
        .map(|a| agreement_view(a, &names))
        .collect();
    actor.audit(store, "leer", "reunión", &id.to_string(), PURPOSE, "ok")?;
    Ok(MeetingDetail {
        held_on_es: crate::clock::date_es(&m.held_on),
        meeting: m,
        body,
        agreements_view,
        carried,
    })
}

// ---------------------------------------------------------------------------- agreements

/// An agreement as shown: with its body, labels and whether it is overdue.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementView {
    #[serde(flatten)]
    pub agreement: Agreement,
    pub body: String,
    pub body_name: String,
    pub status_label: String,
    pub due_on_es: Option<String>,
    pub held_on_es: String,
    /// Open and past its due date.
    pub overdue: bool,
    pub days_overdue: Option<i64>,
}

fn agreement_view(
    a: &Agreement,
    names: &std::collections::HashMap<i64, (String, String)>,
) -> AgreementView {
    let today = crate::clock::today();
    let due = a
        .due_on
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let overdue = open(&a.status) && due.is_some_and(|d| d < today);
    let (body, body_name) = names.get(&a.body_id).cloned().unwrap_or_default();
    AgreementView {
        body,
        body_name,
        status_label: status_label(&a.status).to_string(),
        due_on_es: a.due_on.as_deref().map(crate::clock::date_es),
        held_on_es: crate::clock::date_es(&a.held_on),
        overdue,
        days_overdue: due.filter(|_| overdue).map(|d| (today - d).num_days()),
        agreement: a.clone(),
    }
}

/// Which agreements to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AgreementQuery {
    /// A body's code.
    pub body: Option<String>,
    /// `abiertos` (default), `vencidos` or `todos`.
    pub state: Option<String>,
}

/// The agreements `q` selects (audited).
pub fn agreements(
    store: &mut dyn Store,
    actor: &Actor,
    q: &AgreementQuery,
) -> Result<Vec<AgreementView>> {
    let body_id = match q.body.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) => Some(find_body(store, actor, c, "listar acuerdos")?.id),
        None => {
            actor.require(Permission::GovernanceRead)?;
            None
        }
    };
    let today = crate::clock::today().to_string();
    let mut f = AgreementFilter {
        body_id,
        ..AgreementFilter::default()
    };
    match q.state.as_deref().unwrap_or("abiertos") {
        "abiertos" => f.open = true,
        "vencidos" => f.due_before = Some(today),
        "todos" => {}
        other => {
            return Err(Error::bad_request(format!(
                "estado: «{}» no es abiertos, vencidos ni todos",
                other.chars().take(20).collect::<String>()
            )))
        }
    }
    let names = body_names(store)?;
    let ids = readable_ids(store, actor)?;
    let rows = sg::agreements(&mut store.db(), &f)?
        .iter()
        .filter(|a| ids.contains(&a.body_id))
        .map(|a| agreement_view(a, &names))
        .collect();
    actor.audit(
        store,
        "listar",
        "acuerdos",
        q.body.as_deref().unwrap_or(""),
        PURPOSE,
        "ok",
    )?;
    Ok(rows)
}

/// A change to an agreement: its status with a note, and optionally its owner, date and link.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct AgreementUpdate {
    pub status: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub owner_account: Option<String>,
    #[serde(default)]
    pub due_on: Option<String>,
    #[serde(default)]
    pub link_kind: Option<String>,
    #[serde(default)]
    pub link_ref: Option<String>,
}

/// Updates agreement `id` (`gobernanza:registrar` within its body's territory); the agreement
/// as it now stands.
pub fn update_agreement(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    u: &AgreementUpdate,
) -> Result<AgreementView> {
    actor.require(Permission::GovernanceRead)?;
    let Some(mut a) = sg::agreement(&mut store.db(), id)? else {
        actor.audit(
            store,
            "actualizar",
            "acuerdo",
            &id.to_string(),
            PURPOSE,
            "no encontrado",
        )?;
        return Err(Error::not_found(format!("no existe el acuerdo {id}")));
    };
    let Some(b) = sg::bodies(&mut store.db())?
        .into_iter()
        .find(|b| b.id == a.body_id && readable(actor, b))
    else {
        actor.audit(
            store,
            "actualizar",
            "acuerdo",
            &id.to_string(),
            PURPOSE,
            "no encontrado o fuera de su ámbito",
        )?;
        return Err(Error::not_found(format!("no existe el acuerdo {id}")));
    };
    require_record(store, actor, &b, "actualizar acuerdo")?;
    if !STATUSES.iter().any(|(c, _)| *c == u.status) {
        return Err(Error::bad_request(format!(
            "estado: «{}» no es pendiente, en_curso, cumplido ni cancelado",
            u.status.chars().take(20).collect::<String>()
        )));
    }
    let today = crate::clock::today().to_string();
    a.closed_on = match (open(&a.status), open(&u.status)) {
        (true, false) => Some(today),
        (_, true) => None,
        (false, false) => a.closed_on,
    };
    a.status = u.status.clone();
    if let Some(n) = u.note.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        a.status_note = Some(bounded(n, "nota", 1, MAX_TEXT)?);
    }
    if let Some(o) = u.owner.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        a.owner = Some(bounded(o, "responsable", 1, 200)?);
    }
    if let Some(o) = u
        .owner_account
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        a.owner_account = Some(existing_account(store, o, "cuenta del responsable")?);
    }
    if let Some(d) = opt_date(u.due_on.as_deref(), "fecha")? {
        a.due_on = Some(d);
    }
    if u.link_kind.is_some() || u.link_ref.is_some() {
        let (k, r) = check_link(store, actor, u.link_kind.as_deref(), u.link_ref.as_deref())?;
        a.link_kind = k;
        a.link_ref = r;
    }
    a.updated_by = actor.name.clone();
    a.updated_at = crate::clock::now_rfc3339();
    sg::update_agreement(&mut store.db(), &a)?;
    actor.audit(
        store,
        "actualizar acuerdo",
        "acuerdo",
        &id.to_string(),
        PURPOSE,
        &format!("ok: {}", a.status),
    )?;
    let names = body_names(store)?;
    Ok(agreement_view(&a, &names))
}

// ------------------------------------------------------------------------- notifications

/// An overdue agreement the account should act on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Notice {
    pub agreement_id: i64,
    pub meeting_id: i64,
    /// `acuerdo_propio` (its owner is the account) or `acuerdo_instancia` (of a body it sits in).
    pub kind: String,
    pub body_name: String,
    pub due_on_es: String,
    /// The agreement's first 80 characters.
    pub excerpt: String,
    pub text: String,
}

/// How many overdue agreements are read at most for the notices.
const NOTICE_LIMIT: i64 = 50;

/// The overdue agreements of `actor`: those whose owner is its account and those of the
/// bodies it sits in (as a current member with that account). Empty without an account or
/// without `gobernanza:leer`. Not audited, as Canal Verde's notices are not: it shows the
/// account what it owns or sits in — an excerpt, the body and the date — and every agreement
/// it points to is read (and audited) when opened.
pub fn notifications(store: &mut dyn Store, actor: &Actor) -> Result<Vec<Notice>> {
    let Some(account) = actor.account() else {
        return Ok(Vec::new());
    };
    if !actor.can(Permission::GovernanceRead) {
        return Ok(Vec::new());
    }
    let bodies = sg::bodies_of_account(&mut store.db(), account)?;
    let rows = sg::agreements(
        &mut store.db(),
        &AgreementFilter {
            due_before: Some(crate::clock::today().to_string()),
            concerning: Some((bodies, account.to_string())),
            limit: Some(NOTICE_LIMIT),
            ..AgreementFilter::default()
        },
    )?;
    let names = body_names(store)?;
    Ok(rows
        .iter()
        .map(|a| {
            let v = agreement_view(a, &names);
            let mine = a.owner_account.as_deref() == Some(account);
            let excerpt = format!(
                "{}{}",
                a.text.chars().take(80).collect::<String>(),
                if a.text.chars().count() > 80 {
                    "…"
                } else {
                    ""
                }
            );
            let due_on_es = v.due_on_es.unwrap_or_default();
            Notice {
                agreement_id: a.id,
                meeting_id: a.meeting_id,
                kind: if mine {
                    "acuerdo_propio"
                } else {
                    "acuerdo_instancia"
                }
                .into(),
                text: format!(
                    "Acuerdo vencido{} ({}, vencía el {due_on_es}): «{excerpt}»",
                    if mine { " a su cargo" } else { "" },
                    v.body_name,
                ),
                body_name: v.body_name,
                due_on_es,
                excerpt,
            }
        })
        .collect())
}

// --------------------------------------------------------------------------------- minute

/// Meeting `id`'s minute as a PDF in the structure of the real one (`002_*`): heading, date,
/// place and time, objectives, agenda, development, agreements and next steps (with owner,
/// date and status), the items carried over, attendance and endorsement, annexes — without
/// any official insignia. Audited as a read.
pub fn minutes_pdf(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Vec<u8>> {
    let d = meeting(store, actor, id)?;
    let m = &d.meeting;
    let mut doc = crate::pdf::Doc::new(
        &format!("Minuta — {} — {}", d.body.name, d.held_on_es),
        &format!("{} · Minuta del {} · Vamos", d.body.name, d.held_on_es),
    );
    doc.paragraph("Sistema de Protección Social ¡Vamos!");
    if let Some(n) = m.number {
        doc.heading(&format!("Minuta {n}"), 2);
    }
    doc.heading(&m.title, 1);
    let time = match (&m.time_from, &m.time_to) {
        (Some(a), Some(b)) => format!("{a} a {b} hs."),
        (Some(a), None) => format!("{a} hs."),
        _ => "no registrada".into(),
    };
    doc.key_values(&[
        ("Instancia".into(), d.body.name.clone()),
        ("Fecha".into(), d.held_on_es.clone()),
        ("Lugar".into(), m.place.clone()),
        ("Hora".into(), time),
    ]);
    for (title, items) in [
        ("OBJETIVOS", &m.objectives),
        ("TEMAS", &m.agenda),
        ("DESARROLLO", &m.development),
    ] {
        doc.heading(title, 3);
        if items.is_empty() {
            doc.paragraph("(la minuta no registra este apartado)");
        } else if title == "OBJETIVOS" {
            doc.bullets(items);
        } else {
            doc.numbered(items);
        }
    }
    doc.heading("ACUERDOS Y SIGUIENTES PASOS", 3);
    agreements_table(&mut doc, &d.agreements_view);
    if !d.carried.is_empty() {
        doc.heading("PENDIENTES DE REUNIONES ANTERIORES", 3);
        agreements_table(&mut doc, &d.carried);
    }
    doc.heading("ASISTENCIA", 3);
    match &m.attendance {
        None => doc.paragraph("La minuta no registra la lista de asistentes."),
        Some(list) if list.is_empty() => doc.paragraph("Sin asistentes registrados."),
        Some(list) => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|a| vec![a.name.clone(), a.institution.clone()])
                .collect();
            doc.table(
                &["Nombre".into(), "Institución".into()],
                &rows,
                &[0.55, 0.45],
            );
        }
    }
    if let Some(e) = &m.endorsement {
        doc.paragraph(e);
    }
    if !m.annexes.is_empty() {
        doc.heading("ANEXOS", 3);
        doc.bullets(&m.annexes);
    }
    if let Some(s) = &m.source {
        doc.spacer(8.0);
        doc.paragraph(&format!("Fuente: {s}"));
    }
    Ok(doc.finish())
}

fn agreements_table(doc: &mut crate::pdf::Doc, list: &[AgreementView]) {
    if list.is_empty() {
        doc.paragraph("Sin acuerdos registrados.");
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.agreement.position.to_string(),
                a.agreement.text.clone(),
                a.agreement
                    .owner
                    .clone()
                    .unwrap_or_else(|| "La minuta no lo nombra".into()),
                a.due_on_es.clone().unwrap_or_else(|| "Sin fecha".into()),
                if a.overdue {
                    format!("{} (vencido)", a.status_label)
                } else {
                    a.status_label.clone()
                },
            ]
        })
        .collect();
    doc.table(
        &[
            "N.º".into(),
            "Acuerdo".into(),
            "Responsable".into(),
            "Fecha".into(),
            "Estado".into(),
        ],
        &rows,
        &[0.06, 0.5, 0.2, 0.12, 0.12],
    );
}

/// The agreements `q` selects as CSV (BOM for spreadsheets; every cell neutralised against
/// formulas — an agreement's text is free text typed by anyone who records a meeting).
pub fn agreements_csv(store: &mut dyn Store, actor: &Actor, q: &AgreementQuery) -> Result<Vec<u8>> {
    let rows = agreements(store, actor, q)?;
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    let csv = |e: csv::Error| Error::internal(e);
    w.write_record([
        "acuerdo",
        "instancia",
        "reunion",
        "fecha_reunion",
        "texto",
        "responsable",
        "fecha_compromiso",
        "estado",
        "vencido",
        "vinculo",
        "nota",
    ])
    .map_err(csv)?;
    for a in &rows {
        let x = &a.agreement;
        w.write_record([
            x.id.to_string(),
            a.body_name.clone(),
            x.meeting_id.to_string(),
            a.held_on_es.clone(),
            x.text.clone(),
            x.owner.clone().unwrap_or_default(),
            a.due_on_es.clone().unwrap_or_default(),
            a.status_label.clone(),
            if a.overdue { "sí" } else { "no" }.to_string(),
            match (&x.link_kind, &x.link_ref) {
                (Some(k), Some(r)) => format!("{k}:{r}"),
                _ => String::new(),
            },
            x.status_note.clone().unwrap_or_default(),
        ])
        .map_err(csv)?;
    }
    w.into_inner().map_err(Error::internal)
}
