//! Referrals (*gestión de acceso*), shared by the command line and the HTTP API: generating
//! them from a measurement's needs, their expiry, the personal service route and the delivery
//! points it sends people to, and the report rows (JSON, CSV, XLSX); working them (lists, life
//! cycle, institution reports, funnel) is in [`work`].
//!
//! Neither prints nor reads the clock here: dates and the caller arrive as parameters.

pub mod work;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use vamos_catalogue::{Catalogue, EvidenceSource};
use vamos_domain::services::{Category, Package};
use vamos_domain::{DistrictCode, Permission, Scope, Territory, TerritoryCode};
use vamos_engine::{RegistryData, Status, Unit};
use vamos_store::counter_referrals::AnswerMap;
use vamos_store::referrals::NewReferral;
use vamos_store::Store;

use crate::measurements::FormVocabulary;
use crate::Actor;

pub use vamos_store::delivery_points::DeliveryPoint;

/// Days to answer a referral when the catalogue sets no `plazo_dias`.
pub const DEFAULT_DEADLINE_DAYS: u32 = 30;

/// Which catalogue services a counter-referral answers, by (institution, event code): the
/// services whose `contrarreferencia` evidence names that institution and code.
pub fn answer_map(c: &Catalogue) -> AnswerMap {
    let mut m: AnswerMap = HashMap::new();
    for s in &c.services {
        for e in &s.evidence {
            if let EvidenceSource::CounterReferral {
                institution,
                services,
            } = &e.source
            {
                for code in services {
                    let list = m.entry((institution.clone(), code.clone())).or_default();
                    if !list.iter().any(|(c, _)| *c == s.code) {
                        list.push((s.code.clone(), referral_unit_kind(s.category)));
                    }
                }
            }
        }
    }
    m
}

/// The kind of unit a referral for a service of category `c` names: households for the
/// households Logro, communities for the entorno, persons otherwise (as classified).
pub fn referral_unit_kind(c: Category) -> &'static str {
    match c {
        Category::Hogares => "hogar",
        Category::Entorno => "comunidad",
        _ => "persona",
    }
}

/// Catalogue service codes an institution may also report with, by (institution, catalogue
/// code) → the event code its counter-referral rule expects (the referral names the catalogue
/// code; the evidence rule, the institution's own code).
pub fn catalogue_aliases(c: &Catalogue) -> HashMap<(String, String), String> {
    let mut m = HashMap::new();
    for s in &c.services {
        for e in &s.evidence {
            if let EvidenceSource::CounterReferral {
                institution,
                services,
            } = &e.source
            {
                if let Some(first) = services.first() {
                    m.entry((institution.clone(), s.code.clone()))
                        .or_insert_with(|| first.clone());
                }
            }
        }
    }
    m
}

/// The event codes an institution may report (sorted).
pub fn reportable(c: &Catalogue, institution: &str) -> Vec<String> {
    let set: BTreeSet<String> = answer_map(c)
        .into_keys()
        .filter(|(i, _)| i == institution)
        .map(|(_, code)| code)
        .collect();
    set.into_iter().collect()
}

/// District ranges of a territory (for SQL filters).
pub fn territory_ranges(t: TerritoryCode) -> Vec<(i64, i64)> {
    Scope::Territories(vec![t]).district_ranges()
}

/// What [`generate`] did.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateReport {
    pub measurement: i64,
    pub as_of: String,
    pub territory: String,
    pub needs: u64,
    #[serde(flatten)]
    pub outcome: vamos_store::referrals::SyncOutcome,
    pub synthetic: bool,
    /// Units flagged for Canal Verde from the same needs, and the seconds that took.
    pub candidates: crate::cases::Flagged,
}

/// Generates the referrals of a measurement (the latest when `None`) in `territory` (the
/// measurement's when `None`): one per unit × desprotegido service, addressed to the service's
/// institution, ordered by priority; open referrals whose need is gone are closed.
pub fn generate(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    measurement: Option<i64>,
    territory: Option<TerritoryCode>,
    today: NaiveDate,
    at: &str,
    actor: &str,
) -> anyhow::Result<GenerateReport> {
    let Some((m, _)) = store.measurement(measurement)? else {
        anyhow::bail!(match measurement {
            Some(id) => format!("no existe la medición {id}"),
            None => "todavía no hay mediciones: ejecute `vamos classify` primero".to_string(),
        });
    };
    let measured = TerritoryCode::parse(&m.territory)
        .map_err(|e| anyhow::anyhow!("territorio de la medición: {e}"))?;
    let t = territory.unwrap_or(measured);
    if !territory_within(t, measured) {
        anyhow::bail!(
            "el territorio {t} no está dentro del medido por la medición {} ({measured})",
            m.id
        );
    }
    if m.catalogue_version != catalogue.version {
        anyhow::bail!(
            "la medición {} se hizo con otro catálogo ({}); use ese catálogo o clasifique de nuevo",
            m.id,
            m.catalogue_version
        );
    }
    let as_of = NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")?;
    let mut data = RegistryData::new(&FormVocabulary);
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    vamos_store::load_registry_parallel(
        store,
        t,
        &vamos_store::Reading::at(as_of),
        &mut data,
        readers,
        i64::MAX,
    )?;
    data.finish();
    // The current state: counter-referrals received so far count (a service already given
    // needs no referral).
    // Each household's deprivation score, kept with its referrals so lists can be ordered by
    // it, from the same pass that decides poverty when the catalogue chose the IPM.
    let (cls, scores) = crate::ipm_method::classifier_with_scores(catalogue, &data, as_of)?;
    let cls = cls.with_counter_referrals_until(today);
    let needs = vamos_engine::needs::needs(&cls, &data);
    let deprivation = |h: Option<usize>| {
        h.and_then(|h| scores.get(h).copied().flatten())
            .map(|c| (c * vamos_store::referrals::DEPRIVATION_SCALE as f64).round() as i64)
    };
    let mut rows = Vec::with_capacity(needs.len());
    for n in &needs {
        let Some(s) = catalogue.services.get(n.service) else {
            continue;
        };
        let (kind, unit_id, household_id, community_id, h) = match n.unit {
            Unit::Person(p) => {
                let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
                (
                    "persona",
                    data.person_id.get(p).copied().unwrap_or_default(),
                    data.household_id.get(h).copied(),
                    community_of(&data, h),
                    Some(h),
                )
            }
            Unit::Household(h) => (
                "hogar",
                data.household_id.get(h).copied().unwrap_or_default(),
                data.household_id.get(h).copied(),
                community_of(&data, h),
                Some(h),
            ),
            Unit::Community(c) => (
                "comunidad",
                data.community_id.get(c).copied().unwrap_or_default(),
                None,
                data.community_id.get(c).copied(),
                None,
            ),
        };
        let days = s.deadline_days.unwrap_or(DEFAULT_DEADLINE_DAYS);
        rows.push(NewReferral {
            unit_kind: kind,
            unit_id,
            household_id,
            community_id,
            district_code: i64::from(n.district.get()),
            category: n.category.code().to_string(),
            service: s.code.clone(),
            institution: s.institution.clone(),
            priority: n.priority(),
            unprotected: i64::from(n.unprotected),
            populations: n.populations.join(","),
            critical: n.critical,
            due_on: (today + chrono::Days::new(u64::from(days))).to_string(),
            deprivation: deprivation(h),
        });
    }
    let outcome = vamos_store::referrals::sync_referrals(
        &mut store.db(),
        m.id,
        &territory_ranges(t),
        &rows,
        &today.to_string(),
        at,
        actor,
    )?;
    // The Canal Verde candidates of the same needs, for the Mesas' lists.
    let candidates =
        crate::cases::refresh_candidates(store, catalogue, m.id, &territory_ranges(t), &rows)?;
    Ok(GenerateReport {
        measurement: m.id,
        as_of: m.as_of,
        territory: t.to_string(),
        needs: rows.len() as u64,
        outcome,
        synthetic: m.synthetic,
        candidates,
    })
}

/// [`generate`] as `actor` (`vamos referrals generate`), recorded in the audit trail.
pub fn generate_as(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    measurement: Option<i64>,
    territory: Option<TerritoryCode>,
    today: NaiveDate,
    at: &str,
) -> anyhow::Result<GenerateReport> {
    actor.require(Permission::ReferralsWork)?;
    let r = generate(
        store,
        catalogue,
        measurement,
        territory,
        today,
        at,
        &actor.name,
    )?;
    actor.audit(
        store,
        "generar referencias",
        "medición",
        &r.measurement.to_string(),
        "gestión de acceso",
        &format!(
            "ok: {} nuevas, {} abiertas sin cambio, {} cerradas, {} vencidas",
            r.outcome.created, r.outcome.kept, r.outcome.closed, r.outcome.expired
        ),
    )?;
    Ok(r)
}

/// Marks the open referrals whose deadline passed before `today` as expired (`vencida`), at
/// `at`: the server's every minute, and `vamos referrals expire`. How many expired.
pub fn expire_overdue(store: &mut dyn Store, today: NaiveDate, at: &str) -> crate::Result<u64> {
    Ok(vamos_store::referrals::expire_overdue(
        &mut store.db(),
        &today.to_string(),
        at,
    )?)
}

/// The delivery points serving district `district` (`DDdd`), or every one: places, not
/// persons, read with the catalogue's permission — the public has it (API
/// `GET /api/delivery-points`, the catalogue and Orientaciones pages,
/// `vamos delivery-points list`).
pub fn delivery_points(
    store: &mut dyn Store,
    actor: &Actor,
    district: Option<&str>,
) -> crate::Result<Vec<DeliveryPoint>> {
    actor.require(Permission::CatalogueRead)?;
    Ok(match district {
        Some(d) => vamos_store::delivery_points::delivery_points_for(&mut store.db(), d)?,
        None => vamos_store::delivery_points::delivery_points_all(&mut store.db())?,
    })
}

/// Adds or replaces delivery points (by service, territory and name) in one transaction
/// (`vamos delivery-points import`, once the file was checked against the catalogue). How many.
/// Refused whole when a text of a point is longer than its limit (`vamos_domain::limits`).
pub fn load_delivery_points(store: &mut dyn Store, points: &[DeliveryPoint]) -> crate::Result<u64> {
    use vamos_domain::limits::Limit;
    for p in points {
        let texts = [
            (Limit::Code, "institucion", Some(&p.institution)),
            (Limit::Code, "servicio", Some(&p.service)),
            (Limit::Place, "nombre", Some(&p.name)),
            (Limit::Place, "direccion", p.address.as_ref()),
            (Limit::Place, "horario", p.hours.as_ref()),
            (Limit::Place, "contacto", p.contact.as_ref()),
            (
                Limit::Place,
                "servicios_alojados",
                p.hosted_services.as_ref(),
            ),
            (Limit::Code, "mesa", p.mesa_body.as_ref()),
        ];
        for (limit, column, value) in texts {
            if let Err(e) = limit.check_opt(value.map(String::as_str)) {
                return Err(crate::Error::bad_request(format!(
                    "punto de atención «{}», {column}: {e}",
                    vamos_domain::limits::echo(&p.name)
                )));
            }
        }
    }
    Ok(vamos_store::delivery_points::upsert_delivery_points(
        &mut store.db(),
        points,
    )?)
}

fn community_of(data: &RegistryData, h: usize) -> Option<i64> {
    let c = *data.household_community.get(h)? as usize;
    data.community_id.get(c).copied()
}

/// Whether `inner` lies inside `outer`.
pub fn territory_within(inner: TerritoryCode, outer: TerritoryCode) -> bool {
    match (outer, inner) {
        (TerritoryCode::Nation, _) => true,
        (TerritoryCode::Department(d), TerritoryCode::Department(x)) => d == x,
        (TerritoryCode::Department(d), TerritoryCode::District(x)) => x.department() == d,
        (TerritoryCode::District(d), TerritoryCode::District(x)) => d == x,
        _ => false,
    }
}

/// Who is sending counter-referrals.
/// The personal route of a person at `as_of`: per category, the services of the package in
/// order (núcleo, ampliado, diferencial) with their status, and for the missing ones the
/// delivery points that serve the person's district (own district first, then department,
/// national, remote) and the open referral, if any.
pub fn person_route(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    person_id: i64,
    district: DistrictCode,
    as_of: NaiveDate,
    until: NaiveDate,
) -> anyhow::Result<Value> {
    let mut data = RegistryData::new(&FormVocabulary);
    store.load_registry(
        TerritoryCode::District(district),
        &vamos_store::Reading::at(as_of),
        &mut data,
    )?;
    data.finish();
    let p = data
        .person_by_id(person_id)
        .ok_or_else(|| anyhow::anyhow!("persona {person_id} fuera del registro cargado"))?;
    let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
    // One person's route: poverty by the IPM is decided for its household only.
    let cls = crate::ipm_method::classifier_among(catalogue, &data, as_of, Some(&[h]))?
        .with_counter_referrals_until(until);
    let mut cats = Vec::new();
    cls.person_categories(&data, p, &mut cats);
    cats.push(Category::Hogares);
    let points =
        vamos_store::delivery_points::delivery_points_for(&mut store.db(), &district.to_string())?;
    let open = vamos_store::referrals::referrals(
        &mut store.db(),
        &vamos_store::referrals::ReferralFilter {
            status: Some("abierta".into()),
            household_id: data
                .household_id
                .get(h)
                .copied()
                .map(vamos_domain::HouseholdId),
            ..Default::default()
        },
    )?;
    let mut steps = Vec::new();
    let mut missing = 0;
    for c in &cats {
        let unit = if *c == Category::Hogares {
            Unit::Household(h)
        } else {
            Unit::Person(p)
        };
        let mut dec = Vec::new();
        cls.classify(&data, unit, *c, &mut dec);
        let mut services: Vec<Value> = Vec::new();
        for pkg in [Package::Nucleo, Package::Ampliado, Package::Diferencial] {
            for d in dec.iter().filter(|d| {
                catalogue
                    .services
                    .get(d.service)
                    .is_some_and(|s| s.package == pkg)
            }) {
                let Some(s) = catalogue.services.get(d.service) else {
                    continue;
                };
                if d.status == Status::NoAplica {
                    continue;
                }
                let lacks = d.status != Status::Protegido;
                if lacks {
                    missing += 1;
                }
                let (kind, uid) = match unit {
                    Unit::Household(_) => (
                        "hogar",
                        data.household_id.get(h).copied().unwrap_or_default(),
                    ),
                    _ => ("persona", person_id),
                };
                let referral = open
                    .iter()
                    .find(|(r, _)| r.service == s.code && r.unit_kind == kind && r.unit_id == uid)
                    .map(|(r, _)| json!({"id": r.id, "status": r.status, "due_on": r.due_on}));
                let where_: Vec<Value> = points
                    .iter()
                    .filter(|x| x.service == s.code)
                    .map(|x| json!({"name": x.name, "level": x.level, "territory": x.territory, "address": x.address, "hours": x.hours, "contact": x.contact, "institution": x.institution,
                        "espacio_sps": x.mesa_body.is_some() || x.hosted_services.is_some(), "hosted_services": x.hosted_services, "mesa_body": x.mesa_body}))
                    .collect();
                services.push(json!({
                    "order": services.len() + 1,
                    "service": s.code,
                    "name": s.name,
                    "institution": s.institution,
                    "institution_name": catalogue.institution(&s.institution).map(|i| i.name.clone()),
                    "package": s.package.code(),
                    "status": d.status,
                    "missing": lacks,
                    "delivery_level": s.delivery_level.code(),
                    "where": where_,
                    "referral": referral,
                }));
            }
        }
        steps.push(json!({"category": c.code(), "label": c.label(), "logro": c.logro(), "services": services}));
    }
    Ok(json!({
        "person": person_id,
        "district": {"code": district.to_string(), "name": Territory::official().name_of(TerritoryCode::District(district))},
        "as_of": as_of.to_string(),
        "missing": missing,
        "route": steps,
    }))
}

// Which populations of special attention a caller may know of is the registry's rule.
pub use crate::registry::visible_populations;

/// Whether a caller who sees `fields` may know a household's deprivation score — in a referral
/// or as its sort key: poverty must be visible, and every answer the indicators read (the
/// score's sum of weights would tell which ones are deprived), as the household profile asks.
pub fn may_know_deprivation(fields: &Option<BTreeSet<String>>) -> bool {
    let Some(f) = fields else {
        return true;
    };
    f.contains("pobreza")
        && crate::ipm_method::fields_read().is_ok_and(|read| read.iter().all(|x| f.contains(*x)))
}

/// A referral as a caller who sees `fields` may read it: its populations of special attention
/// only those the caller may see, its priority counting only those. The service referred (and
/// so its category, which the catalogue ties to it) is the referral's purpose and always shown.
pub fn referral_value(
    r: &vamos_store::referrals::Referral,
    fields: &Option<BTreeSet<String>>,
) -> Map<String, Value> {
    let mut o = serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    if let Some(visible) = visible_populations(fields) {
        let kept: Vec<&String> = r
            .populations
            .iter()
            .filter(|p| visible.contains(p))
            .collect();
        // The stored priority counts every population (see `vamos_engine::needs::Need`).
        o.insert(
            "priority".into(),
            json!(r.priority / 100 * 100 + kept.len() as i64),
        );
        o.insert("populations".into(), json!(kept));
    }
    if !may_know_deprivation(fields) {
        o.remove("deprivation_score");
    }
    // The priority as people read it (band and reasons); the number stays, for sorting.
    let score = o
        .get("priority")
        .and_then(Value::as_i64)
        .unwrap_or(r.priority);
    let shown: Vec<String> = o
        .get("populations")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    let (band, why) = vamos_domain::referral::readable_priority(score, &shown);
    o.insert("priority_band".into(), json!(band.code()));
    o.insert("priority_label".into(), json!(band.label()));
    o.insert("priority_why".into(), json!(why));
    o
}

/// One referral report row: the referral as [`referral_value`] shows it, and the person's
/// fields the caller may see.
pub fn report_row(
    r: &vamos_store::referrals::Referral,
    person: Option<Map<String, Value>>,
    fields: &Option<BTreeSet<String>>,
    catalogue: &Catalogue,
) -> Value {
    let mut o = referral_value(r, fields);
    o.insert(
        "service_name".into(),
        json!(catalogue
            .services
            .iter()
            .find(|s| s.code == r.service)
            .map(|s| s.name.clone())),
    );
    o.insert(
        "district_name".into(),
        json!(DistrictCode::from_stored(r.district_code)
            .map(|d| Territory::official().name_of(TerritoryCode::District(d)))),
    );
    if let Some(p) = person {
        let visible: Map<String, Value> = match fields {
            None => p,
            Some(f) => p.into_iter().filter(|(k, _)| f.contains(k)).collect(),
        };
        o.insert("person".into(), Value::Object(visible));
    }
    Value::Object(o)
}

/// Columns of the referral report files: (JSON key, Spanish header).
const REPORT_COLUMNS: [(&str, &str); 25] = [
    ("id", "referencia"),
    ("status", "estado"),
    ("priority", "prioridad"),
    ("deprivation_score", "puntaje_privaciones"),
    ("critical", "critico"),
    ("unprotected", "desprotecciones"),
    ("populations", "poblaciones"),
    ("service", "servicio"),
    ("service_name", "nombre_servicio"),
    ("institution", "institucion"),
    ("category", "categoria"),
    ("district_code", "distrito"),
    ("district_name", "nombre_distrito"),
    ("unit_kind", "unidad"),
    ("unit_id", "unidad_id"),
    ("household_id", "hogar_id"),
    ("community_id", "comunidad_id"),
    ("emitted_at", "emitida"),
    ("due_on", "plazo"),
    ("received_at", "recibida"),
    ("contacted_at", "contactada"),
    ("closed_at", "cerrada"),
    ("reason", "motivo"),
    ("counter_referral_id", "contrarreferencia"),
    ("measurement_id", "medicion"),
];

/// A JSON value as a CSV cell (null empty, yes/no, lists joined with commas).
pub(crate) fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "si" } else { "no" }.to_string(),
        Value::Array(a) => a.iter().map(cell_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The report as a table: Spanish headers, then one row per referral (the person's visible
/// fields as `persona_<campo>` columns, in the order they first appear).
pub fn report_table(rows: &[Value]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut person_keys: Vec<String> = Vec::new();
    for r in rows {
        if let Some(p) = r.get("person").and_then(Value::as_object) {
            for k in p.keys() {
                if !person_keys.contains(k) {
                    person_keys.push(k.clone());
                }
            }
        }
    }
    let mut headers: Vec<String> = REPORT_COLUMNS.iter().map(|(_, h)| h.to_string()).collect();
    headers.extend(person_keys.iter().map(|k| format!("persona_{k}")));
    let body = rows
        .iter()
        .map(|r| {
            let mut line: Vec<String> = REPORT_COLUMNS
                .iter()
                .map(|(k, _)| r.get(*k).map(cell_text).unwrap_or_default())
                .collect();
            let p = r.get("person");
            line.extend(
                person_keys
                    .iter()
                    .map(|k| p.and_then(|p| p.get(k)).map(cell_text).unwrap_or_default()),
            );
            line
        })
        .collect();
    (headers, body)
}

/// The report as CSV (UTF-8 with BOM, so Excel reads the accents; `,` separator; text cells
/// that a spreadsheet would run as a formula neutralised, see `vamos_domain::csv_safe`).
pub fn report_csv(rows: &[Value]) -> anyhow::Result<Vec<u8>> {
    let (headers, body) = report_table(rows);
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(&headers)?;
    for r in &body {
        w.write_record(r)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The report as an XLSX workbook (one sheet, «referencias»), with a note when synthetic.
/// Text goes in with `write_string`, which stores a string cell, never a formula: a name such
/// as `=HYPERLINK(…)` is shown as typed (only numbers are written as numbers).
pub fn report_xlsx(rows: &[Value], note: Option<&str>) -> anyhow::Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let (headers, body) = report_table(rows);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("referencias")?;
    let bold = Format::new().set_bold();
    let mut first = 0u32;
    if let Some(n) = note {
        ws.write_string_with_format(0, 0, n, &bold)?;
        first = 1;
    }
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(first, c as u16, h, &bold)?;
    }
    for (i, r) in body.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            let row = first + 1 + i as u32;
            match v.parse::<f64>() {
                Ok(n) if !v.starts_with('0') || v == "0" => {
                    ws.write_number(row, c as u16, n)?;
                }
                _ => {
                    ws.write_string(row, c as u16, v)?;
                }
            }
        }
    }
    ws.set_freeze_panes(first + 1, 0)?;
    Ok(wb.save_to_buffer()?)
}

/// Referral lists and exports name in their audit record at most this many ids one by one;
/// every list names them all through its count and digest ([`referral_set_subject`]).
pub const LISTED_IDS: usize = 50;

/// The audit subject of the referrals a list or an export handed out, so that an auditor can
/// tell exactly which left: `<n> referencias, sha256:<hex>` — the SHA-256 of their ids in
/// ascending order, each written in decimal and followed by a line feed (what
/// `sort -n ids.txt | sha256sum` computes) —, then `: <id>,<id>,…` when there are at most
/// [`LISTED_IDS`]. Checking an export against it: `docs/design/audit.md`.
pub fn referral_set_subject(ids: &[vamos_domain::ReferralId]) -> String {
    let mut sorted: Vec<i64> = ids.iter().map(|i| i.get()).collect();
    sorted.sort_unstable();
    let mut lines = String::with_capacity(sorted.len() * 8);
    for id in &sorted {
        lines.push_str(&id.to_string());
        lines.push('\n');
    }
    let head = format!(
        "{} referencias, sha256:{}",
        sorted.len(),
        crate::audit::sha256_hex(&lines)
    );
    if sorted.len() <= LISTED_IDS {
        let list: Vec<String> = sorted.iter().map(ToString::to_string).collect();
        format!("{head}: {}", list.join(","))
    } else {
        head
    }
}

/// The filter of a list or an export as its audit record keeps it: `clave=valor` for each
/// criterion given (values cut at `vamos_domain::limits::ECHO` characters), `sin filtro` when none.
pub fn filter_text(criteria: &[(&str, Option<String>)]) -> String {
    let given: Vec<String> = criteria
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(|v| format!("{k}={}", vamos_domain::limits::echo(v)))
        })
        .collect();
    if given.is_empty() {
        "sin filtro".to_string()
    } else {
        given.join(" ")
    }
}

/// The audit subject of a list of ids: all when few, else the first ones and the count.
pub fn summary_ids<T: std::fmt::Display>(ids: &[T]) -> String {
    let first: Vec<String> = ids.iter().take(50).map(ToString::to_string).collect();
    if ids.len() <= 50 {
        first.join(",")
    } else {
        format!("{},… ({} en total)", first.join(","), ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_map_follows_the_catalogue() {
        let c = crate::measurements::load_catalogue(None).unwrap();
        let m = answer_map(&c);
        let prenatal = m
            .get(&("MSPBS".to_string(), "control_prenatal".to_string()))
            .unwrap();
        assert!(prenatal.contains(&("control_prenatal".to_string(), "persona")));
        assert!(reportable(&c, "MSPBS").contains(&"control_prenatal".to_string()));
        assert!(reportable(&c, "NADIE").is_empty());
    }

    #[test]
    fn territories_nest() {
        let t = |s| TerritoryCode::parse(s).unwrap();
        assert!(territory_within(t("1116"), t("PY")));
        assert!(territory_within(t("1116"), t("11")));
        assert!(!territory_within(t("0607"), t("11")));
        assert!(!territory_within(t("11"), t("1116")));
    }
}
