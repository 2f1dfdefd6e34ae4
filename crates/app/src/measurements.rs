//! Protection status as JSON, shared by the command line and the HTTP API: the Logros of a
//! territory from a stored measurement, and a unit's explanation (per service: status and the
//! evidence that decided it).
//!
//! Both read the store and the catalogue and call the engine; neither prints nor audits — the
//! use case that finds the unit records who asked (`registry::locate_in_scope`,
//! `registry::locate_recorded`). Also the list of saved measurements.

use serde_json::{json, Value};
use vamos_catalogue::{Catalogue, EvidenceSource};
use vamos_domain::services::Category;
use vamos_domain::{DistrictCode, Territory, TerritoryCode};
use vamos_engine::logros::{roll_up, DistrictLogros, LogroCounts};
use vamos_engine::{Because, RegistryData, Status, Unit};
use vamos_ingest::forms::{form, FormId};
use vamos_store::{MeasurementRecord, Store, UnitKind};

pub use crate::vocabulary::FormVocabulary;

/// Loads the catalogue of `dir`, or the embedded default; errors listed one per line.
pub fn load_catalogue(dir: Option<&std::path::Path>) -> anyhow::Result<Catalogue> {
    let r = match dir {
        Some(d) => vamos_catalogue::load_dir(d, &FormVocabulary),
        None => vamos_catalogue::default_catalogue(&FormVocabulary),
    };
    r.map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        anyhow::anyhow!(
            "catálogo inválido ({} errores):\n{}",
            errors.len(),
            list.join("\n")
        )
    })
}

/// The counter-referral date bound of a measurement's figures (explanations and updates must
/// agree with them): the day of its last incremental update, or its reference date.
pub fn figures_until(
    measurement: &vamos_store::MeasurementRecord,
) -> anyhow::Result<chrono::NaiveDate> {
    let as_of = chrono::NaiveDate::parse_from_str(&measurement.as_of, "%Y-%m-%d")?;
    Ok(measurement
        .counter_referrals_updated_at
        .as_deref()
        .and_then(|s| s.get(..10))
        .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .map_or(as_of, |d| d.max(as_of)))
}

/// The registry of territory `t` read as measurement `m`'s figures stand — its reference date,
/// the registry as known now (approved changes refresh the figures with it) and the
/// counter-referrals its figures count — with the reference date and the day up to which
/// counter-referrals count ([`Classifier::with_counter_referrals_until`]). What lists and costs
/// behind a figure classify, so they agree with it.
pub fn registry_as_figures_stand(
    store: &mut dyn Store,
    m: &vamos_store::MeasurementRecord,
    t: TerritoryCode,
    readers: usize,
) -> anyhow::Result<(RegistryData, chrono::NaiveDate, chrono::NaiveDate)> {
    let as_of = chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")?;
    let until = figures_until(m)?;
    let mut data = RegistryData::new(&FormVocabulary);
    vamos_store::load_registry_parallel(
        store,
        t,
        &vamos_store::Reading::at(as_of),
        &mut data,
        readers,
        m.counter_referrals_applied_through,
    )?;
    data.finish();
    Ok((data, as_of, until))
}

/// A coverage ratio rounded to four decimals (`null` when nobody was identified).
pub fn coverage(protected: u64, identified: u64) -> Value {
    if identified == 0 {
        Value::Null
    } else {
        json!((protected as f64 / identified as f64 * 10000.0).round() / 10000.0)
    }
}

/// One Logro as JSON.
pub fn logro_json(l: &LogroCounts) -> Value {
    let cat = Category::parse(&l.category);
    json!({
        "logro": l.logro,
        "category": l.category,
        "label": cat.map(|c| c.label()),
        "identified": l.all.identified,
        "protected": l.all.protected,
        "coverage": coverage(l.all.protected, l.all.identified),
        "without_data": l.all.without_data,
        "breakdowns": l.breakdowns.iter().map(|(k, c)| (k.clone(), json!({"identified": c.identified, "protected": c.protected, "coverage": coverage(c.protected, c.identified), "without_data": c.without_data}))).collect::<serde_json::Map<_, _>>(),
        "services": l.services.iter().map(|s| json!({"service": s.service, "applicable": s.applicable, "protected": s.protected, "unprotected": s.unprotected, "without_data": s.without_data, "coverage": coverage(s.protected, s.applicable)})).collect::<Vec<_>>(),
    })
}

/// The saved measurements, newest first, each as the store lists it (id, as_of,
/// catalogue_version, catalogue_label, territory, synthetic, created_at): `GET /api/measurements`.
pub fn list(store: &mut dyn Store, actor: &crate::Actor) -> crate::Result<Vec<Value>> {
    actor.require(vamos_domain::Permission::LogrosRead)?;
    Ok(vamos_store::views::measurements(&mut store.db())?)
}

/// The saved measurements as [`list`] gives them, for a caller that has already checked
/// [`vamos_domain::Permission::LogrosRead`] (the dashboard's trend of internal figures).
pub fn saved(store: &mut dyn Store) -> crate::Result<Vec<Value>> {
    Ok(vamos_store::views::measurements(&mut store.db())?)
}

/// The published measurements, newest first (number, date, catalogue, territory, synthetic,
/// when published): no permission needed, they are what the public figures come from.
pub fn published(store: &mut dyn Store) -> crate::Result<Vec<Value>> {
    Ok(vamos_store::measurements::published_list(&mut store.db())?)
}

/// A published measurement with its figures as they were frozen when it was published.
pub struct PublishedFigures {
    pub measurement: MeasurementRecord,
    pub published_at: String,
    pub published_by: String,
    pub districts: Vec<DistrictLogros>,
    /// A digest of the frozen figures as stored, so that their suppression, computed once, can
    /// be reused (the suppression module keeps it by publication).
    pub fingerprint: u64,
}

/// The published measurement `measurement` (the latest published one when `None`) with its
/// frozen districts' Logros: the only source of the public figures, so that they never move
/// with the counter-referral updater. `None` when it is not published, or nothing is.
pub fn published_figures(
    store: &mut dyn Store,
    measurement: Option<i64>,
) -> crate::Result<Option<PublishedFigures>> {
    let Some(p) = vamos_store::measurements::published(&mut store.db(), measurement)? else {
        return Ok(None);
    };
    let fingerprint = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        p.districts.hash(&mut h);
        h.finish()
    };
    Ok(Some(PublishedFigures {
        measurement: p.measurement,
        published_at: p.publication.published_at,
        published_by: p.publication.published_by,
        districts: parse_districts(&p.districts),
        fingerprint,
    }))
}

/// Publishes measurement `id` as `actor` (who needs [`vamos_domain::Permission::MeasurementsPublish`]):
/// its figures as they stand now become the public figures, until a measurement is published
/// again. Audited, refused or not.
pub fn publish(
    store: &mut dyn Store,
    actor: &crate::Actor,
    id: i64,
) -> crate::Result<vamos_store::measurements::Publication> {
    const PURPOSE: &str = "publicación de cifras";
    let subject = id.to_string();
    if let Err(e) = actor.require(vamos_domain::Permission::MeasurementsPublish) {
        actor.audit(store, "publicar", "medición", &subject, PURPOSE, "denegado")?;
        return Err(e);
    }
    let at = crate::clock::now_rfc3339();
    let r = vamos_store::measurements::publish(&mut store.db(), id, &at, &actor.name);
    let outcome = match &r {
        Ok(Some(_)) => "ok: publicada".to_string(),
        Ok(None) => "no encontrada".to_string(),
        Err(e) => format!("error: {e}"),
    };
    actor.audit(store, "publicar", "medición", &subject, PURPOSE, &outcome)?;
    r?.ok_or_else(|| crate::Error::not_found(format!("medición {id} no encontrada")))
}

/// Whether `actor` may read territory `t`'s Logros without suppression: with
/// [`vamos_domain::Permission::LogrosRead`] and a scope that covers `t` (a district's Mesa: its
/// district; a department's coordinator: the department and its districts).
pub fn reads_unsuppressed(actor: &crate::Actor, t: TerritoryCode) -> bool {
    actor.can(vamos_domain::Permission::LogrosRead) && (actor.operator || actor.scope.covers(t))
}

/// The Logros of territory `t` without suppression (the latest measurement when `measurement`
/// is `None`), for `actor`, who needs [`vamos_domain::Permission::LogrosRead`] and whose
/// territorial scope must cover `t`: outside it small cells would identify persons the
/// account has no business with, and only the public (suppressed, published) figures apply.
pub fn logros_in_scope(
    store: &mut dyn Store,
    actor: &crate::Actor,
    measurement: Option<i64>,
    t: TerritoryCode,
) -> crate::Result<Option<(MeasurementRecord, Vec<LogroCounts>)>> {
    actor.require(vamos_domain::Permission::LogrosRead)?;
    if !reads_unsuppressed(actor, t) {
        return Err(crate::Error::forbidden(format!(
            "{} está fuera de su ámbito territorial: allí solo valen las cifras públicas (/api/public/logros)",
            Territory::official().name_of(t)
        )));
    }
    Ok(logros_of(store, measurement, t)?)
}

/// A stored measurement (the latest when `measurement` is `None`) with its districts' Logros.
pub fn measurement_districts(
    store: &mut dyn Store,
    measurement: Option<i64>,
) -> anyhow::Result<Option<(MeasurementRecord, Vec<DistrictLogros>)>> {
    let Some((m, rows)) = store.measurement(measurement)? else {
        return Ok(None);
    };
    Ok(Some((m, parse_districts(&rows))))
}

/// Districts' Logros as stored (district number, JSON).
fn parse_districts(rows: &[(u16, String)]) -> Vec<DistrictLogros> {
    rows.iter()
        .filter_map(|(d, j)| {
            Some(DistrictLogros {
                district: DistrictCode::from_number(*d).ok()?,
                logros: serde_json::from_str(j).ok()?,
            })
        })
        .collect()
}

/// A stored measurement's Logros rolled up to territory `t`: the measurement and the table.
pub fn logros_of(
    store: &mut dyn Store,
    measurement: Option<i64>,
    t: TerritoryCode,
) -> anyhow::Result<Option<(MeasurementRecord, Vec<LogroCounts>)>> {
    Ok(measurement_districts(store, measurement)?.map(|(m, d)| {
        let table = roll_up(&d, t);
        (m, table)
    }))
}

/// The JSON of [`logros_of`] (what `vamos logros --format json` prints).
pub fn logros_json(m: &MeasurementRecord, t: TerritoryCode, table: &[LogroCounts]) -> Value {
    json!({
        "measurement": {"id": m.id, "as_of": m.as_of, "catalogue_version": m.catalogue_version, "catalogue_label": m.catalogue_label, "synthetic": m.synthetic,
            "counter_referrals_applied_through": m.counter_referrals_applied_through, "counter_referrals_updated_at": m.counter_referrals_updated_at},
        "territory": territory_json(t),
        "logros": table.iter().map(logro_json).collect::<Vec<_>>(),
    })
}

/// A territory as `{code, name, level}`.
pub fn territory_json(t: TerritoryCode) -> Value {
    json!({"code": t.to_string(), "name": Territory::official().name_of(t), "level": t.level()})
}

/// Spanish name of a unit kind.
pub fn kind_es(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::Person => "persona",
        UnitKind::Household => "hogar",
        UnitKind::Community => "comunidad",
    }
}

/// Spanish name of a status.
pub fn status_es(s: Status) -> &'static str {
    match s {
        Status::Protegido => "protegido",
        Status::Desprotegido => "desprotegido",
        Status::NoAplica => "no aplica",
        Status::SinDato => "sin dato",
    }
}

/// Why a unit has the status it has, per category and service, at `as_of` (counter-referrals
/// delivered up to `counter_referrals_until` count, see
/// [`Classifier::with_counter_referrals_until`]). `id` and `district` are the located unit (see
/// [`Store::locate`]).
pub fn explain(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    kind: UnitKind,
    id: i64,
    district: DistrictCode,
    as_of: chrono::NaiveDate,
    counter_referrals_until: chrono::NaiveDate,
) -> anyhow::Result<Value> {
    // Only the unit's community (its households, members and evidence): a person of the
    // largest district is explained without reading the district. A unit that was in another
    // community at `as_of` (a household that moved since) is read with its whole district.
    let reading = vamos_store::Reading::at(as_of);
    if let Some(community) = community_of(store, kind, id)? {
        let mut data = RegistryData::new(&FormVocabulary);
        store.load_communities(&[community], i64::MAX, &reading, &mut data)?;
        data.finish();
        let found = match kind {
            UnitKind::Person => data.person_by_id(id).is_some(),
            UnitKind::Household => data.household_by_id(id).is_some(),
            UnitKind::Community => data.community_by_id(id).is_some(),
        };
        if found {
            return explain_in(
                &data,
                catalogue,
                kind,
                id,
                district,
                as_of,
                counter_referrals_until,
            );
        }
    }
    let mut data = RegistryData::new(&FormVocabulary);
    store.load_registry(TerritoryCode::District(district), &reading, &mut data)?;
    data.finish();
    explain_in(
        &data,
        catalogue,
        kind,
        id,
        district,
        as_of,
        counter_referrals_until,
    )
}

/// The community a unit belongs to now (a person: its household's), if it is registered.
pub(crate) fn community_of(
    store: &mut dyn Store,
    kind: UnitKind,
    id: i64,
) -> anyhow::Result<Option<i64>> {
    let household = match kind {
        UnitKind::Community => return Ok(Some(id)),
        UnitKind::Household => id,
        UnitKind::Person => match vamos_store::versions::person(&mut store.db(), id)? {
            Some((p, _)) => p.household_id,
            None => return Ok(None),
        },
    };
    Ok(vamos_store::versions::household(&mut store.db(), household)?.map(|(h, _)| h.community_id))
}

/// The registry of one community (its households, members and evidence) at `as_of`: what a
/// single household's page reads instead of its whole district.
pub fn community_data(
    store: &mut dyn Store,
    community: vamos_domain::CommunityId,
    as_of: chrono::NaiveDate,
) -> vamos_store::Result<RegistryData> {
    let mut data = RegistryData::new(&FormVocabulary);
    store.load_communities(
        &[community.get()],
        i64::MAX,
        &vamos_store::Reading::at(as_of),
        &mut data,
    )?;
    data.finish();
    Ok(data)
}

/// A household and each of its members explained, reading only the household's community
/// (its households, members and evidence) rather than the whole district: what a household
/// page needs, in one load. Returns the household's explanation and each member's, by id.
pub fn explain_household(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    household: vamos_domain::HouseholdId,
    community: vamos_domain::CommunityId,
    district: DistrictCode,
    as_of: chrono::NaiveDate,
    counter_referrals_until: chrono::NaiveDate,
) -> anyhow::Result<(Value, Vec<(i64, Value)>)> {
    let household = household.get();
    let data = community_data(store, community, as_of)?;
    let h = data
        .household_by_id(household)
        .ok_or_else(|| anyhow::anyhow!("hogar {household} fuera de su comunidad"))?;
    let whole = explain_in(
        &data,
        catalogue,
        UnitKind::Household,
        household,
        district,
        as_of,
        counter_referrals_until,
    )?;
    let mut members = Vec::new();
    for &p in data.members_of(h) {
        let Some(&id) = data.person_id.get(p as usize) else {
            continue;
        };
        let v = explain_in(
            &data,
            catalogue,
            UnitKind::Person,
            id,
            district,
            as_of,
            counter_referrals_until,
        )?;
        members.push((id, v));
    }
    Ok((whole, members))
}

/// A form's question without its `${campo}` references (the enumerator's screen fills them
/// with the member's name): "¿${nombres} está embarazada?" reads "¿La persona está embarazada?".
fn without_placeholders(label: &str) -> String {
    let mut parts = label.split("${");
    let mut out = parts.next().unwrap_or_default().to_string();
    for part in parts {
        match part.split_once('}') {
            Some((_, tail)) => {
                let start = out.is_empty() || out.ends_with('¿');
                out.push_str(if start { "La persona" } else { "la persona" });
                out.push_str(tail);
            }
            None => {
                out.push_str("${");
                out.push_str(part);
            }
        }
    }
    out
}

/// The answers a survey rule read for `unit`, each as (the question as asked, the answer in
/// words): choice codes by their label in the shipped form, `sin respuesta` for none.
fn recorded_answers(
    data: &RegistryData,
    unit: Unit,
    as_of: chrono::NaiveDate,
    poverty: &vamos_engine::classify::PovertyRule,
    rule: &vamos_catalogue::expr::Compiled,
) -> Vec<(String, String)> {
    use vamos_catalogue::expr::{Fact, Facts};
    use vamos_catalogue::vars::{self, Scope, VarType};
    let facts = vamos_engine::classify::UnitFacts::new(data, unit, as_of, poverty);
    let mut out = Vec::new();
    for var in rule.variables() {
        let Some(spec) = vars::variables(var.scope)
            .get(usize::from(var.index))
            .copied()
        else {
            continue;
        };
        let f = form(if var.scope == Scope::Community {
            FormId::Comunidad
        } else {
            FormId::Fips
        });
        let question = f
            .question_label(spec.name)
            .map_or_else(|| spec.name.replace('_', " "), without_placeholders);
        let value = match (facts.get(*var), spec.ty) {
            (Fact::Null, _) => "sin respuesta".to_string(),
            (Fact::Int(n), _) => n.to_string(),
            (Fact::Bool(b), _) => if b { "sí" } else { "no" }.to_string(),
            (Fact::Text(code), VarType::Text(Some(list))) => f
                .choice_label(list, code)
                .map_or_else(|| code.to_string(), str::to_string),
            (Fact::Text(t), _) => t.to_string(),
            (Fact::Bits(bits), VarType::Multi(list)) => {
                let codes = f.choice_list(list);
                let chosen: Vec<String> = codes
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
                    .map(|(_, c)| {
                        f.choice_label(list, c)
                            .map_or_else(|| (*c).to_string(), str::to_string)
                    })
                    .collect();
                if chosen.is_empty() {
                    "ninguna".to_string()
                } else {
                    chosen.join(", ")
                }
            }
            (Fact::Bits(_), _) => "—".to_string(),
        };
        if !out.iter().any(|(q, _): &(String, String)| *q == question) {
            out.push((question, value));
        }
    }
    out
}

/// [`explain`] over a registry already loaded (it must hold the unit).
#[allow(clippy::indexing_slicing)] // reason: serde_json::Value["key"] yields Null when absent, it cannot panic
pub fn explain_in(
    data: &RegistryData,
    catalogue: &Catalogue,
    kind: UnitKind,
    id: i64,
    district: DistrictCode,
    as_of: chrono::NaiveDate,
    counter_referrals_until: chrono::NaiveDate,
) -> anyhow::Result<Value> {
    let kind_es = kind_es(kind);
    let missing = || anyhow::anyhow!("{kind_es} {id} fuera del registro cargado");
    // One unit explained: poverty by the IPM is decided for its household only (a page shows
    // one unit; deciding the whole community's would cost it on every view).
    let household = match kind {
        UnitKind::Person => data
            .person_by_id(id)
            .and_then(|p| data.person_household.get(p))
            .map(|&h| h as usize),
        UnitKind::Household => data.household_by_id(id),
        UnitKind::Community => None,
    };
    let cls =
        crate::ipm_method::classifier_among(catalogue, data, as_of, Some(household.as_slice()))?
            .with_counter_referrals_until(counter_referrals_until);
    let (unit, categories) = match kind {
        UnitKind::Person => {
            let p = data.person_by_id(id).ok_or_else(missing)?;
            let mut cats = Vec::new();
            cls.person_categories(data, p, &mut cats);
            (Unit::Person(p), cats)
        }
        UnitKind::Household => (
            Unit::Household(data.household_by_id(id).ok_or_else(missing)?),
            vec![Category::Hogares],
        ),
        UnitKind::Community => (
            Unit::Community(data.community_by_id(id).ok_or_else(missing)?),
            vec![Category::Entorno],
        ),
    };
    let mut out = Vec::new();
    for c in &categories {
        let mut dec = Vec::new();
        cls.classify(data, unit, *c, &mut dec);
        let concurrent = cls.concurrent(&dec);
        let services: Vec<Value> = dec
            .iter()
            .filter_map(|d| {
                let s = catalogue.services.get(d.service)?;
                let evidence = match d.because {
                    Because::Rule { rule, day } => {
                        let r = s.evidence.get(rule)?;
                        let source = match &r.source {
                            EvidenceSource::Admin { institution, .. } => format!("registro administrativo ({institution})"),
                            EvidenceSource::CounterReferral { institution, .. } => format!("contra-referencia ({institution})"),
                            // A community's answers come from the Entorno survey.
                            EvidenceSource::Fips { .. } if matches!(unit, Unit::Community(_)) => "relevamiento del Entorno".to_string(),
                            EvidenceSource::Fips { .. } => "FIPS".to_string(),
                        };
                        let date = chrono::NaiveDate::default() + chrono::Days::new(day.max(0) as u64);
                        match &r.source {
                            // What the survey recorded and what it means, in words; the rule
                            // itself only as the technical detail.
                            EvidenceSource::Fips { rule } => {
                                let recorded = recorded_answers(data, unit, as_of, &cls.poverty, rule);
                                let who = if matches!(unit, Unit::Community(_)) { "El relevamiento del Entorno registra" } else { "La FIPS registra" };
                                let said = recorded.iter().map(|(q, v)| format!("{q}: {v}")).collect::<Vec<_>>().join("; ");
                                json!({"source": source, "date": date.to_string(),
                                       "detail": format!("{who}: {said} → {}", status_es(d.status)),
                                       "recorded": recorded.iter().map(|(q, v)| json!({"question": q, "value": v})).collect::<Vec<_>>(),
                                       "technical": format!("{} (regla: {})", r.description, rule.source())})
                            }
                            _ => json!({"source": source, "date": date.to_string(),
                                        "detail": format!("{} → {}", r.description, status_es(d.status)),
                                        "technical": r.description})
                        }
                    }
                    Because::NotEligible => json!({"source": "catálogo", "date": null, "detail": "no le corresponde: no cumple la condición del servicio (edad, sexo u otra)", "technical": format!("condición de elegibilidad: {}", s.eligibility.as_ref().map(|e| e.source()).unwrap_or(""))}),
                    Because::EligibilityUnknown => json!({"source": "catálogo", "date": null, "detail": "faltan datos para saber si el servicio le corresponde"}),
                    Because::NoEvidence => json!({"source": null, "date": null, "detail": "ninguna fuente de evidencia vigente (registros, contra-referencias o FIPS) permite decidir"}),
                };
                Some(json!({"service": s.code, "name": s.name, "institution": s.institution, "package": s.package.code(), "status": d.status, "evidence": evidence}))
            })
            .collect();
        out.push(json!({"category": c.code(), "logro": c.logro(), "concurrent": concurrent, "services": services}));
    }
    let first = out
        .first()
        .cloned()
        .unwrap_or(json!({"category": null, "concurrent": false, "services": []}));
    Ok(json!({
        "unit": {"kind": kind_es, "id": id, "district": district.to_string()},
        "as_of": as_of.to_string(),
        "catalogue_version": catalogue.version,
        "category": first["category"],
        "concurrent": first["concurrent"],
        "services": first["services"],
        "categories": out,
    }))
}

/// What a classification run saved (see [`classify_and_save`]).
pub struct Classified {
    pub id: i64,
    pub synthetic: bool,
    /// Districts measured.
    pub districts: usize,
    /// The moment of the registry read (UTC, RFC 3339), stored with the measurement.
    pub known_at: Option<String>,
    /// The nation and each department, rolled up from the districts.
    pub rolled: Vec<(TerritoryCode, Vec<LogroCounts>)>,
    pub persons: usize,
    pub households: usize,
    pub communities: usize,
    pub events: usize,
    pub load: std::time::Duration,
    pub evaluate: std::time::Duration,
    pub aggregate: std::time::Duration,
    /// Computing the multidimensional poverty index's cells.
    pub ipm: std::time::Duration,
    pub stored: std::time::Duration,
}

/// The moment a reading "as known now" records: the last whole second, once nothing the
/// registry learnt carries the current second — waiting for the next one if something does
/// (at most a second). Stamps have one-second resolution, so a reading known at the current
/// second could not tell what finished before it from what finished later in that second; at
/// the last whole second everything stamped up to it had committed when the reading began,
/// and the measurement is reproduced exactly by its `known_at`.
fn known_now(store: &mut dyn Store) -> crate::Result<chrono::DateTime<chrono::Utc>> {
    use chrono::{SubsecRound, Timelike};
    let second = |t: chrono::DateTime<chrono::Utc>| t.trunc_subsecs(0);
    let mut now = second(crate::clock::now());
    if let Some(last) = vamos_store::versions::latest_write(&mut store.db())? {
        let stamp =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if last >= stamp(now) {
            let wait =
                1_000_u64.saturating_sub(u64::from(crate::clock::now().nanosecond() / 1_000_000));
            std::thread::sleep(std::time::Duration::from_millis(wait + 1));
            now = second(crate::clock::now());
        }
    }
    Ok(now - chrono::Duration::seconds(1))
}

/// Classifies territory `t` as of `as_of` into a new measurement as `actor` (who needs the
/// permission to load the registry), and records it in the audit trail, failed or not.
/// `known_at`: read the registry as it was known then (`None`: as known now, and now is
/// recorded as the measurement's `known_at`, so it can always be reproduced).
#[allow(clippy::too_many_arguments)] // reason: each is one independent choice of the caller
pub fn classify_as(
    store: &mut dyn Store,
    actor: &crate::Actor,
    catalogue: &Catalogue,
    as_of: chrono::NaiveDate,
    known_at: Option<chrono::DateTime<chrono::Utc>>,
    t: TerritoryCode,
    readers: usize,
    purpose: &str,
) -> crate::Result<Classified> {
    actor.require(vamos_domain::Permission::RegistryLoad)?;
    let known_at = match known_at {
        Some(k) => k,
        None => known_now(store)?,
    };
    let now = crate::clock::now();
    let r = classify_and_save(
        store,
        catalogue,
        &vamos_store::Reading::known_at(as_of, Some(known_at)),
        t,
        readers,
        &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let outcome = match &r {
        Ok(c) => format!("ok: medición {}", c.id),
        Err(e) => format!("error: {e:#}"),
    };
    actor.audit(
        store,
        "clasificar",
        "medición",
        &format!("{t} al {as_of}"),
        purpose,
        &outcome,
    )?;
    Ok(r?)
}

/// Classifies the registry of territory `t` at `at` — the versions valid on its `as_of` as
/// known at its `known_at` (counter-referrals delivered up to `as_of` count) — and saves the
/// measurement with its districts' Logros, its reading, sources and stage timings: what
/// `vamos classify` and the web application's classification run. `now` is the creation time
/// recorded (the caller reads the clock).
pub fn classify_and_save(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    at: &vamos_store::Reading,
    t: TerritoryCode,
    readers: usize,
    now: &str,
) -> anyhow::Result<Classified> {
    let as_of = at.as_of();
    let t0 = std::time::Instant::now();
    let mut data = RegistryData::new(&FormVocabulary);
    let through = vamos_store::counter_referrals::classification_watermark(
        &mut store.db(),
        &as_of.to_string(),
    )?;
    vamos_store::load_registry_parallel(store, t, at, &mut data, readers, through)?;
    data.finish();
    let load = t0.elapsed();
    // The multidimensional poverty index of the same reading, kept with the measurement; its
    // pass also decides poverty for the classification when the catalogue chose the IPM.
    let t_ipm = std::time::Instant::now();
    let (cls, ipm_cells) = crate::ipm_method::classifier_and_cells(catalogue, &data, as_of)?;
    let ipm = t_ipm.elapsed();
    let t1 = std::time::Instant::now();
    let districts = vamos_engine::logros::measure(&cls, &data);
    let evaluate = t1.elapsed();
    // Aggregate: every department and the nation from their districts (what `logros` reads).
    let t_agg = std::time::Instant::now();
    let levels: Vec<TerritoryCode> = std::iter::once(TerritoryCode::Nation)
        .chain(
            Territory::official()
                .departments()
                .iter()
                .map(|d| TerritoryCode::Department(d.code)),
        )
        .collect();
    let rolled: Vec<(TerritoryCode, Vec<LogroCounts>)> = levels
        .iter()
        .map(|&l| (l, roll_up(&districts, l)))
        .collect();
    let aggregate = t_agg.elapsed();
    let t2 = std::time::Instant::now();
    let synthetic = store.has_synthetic_data()?;
    let rows: Vec<(u16, String)> = districts
        .iter()
        .map(|d| Ok((d.district.get(), serde_json::to_string(&d.logros)?)))
        .collect::<anyhow::Result<_>>()?;
    let imports: Vec<Value> = store
        .imports(u32::MAX)?
        .into_iter()
        .filter(|i| i.status == "completada")
        .map(|i| json!({"import": i.id, "kind": i.kind, "source": i.source, "synthetic": i.synthetic, "finished_at": i.finished_at}))
        .collect();
    let stages = json!({"load": load.as_millis(), "evaluate": evaluate.as_millis(), "aggregate": aggregate.as_millis(), "ipm": ipm.as_millis()});
    let details = json!({
        "sources": data.sources(),
        "imports": imports,
        "registry": {"persons": data.persons(), "households": data.households(), "communities": data.communities(), "admin_events": data.events.len()},
        "stages_ms": stages,
        "orphans": data.orphans,
    });
    let meta = vamos_store::MeasurementMeta {
        as_of,
        catalogue_version: catalogue.version.clone(),
        catalogue_label: catalogue.label.clone(),
        territory: t.to_string(),
        synthetic,
        created_at: now.to_string(),
        details: details.to_string(),
        known_at: at.known_at_text(),
    };
    let id = store.save_measurement(&meta, &rows)?;
    vamos_store::counter_referrals::set_measurement_watermark(&mut store.db(), id, through)?;
    // The index is kept beside the measurement, not inside its transaction: should keeping it
    // fail, the measurement stands and its index is computed on first reading instead.
    if let Err(e) = vamos_store::ipm::save(
        &mut store.db(),
        id,
        &crate::ipm_method::official()?.method.version,
        &ipm_cells,
    ) {
        tracing::warn!(measurement = id, error = %e, "no se guardó el IPM de la medición: se calculará al consultarlo");
    }
    Ok(Classified {
        id,
        synthetic,
        districts: districts.len(),
        known_at: at.known_at_text(),
        rolled,
        persons: data.persons(),
        households: data.households(),
        communities: data.communities(),
        events: data.events.len(),
        load,
        evaluate,
        aggregate,
        ipm,
        stored: t2.elapsed(),
    })
}

/// A community explained, reading only that community (its households, members and survey).
pub fn explain_community(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    community: vamos_domain::CommunityId,
    district: DistrictCode,
    as_of: chrono::NaiveDate,
    counter_referrals_until: chrono::NaiveDate,
) -> anyhow::Result<Value> {
    let community = community.get();
    let mut data = RegistryData::new(&FormVocabulary);
    store.load_communities(
        &[community],
        i64::MAX,
        &vamos_store::Reading::at(as_of),
        &mut data,
    )?;
    data.finish();
    explain_in(
        &data,
        catalogue,
        UnitKind::Community,
        community,
        district,
        as_of,
        counter_referrals_until,
    )
}

#[cfg(test)]
mod tests {
    use super::without_placeholders;

    #[test]
    fn a_question_reads_without_the_forms_field_references() {
        assert_eq!(
            without_placeholders("¿${nombres} está embarazada?"),
            "¿La persona está embarazada?"
        );
        assert_eq!(
            without_placeholders("Edad de ${nombres}"),
            "Edad de la persona"
        );
        assert_eq!(without_placeholders("sin cierre ${x"), "sin cierre ${x");
    }
}
