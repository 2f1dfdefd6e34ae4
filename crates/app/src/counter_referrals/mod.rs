//! Counter-referrals (*contrarreferencias*), shared by the command line and the HTTP API:
//! checking each event (validation, the sender's institution and scope, idempotency), storing
//! them and answering their referrals, and keeping the latest measurement's Logros up to date
//! with them incrementally. The server's single writer and intake log are in [`intake`].
//!
//! Neither prints nor reads the clock: dates and the caller arrive as parameters.

pub mod intake;
pub mod misses;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use vamos_catalogue::Catalogue;
use vamos_domain::limits::{self, Limit};
use vamos_domain::{DistrictCode, EvidenceSource, NationalId, Scope, TerritoryCode};
use vamos_engine::classify::EventReach;
use vamos_engine::logros::{apply_change, measure_units, DistrictLogros, UnitSet};
use vamos_engine::RegistryData;
use vamos_ingest::counter_referrals::Located;
use vamos_store::counter_referrals::{AnswerMap, NewCounterReferral, Outcome, PersonPlace};
use vamos_store::places::PersonPlaces;
use vamos_store::Store;

use crate::measurements::FormVocabulary;
use crate::referrals::*;

#[derive(Debug, Clone)]
pub struct Sender {
    /// As written in the audit trail and in `received_by`.
    pub actor: String,
    /// The institution the caller belongs to: its events must be of this institution. `None`
    /// (an administrator loading a file) takes each event's `institucion`.
    pub institution: Option<String>,
    /// Persons reported must live inside this scope.
    pub scope: Scope,
    /// `api`, `lote`, `archivo` (an upload) or `linea_de_comandos`.
    pub channel: String,
}

/// The sender of counter-referrals `actor` is, on `channel`, for a submission of `events`:
/// refused unless the account may send them and belongs to an institution (administrators
/// load any institution's events; everyone else only their own), and above [`MAX_EVENTS`].
pub fn sender_for(actor: &crate::Actor, channel: &str, events: usize) -> crate::Result<Sender> {
    use vamos_domain::{Permission, Role};
    actor.require(Permission::CounterReferralsWrite)?;
    let admin = actor.role == Some(Role::Administrador);
    if !admin && actor.institution.is_none() {
        return Err(crate::Error::forbidden(
            "su cuenta no pertenece a una institución",
        ));
    }
    if events > MAX_EVENTS {
        return Err(crate::Error::new(
            crate::ErrorKind::TooLarge,
            "demasiados_eventos",
            format!("a lo sumo {MAX_EVENTS} eventos por envío"),
        ));
    }
    Ok(Sender {
        actor: actor.name.clone(),
        institution: if admin {
            None
        } else {
            Some(actor.institution.clone().unwrap_or_default())
        },
        scope: actor.scope.clone(),
        channel: channel.to_string(),
    })
}

/// One rejected event: where, which field, which value, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    pub file: String,
    pub row: u64,
    pub event_id: Option<String>,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// The outcome of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventResult {
    pub row: u64,
    pub event_id: Option<String>,
    /// `aceptado`, `duplicado` or `rechazado`.
    pub status: &'static str,
    pub counter_referral_id: Option<i64>,
    /// The referral this event answered, if any.
    pub referral_id: Option<i64>,
}

/// What [`ingest`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub received: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Accepted events that answered an open (or expired) referral.
    pub answered_referrals: u64,
    /// Accepted events for persons without an open referral (active search).
    pub without_referral: u64,
    /// Accepted events stored in the server's intake log (under load): durable, and applied
    /// moments later — the referral they answer, the person's status and the Logros then
    /// change; their `referral_id` is not known in this answer (neither counted in
    /// `answered_referrals` nor in `without_referral`).
    pub deferred: u64,
    pub errors: Vec<EventError>,
    pub results: Vec<EventResult>,
}

impl IngestSummary {
    /// The audit record's subject: the counter-referral ids stored or recognised, compacted.
    pub fn audit_subject(&self) -> String {
        let ids: Vec<i64> = self
            .results
            .iter()
            .filter_map(|r| r.counter_referral_id)
            .collect();
        subject_text(&ids)
    }

    /// The audit record's outcome: how many accepted, duplicated, rejected.
    pub fn audit_outcome(&self) -> String {
        outcome_text(self.accepted, self.duplicates, self.rejected)
    }
}

/// The subject of a submission's audit record: the counter-referrals it stored or recognised,
/// or that it stored none (never empty).
fn subject_text(ids: &[i64]) -> String {
    if ids.is_empty() {
        "ninguna contra-referencia guardada".into()
    } else {
        crate::referrals::summary_ids(ids)
    }
}

/// Persons listed in an audit record's note of those not found in scope; a submission naming
/// more (refused by [`misses::MissLimit`] unless the limit was raised that far) records the
/// rest by count.
const MISSES_LISTED: usize = 1000;

/// What an audit record adds about the persons named that were not found within the sender's
/// scope: the cédulas and SIIS numbers tried (empty when none).
pub fn misses_note(misses: &BTreeSet<String>) -> String {
    if misses.is_empty() {
        return String::new();
    }
    let listed: Vec<&str> = misses
        .iter()
        .take(MISSES_LISTED)
        .map(String::as_str)
        .collect();
    let more = misses.len().saturating_sub(MISSES_LISTED);
    let tail = if more > 0 {
        format!(" y {more} más")
    } else {
        String::new()
    };
    format!(
        "; {} sin persona registrada en su ámbito: {}{tail}",
        misses.len(),
        listed.join(", ")
    )
}

fn outcome_text(accepted: u64, duplicates: u64, rejected: u64) -> String {
    format!("ok: {accepted} aceptadas, {duplicates} duplicadas, {rejected} rechazadas")
}

/// Most events in one request or file (larger files: split them); the file reader stops one
/// event past it.
pub use vamos_ingest::counter_referrals::MAX_EVENTS;

/// The catalogue's counter-referral codes, computed once: which referral services an
/// institution's event code answers, and the catalogue service codes that stand for an event
/// code.
pub struct Codes {
    pub answers: AnswerMap,
    aliases: HashMap<(String, String), String>,
}

impl Codes {
    pub fn new(c: &Catalogue) -> Codes {
        Codes {
            answers: answer_map(c),
            aliases: catalogue_aliases(c),
        }
    }
}

/// An event to store, with its row and file.
pub type Fresh = (u64, String, NewCounterReferral);

/// Events checked by [`check`]: the outcome of those already settled (rejected, repeated
/// within the submission) and the ones to store.
pub struct Checked {
    sum: IngestSummary,
    errors: Vec<EventError>,
    /// Each event to store, with its row and file.
    fresh: Vec<Fresh>,
    /// The events to store as lines of the intake log ([`Checked::encode_for_log`]).
    log_lines: Option<String>,
    /// The persons named that are not registered within the sender's scope (`cédula N`,
    /// `persona N`): counted against [`misses::MissLimit`] and written in the audit record.
    misses: BTreeSet<String>,
}

impl Checked {
    /// Takes the events to store out, to be stored without a copy (then [`finish_with`]).
    pub fn take_fresh(&mut self) -> Vec<Fresh> {
        std::mem::take(&mut self.fresh)
    }

    /// Encodes the events to store as lines of the server's intake log, here (on the thread
    /// that checked them) rather than on the single writer: it logs them as given if all of
    /// them prove new.
    pub fn encode_for_log(&mut self) {
        let mut lines = String::with_capacity(self.fresh.len() * 128);
        vamos_store::intake_log::push_events(&mut lines, self.fresh.iter().map(|(_, _, e)| e));
        self.log_lines = Some(lines);
    }

    /// Takes the lines made by [`Checked::encode_for_log`] out.
    pub fn take_log_lines(&mut self) -> Option<String> {
        self.log_lines.take()
    }

    /// The audit record's subject and outcome once `outcomes` (of `fresh`, taken out by
    /// [`Checked::take_fresh`]) are known: as [`IngestSummary::audit_subject`] and
    /// [`IngestSummary::audit_outcome`] of the summary [`finish_with`] makes, without making
    /// it (the server's writer fills the record in; the request makes the summary).
    pub fn audit_fields(&self, fresh: &[Fresh], outcomes: &[Outcome]) -> (String, String) {
        let (mut accepted, mut duplicates) = (self.sum.accepted, self.sum.duplicates);
        let mut rejected = self
            .sum
            .results
            .iter()
            .filter(|r| r.status == "rechazado")
            .count() as u64;
        // The ids in row order, as the summary's results list them.
        let mut ids: Vec<(u64, i64)> = Vec::with_capacity(outcomes.len());
        for ((row, _, _), o) in fresh.iter().zip(outcomes) {
            match *o {
                Outcome::Stored { id, .. } | Outcome::Logged { id } => {
                    accepted += 1;
                    ids.push((*row, id));
                }
                Outcome::Duplicate { id } => {
                    duplicates += 1;
                    ids.push((*row, id));
                }
                Outcome::Conflict => rejected += 1,
            }
        }
        if !ids.is_sorted_by_key(|x| x.0) {
            ids.sort_by_key(|x| x.0);
        }
        let ids: Vec<i64> = ids.into_iter().map(|x| x.1).collect();
        (
            subject_text(&ids),
            outcome_text(accepted, duplicates, rejected) + &misses_note(&self.misses),
        )
    }

    /// The persons named that are not registered within the sender's scope.
    pub fn misses(&self) -> &BTreeSet<String> {
        &self.misses
    }

    /// How many events are to be stored.
    pub fn fresh_len(&self) -> usize {
        self.fresh.len()
    }
}

/// Counter-referrals read from a file by the command line (`vamos counter-referrals import`),
/// loaded as `actor`: checked and stored as [`ingest`] does — a load of the whole country,
/// each event of the institution it names — with the permission the API asks for sending them,
/// and recorded in the audit trail with the file (`source`).
pub fn import_file(
    store: &mut dyn Store,
    actor: &crate::Actor,
    catalogue: &Catalogue,
    events: Vec<Located>,
    source: &str,
    today: NaiveDate,
    at: &str,
) -> anyhow::Result<IngestSummary> {
    // The operator of the command line loads the whole country, each event of the institution
    // it names; an account (`--as`) sends as the API lets it: its institution, its scope.
    let sender = if actor.operator {
        Sender {
            actor: actor.name.clone(),
            institution: None,
            scope: Scope::National,
            channel: "linea_de_comandos".into(),
        }
    } else {
        sender_for(actor, "linea_de_comandos", events.len())?
    };
    let (summary, note) = ingest_noting(store, catalogue, events, &sender, today, at)?;
    actor.audit(
        store,
        "importar contra-referencias",
        "contra-referencias",
        &summary.audit_subject(),
        &format!("archivo {source}"),
        &(summary.audit_outcome() + &note),
    )?;
    Ok(summary)
}

/// Where every registered person lives, read for the server's counter-referral checks — unless
/// the copy held was read at registry state `held` and no import has committed since (then
/// `None`: the copy is still complete).
pub fn read_places(
    store: &mut dyn Store,
    held: Option<i64>,
) -> anyhow::Result<Option<PersonPlaces>> {
    if held.is_some()
        && held
            == Some(vamos_store::counter_referrals::registry_state(
                &mut store.db(),
            )?)
    {
        return Ok(None);
    }
    Ok(Some(PersonPlaces::load(&mut store.db())?))
}

/// Validates and stores counter-referrals: each invalid event is reported (file, row, column,
/// value, reason) and the valid ones are committed together; an event already received (same
/// institution and event id, same content) is a duplicate and changes nothing; the same id
/// with different content is rejected as a conflict.
pub fn ingest(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    events: Vec<Located>,
    sender: &Sender,
    today: NaiveDate,
    at: &str,
) -> anyhow::Result<IngestSummary> {
    ingest_noting(store, catalogue, events, sender, today, at).map(|(sum, _)| sum)
}

/// [`ingest`], with what the submission's audit record adds about the persons named that were
/// not found within the sender's scope ([`misses_note`]).
fn ingest_noting(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    events: Vec<Located>,
    sender: &Sender,
    today: NaiveDate,
    at: &str,
) -> anyhow::Result<(IngestSummary, String)> {
    let codes = Codes::new(catalogue);
    let mut checked = check(store, catalogue, &codes, events, sender, today, None)?;
    let note = misses_note(checked.misses());
    let fresh = checked.take_fresh();
    let rows: Vec<&NewCounterReferral> = fresh.iter().map(|(_, _, e)| e).collect();
    let outcomes = vamos_store::counter_referrals::insert_counter_referrals(
        &mut store.db(),
        &rows,
        &codes.answers,
        at,
    )?;
    Ok((finish_with(checked, &fresh, &outcomes), note))
}

/// An event whose shape, codes and dates passed the first pass of [`check`].
struct Valid {
    loc: Located,
    institution: String,
    key: String,
    person_id: Option<i64>,
    cedula: Option<i64>,
    service: String,
    date: NaiveDate,
    place_district: Option<i64>,
}

/// The result of an event refused (its reasons are in the errors); its id repeated cut at
/// [`limits::ECHO`] characters, as every value an error repeats.
fn rejected(row: u64, event_id: Option<String>) -> EventResult {
    EventResult {
        row,
        event_id: event_id.map(|e| limits::echo(&e).into_owned()),
        status: "rechazado",
        counter_referral_id: None,
        referral_id: None,
    }
}

/// An error about one field of the event at `loc`; the value and the event id it repeats are
/// cut at [`limits::ECHO`] characters (a 20 MB field is refused, not sent back).
fn field_error(loc: &Located, column: &str, value: &str, reason: String) -> EventError {
    EventError {
        file: loc.file.clone(),
        row: loc.row,
        event_id: loc
            .event
            .event_id
            .as_deref()
            .map(|e| limits::echo(e).into_owned()),
        column: column.to_string(),
        value: limits::echo(value).into_owned(),
        reason,
    }
}

/// A problem when the text `value` of `column` is longer than `limit` allows.
fn too_long(
    loc: &Located,
    column: &str,
    value: Option<&str>,
    limit: Limit,
    problems: &mut Vec<EventError>,
) {
    if let (Some(v), Err(e)) = (value, limit.check_opt(value)) {
        problems.push(field_error(loc, column, v, e.to_string()));
    }
}

/// The catalogue event code a given service stands for, and whether the institution reports
/// it. A catalogue service code (as the referral names it) stands for its event code. The
/// previous event's answer is reused: a batch's events mostly share institution and service,
/// and a look-up builds owned keys. `last` is (institution, service given, code, reportable).
fn service_code(
    codes: &Codes,
    institution: &str,
    given: &str,
    last: &mut Option<(String, String, String, bool)>,
) -> (String, bool) {
    if let Some((i, g, code, ok)) = last.as_ref() {
        if i == institution && g == given {
            return (code.clone(), *ok);
        }
    }
    let mut code = given.to_string();
    if !codes
        .answers
        .contains_key(&(institution.to_string(), code.clone()))
    {
        if let Some(alias) = codes.aliases.get(&(institution.to_string(), code.clone())) {
            code = alias.clone();
        }
    }
    let ok = codes
        .answers
        .contains_key(&(institution.to_string(), code.clone()));
    *last = Some((institution.to_string(), given.to_string(), code.clone(), ok));
    (code, ok)
}

/// The delivery date: a real date, not in the future, not before 2000.
fn delivery_date(
    loc: &Located,
    today: NaiveDate,
    problems: &mut Vec<EventError>,
) -> Option<NaiveDate> {
    let raw = loc.event.delivered_on.clone().unwrap_or_default();
    let problem = |reason: String| field_error(loc, "fecha_entrega", &raw, reason);
    match vamos_ingest::dates::parse_date(&raw) {
        Ok(Some(d)) if d > today => {
            problems.push(problem(format!("fecha futura (hoy es {today})")));
            None
        }
        Ok(Some(d)) if d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(d) => {
            problems.push(problem("fecha anterior al año 2000".into()));
            None
        }
        Ok(Some(d)) => Some(d),
        Ok(None) => {
            problems.push(field_error(
                loc,
                "fecha_entrega",
                "",
                "falta la fecha de entrega del servicio".into(),
            ));
            None
        }
        Err(e) => {
            problems.push(problem(format!(
                "{} (use AAAA-MM-DD o dd/mm/aaaa)",
                e.message()
            )));
            None
        }
    }
}

/// The person named by the event: a SIIS number and/or a cédula, each well formed.
fn person_keys(loc: &Located, problems: &mut Vec<EventError>) -> (Option<i64>, Option<i64>) {
    let e = &loc.event;
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let person_id = given(&e.person_id).and_then(|s| match s.parse::<i64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            problems.push(field_error(
                loc,
                "persona_id",
                s,
                "el número de persona del SIIS debe ser un entero positivo".into(),
            ));
            None
        }
    });
    let cedula = given(&e.cedula).and_then(|s| match NationalId::parse_optional(s) {
        Ok(n) => n.map(|n| i64::from(n.get())),
        Err(x) => {
            problems.push(field_error(
                loc,
                "cedula",
                s,
                format!("cédula inválida: {x}"),
            ));
            None
        }
    });
    if person_id.is_none() && cedula.is_none() && e.person_id.is_none() && e.cedula.is_none() {
        problems.push(field_error(
            loc,
            "persona_id",
            "",
            "indique la persona: persona_id (SIIS) o cédula".into(),
        ));
    }
    (person_id, cedula)
}

/// The district of the place of delivery, when given (an INE `DDdd` code).
fn place_district(loc: &Located, problems: &mut Vec<EventError>) -> Option<i64> {
    let s = loc
        .event
        .place_district
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    match s
        .parse::<u16>()
        .ok()
        .and_then(|n| DistrictCode::from_number(n).ok())
    {
        Some(d) => Some(i64::from(d.get())),
        None => {
            problems.push(field_error(
                loc,
                "distrito_lugar",
                s,
                "código de distrito desconocido (DDdd del INE)".into(),
            ));
            None
        }
    }
}

/// The institution an event is of: the sender's own (another one named is refused), or the one
/// it names when the sender may load any (an administrator's file).
fn event_institution(
    loc: &Located,
    sender: &Sender,
    catalogue: &Catalogue,
    problems: &mut Vec<EventError>,
) -> String {
    let named = loc
        .event
        .institution
        .clone()
        .map(|s| s.trim().to_uppercase())
        .filter(|s| !s.is_empty());
    let institution = match (&sender.institution, named) {
        (Some(own), Some(n)) if *own != n => {
            problems.push(field_error(
                loc,
                "institucion",
                &n,
                format!(
                    "su cuenta es de {own}: no puede informar contra-referencias de otra institución"
                ),
            ));
            own.clone()
        }
        (Some(own), _) => own.clone(),
        (None, Some(n)) => n,
        (None, None) => {
            problems.push(field_error(
                loc,
                "institucion",
                "",
                "falta la institución que prestó el servicio".into(),
            ));
            String::new()
        }
    };
    if !institution.is_empty() && catalogue.institution(&institution).is_none() {
        problems.push(field_error(
            loc,
            "institucion",
            &institution,
            "institución desconocida en el catálogo".into(),
        ));
    }
    institution
}

/// The first pass of [`check`] over one event: shape, codes and dates. `Err` holds every
/// problem found.
fn validate_event(
    loc: Located,
    catalogue: &Catalogue,
    codes: &Codes,
    sender: &Sender,
    today: NaiveDate,
    last_service: &mut Option<(String, String, String, bool)>,
) -> Result<Valid, (EventResult, Vec<EventError>)> {
    let mut problems = Vec::new();
    let key = loc
        .event
        .event_id
        .clone()
        .unwrap_or_default()
        .trim()
        .to_string();
    if key.is_empty() {
        problems.push(field_error(
            &loc,
            "id_evento",
            "",
            "falta el identificador del evento de la institución (id_evento)".into(),
        ));
    } else {
        too_long(&loc, "id_evento", Some(&key), Limit::Code, &mut problems);
    }
    // The place of delivery is stored as sent and shown in pages and exports: refused when
    // longer than a place may be, like every stored text (`vamos_domain::limits`).
    too_long(
        &loc,
        "lugar",
        loc.event.place.as_deref(),
        Limit::Place,
        &mut problems,
    );
    let institution = event_institution(&loc, sender, catalogue, &mut problems);
    let given = loc.event.service.as_deref().unwrap_or_default().trim();
    let (service, answerable) = service_code(codes, &institution, given, last_service);
    if service.is_empty() {
        problems.push(field_error(
            &loc,
            "servicio",
            "",
            "falta el código del servicio prestado".into(),
        ));
    } else if !institution.is_empty() && !answerable {
        let known = reportable(catalogue, &institution);
        problems.push(field_error(
            &loc,
            "servicio",
            &service,
            if known.is_empty() {
                format!("el catálogo no prevé contra-referencias de {institution}")
            } else {
                format!(
                    "servicio desconocido para {institution}; códigos admitidos: {} (o el código del servicio en el catálogo, como en la referencia)",
                    known.join(", ")
                )
            },
        ));
    }
    let date = delivery_date(&loc, today, &mut problems);
    let (person_id, cedula) = person_keys(&loc, &mut problems);
    let place_district = place_district(&loc, &mut problems);
    match (problems.is_empty(), date) {
        (true, Some(date)) => Ok(Valid {
            loc,
            institution,
            key,
            person_id,
            cedula,
            service,
            date,
            place_district,
        }),
        _ => Err((rejected(loc.row, loc.event.event_id.clone()), problems)),
    }
}

/// The registered person within the sender's scope a valid event names, or why none: by SIIS
/// number (and then its cédula must agree), else by a cédula that names exactly one person.
/// `found` holds only persons in scope, so a person registered elsewhere is answered exactly as
/// one registered nowhere — same column, same value (the one sent), same reason, no id.
fn named_person(
    c: &Valid,
    (by_id, by_cedula): &vamos_store::counter_referrals::Located,
) -> Result<PersonPlace, (&'static str, String, String)> {
    let cedula = || c.loc.event.cedula.clone().unwrap_or_default();
    let by_ced = c.cedula.and_then(|n| by_cedula.get(&n)).map(Vec::as_slice);
    match (c.person_id, by_ced) {
        (Some(id), ced) => match by_id.get(&id) {
            None => Err((
                "persona_id",
                id.to_string(),
                NOT_IN_SCOPE_ID.into(),
            )),
            // A cédula given with the number must be that person's: anything else — another
            // person's, someone's outside the scope, nobody's — is answered alike (and counted
            // as a miss), so a known number cannot test whose a cédula is.
            Some(p)
                if c.cedula.is_some()
                    && !ced.is_some_and(|l| l.iter().any(|x| x.person_id == p.person_id)) =>
            {
                Err(("cedula", cedula(), NOT_IN_SCOPE_CEDULA.into()))
            }
            Some(p) => Ok(*p),
        },
        (None, Some([only])) => Ok(*only),
        (None, Some(_)) => Err((
            "cedula",
            cedula(),
            "la cédula corresponde a más de una persona registrada en su ámbito: indique persona_id".into(),
        )),
        (None, None) => Err(("cedula", cedula(), NOT_IN_SCOPE_CEDULA.into())),
    }
}

/// Why an event naming a SIIS number is rejected when nobody with it is registered within the
/// sender's scope (registered elsewhere or nowhere: the same words).
pub const NOT_IN_SCOPE_ID: &str =
    "no hay ninguna persona registrada con ese número dentro de su ámbito territorial";
/// Why an event naming a cédula is rejected when nobody with it is registered within the
/// sender's scope.
pub const NOT_IN_SCOPE_CEDULA: &str = "ninguna persona registrada dentro de su ámbito territorial tiene esa cédula (si vive en su ámbito, regístrela primero; el evento puede reenviarse con el mismo id)";

/// The reading half of [`ingest`]: validates the events (shape, codes, dates, persons,
/// scope) and repeats within the submission, without writing anything; events received
/// before are told apart when stored. Persons are looked up in `places` when given (the
/// server's copy in memory), otherwise in the database.
pub fn check(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    codes: &Codes,
    events: Vec<Located>,
    sender: &Sender,
    today: NaiveDate,
    places: Option<&PersonPlaces>,
) -> anyhow::Result<Checked> {
    let mut sum = IngestSummary {
        received: events.len() as u64,
        ..IngestSummary::default()
    };
    if events.len() > MAX_EVENTS {
        anyhow::bail!(
            "demasiados eventos en un envío: {} (máximo {MAX_EVENTS}); divídalos en varios",
            events.len()
        );
    }
    // First pass: shape, codes and dates; collect person keys.
    let mut checked: Vec<Valid> = Vec::new();
    let mut errors: Vec<EventError> = Vec::new();
    let mut last_service = None;
    for loc in events {
        match validate_event(loc, catalogue, codes, sender, today, &mut last_service) {
            Ok(v) => checked.push(v),
            Err((result, problems)) => {
                sum.results.push(result);
                errors.extend(problems);
            }
        }
    }
    // Second pass: persons, scope, duplicates (stored and within the batch).
    let ids: Vec<i64> = checked.iter().filter_map(|c| c.person_id).collect();
    let cedulas: Vec<i64> = checked.iter().filter_map(|c| c.cedula).collect();
    let mut found = match places {
        Some(p) => p.locate(&mut store.db(), &ids, &cedulas)?,
        None => vamos_store::counter_referrals::locate_persons(&mut store.db(), &ids, &cedulas)?,
    };
    // Only persons within the sender's scope exist for it: nothing below can tell a person
    // registered elsewhere from one registered nowhere.
    let in_scope = |p: &PersonPlace| {
        DistrictCode::from_stored(p.district_code).is_some_and(|d| sender.scope.contains(d))
    };
    found.0.retain(|_, p| in_scope(p));
    found.1.retain(|_, l| {
        l.retain(|p| in_scope(p));
        !l.is_empty()
    });
    let mut misses = BTreeSet::new();
    let mut batch_seen: HashMap<(String, String), String> = HashMap::new();
    let mut fresh: Vec<(u64, String, NewCounterReferral)> = Vec::new();
    for c in checked {
        let reject = |column: &str, value: String, reason: String| EventError {
            file: c.loc.file.clone(),
            row: c.loc.row,
            event_id: Some(c.key.clone()),
            column: column.to_string(),
            value,
            reason,
        };
        let person = match named_person(&c, &found) {
            Ok(p) => p,
            Err((column, value, reason)) => {
                if reason == NOT_IN_SCOPE_ID || reason == NOT_IN_SCOPE_CEDULA {
                    misses.insert(match column {
                        "cedula" => format!("cédula {}", c.cedula.unwrap_or_default()),
                        _ => format!("persona {}", c.person_id.unwrap_or_default()),
                    });
                }
                sum.results.push(rejected(c.loc.row, Some(c.key.clone())));
                errors.push(reject(column, value, reason));
                continue;
            }
        };
        let day = iso_date(c.date);
        let digest = event_digest(
            person.person_id,
            &c.service,
            &day,
            c.loc.event.place.as_deref().unwrap_or(""),
            c.place_district,
            &c.institution,
        );
        // Events received before are told apart by the writer (with the stored ones and
        // those of concurrent submissions); here only repeats within this submission.
        let k = (c.institution.clone(), c.key.clone());
        if let Some(d) = batch_seen.get(&k).cloned() {
            if d == digest {
                sum.duplicates += 1;
                sum.results.push(EventResult {
                    status: "duplicado",
                    ..rejected(c.loc.row, Some(c.key.clone()))
                });
            } else {
                sum.results.push(rejected(c.loc.row, Some(c.key.clone())));
                errors.push(reject("id_evento", c.key.clone(), CONFLICT.into()));
            }
            continue;
        }
        batch_seen.insert(k, digest.clone());
        fresh.push((
            c.loc.row,
            c.loc.file.clone(),
            NewCounterReferral {
                institution: c.institution,
                event_key: c.key,
                digest,
                person,
                service: c.service,
                delivered_on: day,
                place: c.loc.event.place.clone(),
                place_district: c.place_district,
                channel: sender.channel.clone(),
                received_by: sender.actor.clone(),
            },
        ));
    }
    Ok(Checked {
        sum,
        errors,
        fresh,
        log_lines: None,
        misses,
    })
}

/// The digest of an event's content (SHA-256 of its fields joined by U+001F, in hex): an
/// identical re-send is a duplicate, a different one with the same event id a conflict. Stored
/// with every counter-referral: the text must not change between versions.
fn event_digest(
    person: i64,
    service: &str,
    day: &str,
    place: &str,
    place_district: Option<i64>,
    institution: &str,
) -> String {
    let mut text = String::with_capacity(48 + service.len() + place.len() + institution.len());
    let district = place_district.map(|d| d.to_string());
    for (i, part) in [
        person.to_string().as_str(),
        service,
        day,
        place,
        district.as_deref().unwrap_or(""),
        institution,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            text.push('\u{1f}');
        }
        text.push_str(part);
    }
    vamos_store::audit::sha256_hex(&text)
}

/// A date as `AAAA-MM-DD`, as chrono writes it, without its formatting machinery (one per event
/// received).
fn iso_date(d: NaiveDate) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return d.to_string();
    }
    let mut out = String::with_capacity(10);
    for (n, width) in [(y as u32, 4), (m, 2), (day, 2)] {
        if width == 2 {
            out.push('-');
        }
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(p) % 10) as u8));
        }
    }
    out
}

/// The outcome of checked events once stored: `outcomes` are those of
/// [`vamos_store::counter_referrals::insert_counter_referrals`] for the events to store, in order.
pub fn finish(mut checked: Checked, outcomes: &[Outcome]) -> IngestSummary {
    let fresh = checked.take_fresh();
    finish_with(checked, &fresh, outcomes)
}

/// [`finish`] for events taken out of `checked` ([`Checked::take_fresh`]) to be stored without
/// a copy (the server's writer).
pub fn finish_with(checked: Checked, fresh: &[Fresh], outcomes: &[Outcome]) -> IngestSummary {
    let Checked {
        mut sum,
        mut errors,
        fresh: _,
        log_lines: _,
        misses: _,
    } = checked;
    for ((row, file, e), outcome) in fresh.iter().zip(outcomes) {
        let row = *row;
        let (status, id, referral) = match *outcome {
            Outcome::Stored { id, referral } => {
                sum.accepted += 1;
                if referral.is_some() {
                    sum.answered_referrals += 1;
                } else {
                    sum.without_referral += 1;
                }
                ("aceptado", Some(id), referral)
            }
            // Durable in the intake log; its referral is answered when the log is applied.
            Outcome::Logged { id } => {
                sum.accepted += 1;
                sum.deferred += 1;
                ("aceptado", Some(id), None)
            }
            // Received meanwhile from another submission (a concurrent re-send).
            Outcome::Duplicate { id } => {
                sum.duplicates += 1;
                ("duplicado", Some(id), None)
            }
            Outcome::Conflict => {
                errors.push(EventError {
                    file: file.clone(),
                    row,
                    event_id: Some(e.event_key.clone()),
                    column: "id_evento".into(),
                    value: e.event_key.clone(),
                    reason: CONFLICT.into(),
                });
                ("rechazado", None, None)
            }
        };
        sum.results.push(EventResult {
            row,
            event_id: Some(e.event_key.clone()),
            status,
            counter_referral_id: id,
            referral_id: referral,
        });
    }
    sum.rejected = sum
        .results
        .iter()
        .filter(|r| r.status == "rechazado")
        .count() as u64;
    sum.results.sort_by_key(|r| r.row);
    errors.sort_by_key(|e| e.row);
    sum.errors = errors;
    sum
}

const CONFLICT: &str = "ese id de evento ya se recibió con otros datos (conflicto): use un id nuevo para un evento distinto";

/// What [`update_logros`] did.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    pub measurement: i64,
    pub counter_referrals: i64,
    pub persons: u64,
    pub districts: Vec<String>,
    pub applied_through: i64,
    /// Whether the registry kept in memory ([`Resident`]) was used (else the affected districts
    /// were read from the database).
    pub resident: bool,
}

/// The registry the latest measurement counted, kept in memory by the server's Logros updater:
/// the persons, households and communities of the measured territory with their events,
/// counter-referrals up to `applied`. With it an update costs what the persons named cost —
/// measured, given their new events, measured again — instead of reading their districts
/// from the database each time. It stands for one measurement and one registry state (the
/// last import): a new measurement or an import makes it stale, and it is read again.
pub struct Resident {
    measurement: i64,
    registry_state: i64,
    applied: i64,
    data: RegistryData,
}

impl Resident {
    /// Reads the registry of the latest measurement (its territory, counter-referrals up to
    /// its watermark) on `readers` connections. `None` when there is no measurement to keep
    /// up to date, or when an import committed during the reading (read again later).
    pub fn load(
        store: &mut dyn Store,
        catalogue: &Catalogue,
        readers: usize,
    ) -> anyhow::Result<Option<Resident>> {
        let Some((m, _)) = store.measurement(None)? else {
            return Ok(None);
        };
        if m.catalogue_version != catalogue.version {
            return Ok(None);
        }
        let t = TerritoryCode::parse(&m.territory).map_err(|e| anyhow::anyhow!("{e}"))?;
        let state = vamos_store::counter_referrals::registry_state(&mut store.db())?;
        let applied = m.counter_referrals_applied_through;
        let mut data = RegistryData::new(&FormVocabulary);
        let as_of = NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")?;
        vamos_store::load_registry_parallel(
            store,
            t,
            &vamos_store::Reading::at(as_of),
            &mut data,
            readers,
            applied,
        )?;
        data.finish();
        if vamos_store::counter_referrals::registry_state(&mut store.db())? != state {
            return Ok(None);
        }
        Ok(Some(Resident {
            measurement: m.id,
            registry_state: state,
            applied,
            data,
        }))
    }

    /// Persons held.
    pub fn persons(&self) -> usize {
        self.data.persons()
    }
}

/// The units `named` events can move (see [`EventReach`]): each event's person, its household
/// and its community, each once, as far as a rule of that kind of unit names the event's
/// institution and service (a prenatal check moves a person's figures, never a community's).
fn units_of(
    data: &RegistryData,
    named: &[&vamos_store::counter_referrals::ReceivedEvent],
    reach: &EventReach,
) -> UnitSet {
    let (mut persons, mut households, mut places) =
        (HashSet::new(), HashSet::new(), HashSet::new());
    let mut set = UnitSet::default();
    for e in named {
        let Some(p) = data.person_by_id(e.person_id) else {
            continue;
        };
        let r = reach.of(e.source.as_deref(), &e.service);
        if r.person && persons.insert(p) {
            set.persons.push(p);
        }
        let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
        if r.household && households.insert(h) {
            set.households.push(h);
        }
        if let Some(&c) = data.household_community.get(h) {
            if r.community && places.insert(c as usize) {
                set.communities.push(c as usize);
            }
        }
    }
    set
}

/// The events of `received` as [`RegistryData::add_events`] takes them.
fn event_tuples<'a>(
    received: impl IntoIterator<Item = &'a vamos_store::counter_referrals::ReceivedEvent>,
) -> impl Iterator<Item = (i64, EvidenceSource<&'a str>, &'a str, NaiveDate)> {
    received.into_iter().map(|e| {
        (
            e.person_id,
            e.source.as_deref(),
            e.service.as_str(),
            e.delivered_on,
        )
    })
}

/// Per district: the persons named, the communities they live in and the events.
type Named<'a> = (
    HashSet<i64>,
    BTreeSet<i64>,
    Vec<&'a vamos_store::counter_referrals::ReceivedEvent>,
);

/// How [`update_logros`] measures a change: the units the `named` events can move, measured as
/// the stored figures counted them, then again with `events` added; the difference goes to the
/// stored district figures.
struct Remeasure<'a> {
    catalogue: &'a Catalogue,
    reach: EventReach,
    as_of: NaiveDate,
    /// The counter-referral date bound of the stored figures.
    before_until: NaiveDate,
    /// The bound once the new events count.
    after_until: NaiveDate,
}

impl Remeasure<'_> {
    fn apply(
        &self,
        data: &mut RegistryData,
        named: &[&vamos_store::counter_referrals::ReceivedEvent],
        events: &[&vamos_store::counter_referrals::ReceivedEvent],
        stored: &mut Vec<DistrictLogros>,
    ) -> crate::Result<()> {
        let set = units_of(data, named, &self.reach);
        // Poverty is decided once, for the households these units live in: events do not
        // change the answers it reads.
        let mut households: Vec<usize> = set
            .persons
            .iter()
            .map(|&p| data.person_household.get(p).copied().unwrap_or(0) as usize)
            .chain(set.households.iter().copied())
            .collect();
        households.sort_unstable();
        households.dedup();
        let (before, poverty) = {
            let cls = crate::ipm_method::classifier_among(
                self.catalogue,
                data,
                self.as_of,
                Some(&households),
            )?
            .with_counter_referrals_until(self.before_until);
            (measure_units(&cls, data, &set), cls.poverty.clone())
        };
        data.add_events(event_tuples(events.iter().copied()));
        let mut cls = vamos_engine::Classifier::new(self.catalogue, data, self.as_of)
            .with_counter_referrals_until(self.after_until);
        cls.poverty = poverty;
        let after = measure_units(&cls, data, &set);
        apply_change(stored, &before, &after);
        Ok(())
    }
}

/// [`update_logros`] without the registry in memory: per district touched, reads from the
/// database the registry as the stored figures counted it (counter-referrals up to `applied`) —
/// once, measured as it was, then again with the events received since.
fn remeasure_from_store(
    store: &mut dyn Store,
    remeasure: &Remeasure<'_>,
    districts: &[DistrictCode],
    by_district: &HashMap<i64, Named<'_>>,
    applied: i64,
    stored: &mut Vec<DistrictLogros>,
) -> anyhow::Result<()> {
    let community_counts = vamos_store::referrals::communities_per_district(&mut store.db())?;
    for code in districts {
        let Some((_, communities, events)) = by_district.get(&i64::from(code.get())) else {
            continue;
        };
        let communities: Vec<i64> = communities.iter().copied().collect();
        // Only the communities of these persons: their figures are all that can move. When
        // they are a good part of the district (a burst), the whole district is read instead:
        // in id order, that costs less than looking each one up.
        let whole = communities.len() * 3
            >= community_counts
                .get(&i64::from(code.get()))
                .copied()
                .unwrap_or(0) as usize;
        let mut data = RegistryData::new(&FormVocabulary);
        let at = vamos_store::Reading::at(remeasure.as_of);
        if whole {
            load_district(store, *code, &at, applied, &mut data)?;
        } else {
            store.load_communities(&communities, applied, &at, &mut data)?;
        }
        data.finish();
        remeasure.apply(&mut data, events, events, stored)?;
    }
    Ok(())
}

/// Applies the counter-referrals received since the latest measurement's watermark to its
/// Logros, incrementally: only the affected persons, their households and communities are
/// classified again (before and after the new events), and the difference is added to the
/// stored district figures. `None` when there is nothing to apply.
///
/// With a `resident` registry of the same measurement and registry state, the persons are
/// measured in memory; otherwise each affected district (or its affected communities) is read
/// from the database. A stale or unusable `resident` is dropped (left `None`) for the caller to
/// read again.
pub fn update_logros(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    today: NaiveDate,
    at: &str,
    resident: &mut Option<Resident>,
    places: Option<&PersonPlaces>,
) -> anyhow::Result<Option<UpdateReport>> {
    let Some((m, rows)) = store.measurement(None)? else {
        *resident = None;
        return Ok(None);
    };
    if m.catalogue_version != catalogue.version {
        *resident = None;
        return Ok(None);
    }
    let applied = m.counter_referrals_applied_through;
    let through = vamos_store::counter_referrals::last_counter_referral(&mut store.db())?;
    if through <= applied {
        return Ok(None);
    }
    let as_of = NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")?;
    // The figures stored so far count counter-referrals delivered up to this date.
    let before_until = crate::measurements::figures_until(&m)?;
    let measured = TerritoryCode::parse(&m.territory).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The memory copy must be of this measurement and this registry, and not ahead of it.
    if let Some(r) = resident.as_ref() {
        if r.measurement != m.id
            || r.applied > applied
            || r.registry_state != vamos_store::counter_referrals::registry_state(&mut store.db())?
        {
            *resident = None;
        }
    }
    // Planner statistics must follow counter-referrals as the table grows: the loads below join
    // it, and the ingestion looks event ids up in it (with statistics of the empty table, the
    // batches on PostgreSQL slowed by an order of magnitude; measured: BENCHMARKS.md, issue 5).
    vamos_store::sql::refresh_statistics_if_stale(&mut store.db(), "counter_referrals")?;
    let received = vamos_store::counter_referrals::counter_referral_events(
        &mut store.db(),
        applied,
        through,
        places,
    )?;
    // Per district, the persons named, the communities they live in and the events.
    let mut by_district: HashMap<i64, Named> = HashMap::new();
    for e in &received {
        let d = by_district.entry(e.district_code).or_default();
        d.0.insert(e.person_id);
        d.1.insert(e.community_id);
        d.2.push(e);
    }
    // A person lives in one district: the districts' sets add up to the persons named.
    let persons: usize = by_district.values().map(|d| d.0.len()).sum();
    let mut stored = stored_logros(&rows);
    let mut districts: Vec<i64> = by_district.keys().copied().collect();
    districts.sort_unstable();
    let districts: Vec<DistrictCode> = districts
        .into_iter()
        .filter_map(DistrictCode::from_stored)
        .filter(|code| measured.contains(*code))
        .collect();
    let touched: Vec<String> = districts.iter().map(ToString::to_string).collect();
    let remeasure = Remeasure {
        catalogue,
        reach: EventReach::new(catalogue),
        as_of,
        before_until,
        after_until: today.max(before_until),
    };
    // Taken out while in use: an error below leaves no half-updated copy behind.
    let in_memory = resident.take();
    let used_memory = in_memory.is_some();
    let kept = match in_memory {
        Some(mut r) => {
            // Counter-referrals another updater applied since the copy was read.
            if r.applied < applied {
                let missed = vamos_store::counter_referrals::counter_referral_events(
                    &mut store.db(),
                    r.applied,
                    applied,
                    places,
                )?;
                r.data.add_events(event_tuples(&missed));
            }
            let named: Vec<&vamos_store::counter_referrals::ReceivedEvent> = districts
                .iter()
                .filter_map(|d| by_district.get(&i64::from(d.get())))
                .flat_map(|d| d.2.iter().copied())
                .collect();
            let events: Vec<&vamos_store::counter_referrals::ReceivedEvent> =
                received.iter().collect();
            remeasure.apply(&mut r.data, &named, &events, &mut stored)?;
            r.applied = through;
            Some(r)
        }
        None => {
            remeasure_from_store(
                store,
                &remeasure,
                &districts,
                &by_district,
                applied,
                &mut stored,
            )?;
            None
        }
    };
    let out: Vec<(i64, String)> = stored
        .iter()
        .filter(|d| districts.contains(&d.district))
        .map(|d| {
            Ok((
                i64::from(d.district.get()),
                serde_json::to_string(&d.logros)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let saved = vamos_store::counter_referrals::save_progress(
        &mut store.db(),
        m.id,
        applied,
        through,
        &out,
        at,
    )?;
    if !saved {
        // Another updater moved first; the next round starts from its watermark (and the
        // memory copy, which holds events past it, is read again).
        return Ok(None);
    }
    *resident = kept;
    Ok(Some(UpdateReport {
        measurement: m.id,
        counter_referrals: through - applied,
        persons: persons as u64,
        districts: touched,
        applied_through: through,
        resident: used_memory,
    }))
}

/// A measurement's stored district figures (`(district, JSON)` rows) as Logros.
pub(crate) fn stored_logros(rows: &[(u16, String)]) -> Vec<DistrictLogros> {
    rows.iter()
        .filter_map(|(d, j)| {
            Some(DistrictLogros {
                district: DistrictCode::from_number(*d).ok()?,
                logros: serde_json::from_str(j).ok()?,
            })
        })
        .collect()
}

/// Reads district `d` at `at` into `data`: its units, its persons (within the district's id
/// range: an open range would read every person) and their events with the counter-referrals
/// up to `through`.
pub(crate) fn load_district(
    store: &mut dyn Store,
    d: DistrictCode,
    at: &vamos_store::Reading,
    through: i64,
    data: &mut RegistryData,
) -> anyhow::Result<()> {
    let t = TerritoryCode::District(d);
    store.load_part(t, vamos_store::LoadPart::Units, at, data)?;
    if let Some(ids) = store.person_id_bounds(t)? {
        store.load_part(t, vamos_store::LoadPart::Persons { ids }, at, data)?;
    }
    store.load_part(
        t,
        vamos_store::LoadPart::Events {
            counter_referrals_through: through,
        },
        at,
        data,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reaches_only_the_kinds_of_unit_whose_rules_name_it() {
        use vamos_domain::EvidenceSource::{Admin, CounterReferral};
        use vamos_engine::classify::Reach;
        let c = crate::measurements::load_catalogue(None).unwrap();
        let reach = EventReach::new(&c);
        let person = Reach {
            person: true,
            ..Reach::default()
        };
        // A prenatal check reported by the MSPBS: a person's service (its counter-referral rule and
        // its administrative-registry rule), never a household's or a community's.
        assert_eq!(
            reach.of(CounterReferral("MSPBS"), "control_prenatal"),
            person
        );
        assert_eq!(reach.of(Admin("MSPBS"), "control_prenatal"), person);
        // A health post opened: a community's service only.
        assert_eq!(
            reach.of(CounterReferral("MSPBS"), "habilitacion_usf"),
            Reach {
                community: true,
                ..Reach::default()
            }
        );
        // A water connection: a household's (counter-referral by SENASA, registry of ESSAP).
        let household = Reach {
            household: true,
            ..Reach::default()
        };
        assert_eq!(
            reach.of(CounterReferral("SENASA"), "conexion_agua"),
            household
        );
        assert_eq!(reach.of(Admin("ESSAP"), "conexion_agua"), household);
        // The channel keeps the two sources apart, and a service no rule names reaches nothing.
        assert_eq!(reach.of(Admin("SENASA"), "conexion_agua"), Reach::default());
        assert_eq!(
            reach.of(CounterReferral("ESSAP"), "conexion_agua"),
            Reach::default()
        );
        assert_eq!(
            reach.of(CounterReferral("MSPBS"), "servicio_inexistente"),
            Reach::default()
        );
    }

    #[test]
    fn the_writers_audit_fields_match_the_summary_of_the_request() {
        let event = |key: &str| NewCounterReferral {
            institution: "MSPBS".into(),
            event_key: key.into(),
            digest: "d".into(),
            person: vamos_store::counter_referrals::PersonPlace {
                person_id: 1,
                household_id: 1,
                community_id: 1,
                district_code: 1116,
            },
            service: "control_prenatal".into(),
            delivered_on: "2026-11-20".into(),
            place: None,
            place_district: None,
            channel: "api".into(),
            received_by: "op".into(),
        };
        let rejected = |row: u64, status: &'static str| EventResult {
            row,
            event_id: Some(format!("r{row}")),
            status,
            counter_referral_id: None,
            referral_id: None,
        };
        for n in [3_u64, 120] {
            // Rows 1 and 2 settled when checked (a rejected event and a repeat in the batch).
            let checked = || Checked {
                sum: IngestSummary {
                    received: n + 2,
                    duplicates: 1,
                    results: vec![rejected(1, "rechazado"), rejected(2, "duplicado")],
                    ..IngestSummary::default()
                },
                errors: Vec::new(),
                fresh: Vec::new(),
                log_lines: None,
                misses: BTreeSet::new(),
            };
            let fresh: Vec<Fresh> = (0..n)
                .map(|i| (i + 3, "solicitud".to_string(), event(&format!("e{i}"))))
                .collect();
            let outcomes: Vec<Outcome> = (0..n as i64)
                .map(|i| match i % 4 {
                    0 => Outcome::Logged { id: 100 + i },
                    1 => Outcome::Stored {
                        id: 100 + i,
                        referral: Some(7),
                    },
                    2 => Outcome::Duplicate { id: 50 + i },
                    _ => Outcome::Conflict,
                })
                .collect();
            let fields = checked().audit_fields(&fresh, &outcomes);
            let sum = finish_with(checked(), &fresh, &outcomes);
            assert_eq!(fields, (sum.audit_subject(), sum.audit_outcome()), "{n}");
            assert_eq!(sum.rejected, 1 + n / 4, "{n}");
        }
    }

    #[test]
    fn digests_and_dates_are_written_as_before() {
        let mut d = NaiveDate::from_ymd_opt(1999, 12, 25).unwrap();
        while d < NaiveDate::from_ymd_opt(2031, 1, 1).unwrap() {
            assert_eq!(iso_date(d), d.to_string());
            d = d.succ_opt().unwrap();
        }
        for d in [
            NaiveDate::from_ymd_opt(5, 1, 9).unwrap(),
            NaiveDate::from_ymd_opt(-5, 1, 9).unwrap(),
            NaiveDate::from_ymd_opt(12345, 1, 9).unwrap(),
        ] {
            assert_eq!(iso_date(d), d.to_string());
        }
        // The text the digest of every stored counter-referral was made of.
        for (place, district) in [
            ("", None),
            ("USF Villeta", Some(1116)),
            ("x\u{1f}y", Some(101)),
        ] {
            let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
            let before = vamos_store::audit::sha256_hex(&format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
                12345,
                "control_prenatal",
                day,
                place,
                district.map(|d: i64| d.to_string()).unwrap_or_default(),
                "MSPBS"
            ));
            assert_eq!(
                event_digest(
                    12345,
                    "control_prenatal",
                    &iso_date(day),
                    place,
                    district,
                    "MSPBS"
                ),
                before
            );
        }
    }
}
