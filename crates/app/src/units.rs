//! The units behind a figure: from a Logro card or one of its service or population rows in a
//! stored measurement, the persons, households or communities the figure counts as not
//! protected or as without data, in one district — classified again as the figure stands: at the
//! measurement's reference date, with the counter-referrals its figures count (through its
//! incremental updates) and the registry as known now, which approved changes also bring into
//! the figures. A registry re-import after the measurement is the one thing the figure does not
//! follow until the next classification; there the list is the newer. Personal data: the caller
//! needs to read the registry, the district must lie in its scope, its data-sharing agreement
//! decides the fields of each row and which figures it may list at all (a list of a service whose
//! eligibility names a withheld attribute, or of a withheld population, would answer that
//! attribute), and every page, export or refusal is audited with the units it showed.

use crate::registry::{self, visible_fields};
use crate::{Actor, Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use vamos_catalogue::Catalogue;
use vamos_domain::services::{Category, Unit as UnitKind};
use vamos_domain::{DistrictCode, Permission, Territory, TerritoryCode};
use vamos_engine::classify::{Status, Unit};
use vamos_engine::logros::{Behind, Figure};
use vamos_store::Store;

/// Rows per page when the caller does not say.
pub const PAGE: usize = 50;
/// The most rows an export carries; a longer list is refused with a way to narrow it.
pub const EXPORT_MAX: usize = 200_000;

/// Which figure to list, where and which page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UnitsQuery {
    /// The measurement (the latest when absent).
    pub measurement: Option<i64>,
    /// A district, `DDdd`.
    pub territory: String,
    pub logro: u8,
    /// A núcleo service of the Logro (its row instead of the card).
    pub service: Option<String>,
    /// A population of special attention the card breaks down.
    pub population: Option<String>,
    /// `desprotegidos` (default) or `sin_dato`.
    pub state: Option<String>,
    /// 1-based.
    pub page: Option<usize>,
    pub limit: Option<usize>,
    pub purpose: Option<String>,
}

/// One page of units behind a figure.
#[derive(Debug, Clone)]
pub struct UnitsPage {
    pub measurement: i64,
    pub as_of: String,
    pub synthetic: bool,
    pub district: DistrictCode,
    pub logro: u8,
    pub category: Category,
    pub service: Option<(String, String)>,
    pub population: Option<String>,
    pub state: &'static str,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub rows: Vec<Value>,
}

impl UnitsPage {
    pub fn json(&self) -> Value {
        json!({
            "measurement": {"id": self.measurement, "as_of": self.as_of, "synthetic": self.synthetic},
            "territory": crate::measurements::territory_json(TerritoryCode::District(self.district)),
            "logro": self.logro,
            "category": {"code": self.category.code(), "label": self.category.label()},
            "service": self.service.as_ref().map(|(c, n)| json!({"code": c, "name": n})),
            "population": self.population,
            "state": self.state,
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
            "units": self.rows,
        })
    }
}

/// One unit as classified, before any caller's fields apply: fixed size, no allocation of its
/// own, so a cached list of a large district stays small.
#[derive(Debug, Clone, Copy)]
struct Raw {
    kind: UnitKind,
    id: i64,
    household: Option<i64>,
    /// The núcleo services it lacks, as bits over [`List::nucleo`]: `desprotegido`…
    unprotected: u64,
    /// …and `sin_dato`.
    without: u64,
}

/// A computed list: the units, and the núcleo services (catalogue indices) their bits name.
#[derive(Debug)]
struct List {
    nucleo: Vec<usize>,
    rows: Vec<Raw>,
}

impl List {
    /// What `r` lacks, as (catalogue index, status).
    fn lacking(&self, r: &Raw) -> Vec<(usize, Status)> {
        let mut out = Vec::new();
        for (bit, &i) in self.nucleo.iter().enumerate().take(64) {
            if r.unprotected >> bit & 1 == 1 {
                out.push((i, Status::Desprotegido));
            } else if r.without >> bit & 1 == 1 {
                out.push((i, Status::SinDato));
            }
        }
        out
    }
}

/// What a list was computed from: the measurement as its figures stand (counter-referrals and
/// approved changes move them), the registry's last write, and the figure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    measurement: i64,
    applied_through: i64,
    updated_at: Option<String>,
    registry_written: Option<String>,
    district: u16,
    logro: u8,
    service: Option<usize>,
    population: Option<usize>,
    without_data: bool,
}

/// The last lists computed: paging through one classifies its district once.
static RECENT: Mutex<Vec<(Key, Arc<List>)>> = Mutex::new(Vec::new());
const RECENT_MAX: usize = 6;

/// A page of the units behind the figure `q` names, for `actor` (see the module comment).
pub fn list(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &UnitsQuery,
) -> Result<UnitsPage> {
    let limit = q.limit.unwrap_or(PAGE).clamp(1, 1000);
    read(
        store,
        actor,
        catalogue,
        q,
        q.page.unwrap_or(1).max(1),
        limit,
    )
}

/// Every unit behind the figure `q` names (up to [`EXPORT_MAX`]), for a CSV export.
pub fn export(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &UnitsQuery,
) -> Result<UnitsPage> {
    read(store, actor, catalogue, q, 1, EXPORT_MAX)
}

fn read(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &UnitsQuery,
    page: usize,
    limit: usize,
) -> Result<UnitsPage> {
    actor.require(Permission::RegistryRead)?;
    let purpose = registry::purpose_or(&q.purpose, "lista de unidades detrás de una cifra")?;
    let district = match registry::parse_territory(Some(&q.territory))? {
        TerritoryCode::District(d) => d,
        t => {
            return Err(Error::bad_request(format!(
                "la lista de unidades se calcula por distrito: elija un distrito de {}",
                Territory::official().name_of(t)
            )))
        }
    };
    let subject = format!("logro {} en {district}", q.logro);
    if !actor.scope.contains(district) {
        actor.audit(
            store,
            "listar unidades",
            "cifra",
            &subject,
            &purpose,
            "denegado: fuera de su ámbito territorial",
        )?;
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(TerritoryCode::District(district))
        )));
    }
    let fields = visible_fields(store, actor)?;
    let figure = match figure_of(catalogue, q, &fields) {
        Ok(f) => f,
        Err(e) => {
            actor.audit(
                store,
                "listar unidades",
                "cifra",
                &subject,
                &purpose,
                &format!("denegado: {}", e.message),
            )?;
            return Err(e);
        }
    };
    let Some((m, _)) = store.measurement(q.measurement)? else {
        return Err(Error::not_found(
            "no hay mediciones: clasifique primero (vamos classify)",
        ));
    };
    let measured = TerritoryCode::parse(&m.territory).map_err(Error::internal)?;
    if !covers(measured, district) {
        return Err(Error::bad_request(format!(
            "la medición {} no abarca {}",
            m.id,
            Territory::official().name_of(TerritoryCode::District(district))
        )));
    }
    if m.catalogue_version != catalogue.version {
        return Err(Error::conflict(format!(
            "la medición {} se hizo con otro catálogo ({}); clasifique de nuevo para listar sus unidades",
            m.id, m.catalogue_version
        )));
    }
    let key = Key {
        measurement: m.id,
        applied_through: m.counter_referrals_applied_through,
        updated_at: m.counter_referrals_updated_at.clone(),
        registry_written: vamos_store::versions::latest_write(&mut store.db())?,
        district: district.get(),
        logro: q.logro,
        service: figure.service,
        population: figure.population,
        without_data: figure.which == Behind::WithoutData,
    };
    let all = computed(store, catalogue, &m, district, figure, key)?;
    if limit == EXPORT_MAX && all.rows.len() > EXPORT_MAX {
        actor.audit(
            store,
            "listar unidades",
            "cifra",
            &subject,
            &purpose,
            "rechazado: exportación demasiado grande",
        )?;
        return Err(Error::bad_request(format!(
            "la lista tiene {} unidades, más de las {EXPORT_MAX} que se exportan de una vez: elija un servicio o una población",
            all.rows.len()
        )));
    }
    let pages = all.rows.len().div_ceil(limit).max(1);
    let page = page.min(pages);
    let shown: Vec<&Raw> = all
        .rows
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    let rows = shown
        .iter()
        .map(|r| row(store, catalogue, &all, r, &fields))
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<String> = shown
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                crate::measurements::kind_es(store_kind(r.kind)),
                r.id
            )
        })
        .collect();
    actor.audit(
        store,
        "listar unidades",
        "cifra",
        &subject,
        &purpose,
        &format!(
            "ok: {} de {} ({})",
            rows.len(),
            all.rows.len(),
            if ids.is_empty() {
                "ninguna".to_string()
            } else {
                ids.join(",")
            }
        ),
    )?;
    Ok(UnitsPage {
        measurement: m.id,
        as_of: m.as_of.clone(),
        synthetic: m.synthetic,
        district,
        logro: q.logro,
        category: figure.category,
        service: figure.service.and_then(|i| {
            catalogue
                .services
                .get(i)
                .map(|s| (s.code.clone(), s.name.clone()))
        }),
        population: q.population.clone().filter(|p| !p.is_empty()),
        state: if figure.which == Behind::WithoutData {
            "sin_dato"
        } else {
            "desprotegidos"
        },
        total: all.rows.len(),
        page,
        pages,
        rows,
    })
}

fn covers(measured: TerritoryCode, d: DistrictCode) -> bool {
    match measured {
        TerritoryCode::Nation => true,
        TerritoryCode::Department(x) => d.department() == x,
        TerritoryCode::District(x) => x == d,
    }
}

fn store_kind(k: UnitKind) -> vamos_store::UnitKind {
    match k {
        UnitKind::Person => vamos_store::UnitKind::Person,
        UnitKind::Household => vamos_store::UnitKind::Household,
        UnitKind::Community => vamos_store::UnitKind::Community,
    }
}

/// The figure `q` names, refused when listing it would tell the caller what its agreement
/// withholds.
fn figure_of(
    catalogue: &Catalogue,
    q: &UnitsQuery,
    fields: &Option<BTreeSet<String>>,
) -> Result<Figure> {
    let category = Category::ALL
        .into_iter()
        .find(|c| c.logro() == q.logro)
        .ok_or_else(|| {
            Error::bad_request(format!("no existe el Logro {}: son del 1 al 10", q.logro))
        })?;
    let withheld = |what: &str| {
        Error::forbidden(format!(
            "su convenio de intercambio de datos no permite listar {what}, porque la lista diría datos que el convenio reserva"
        ))
    };
    if !registry::category_code_visible(category.code(), fields) {
        return Err(withheld(&format!("el Logro {}", q.logro)));
    }
    let nucleo = catalogue.nucleo(category);
    let service = match q.service.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(code) => {
            let i = nucleo
                .iter()
                .copied()
                .find(|&i| catalogue.services.get(i).is_some_and(|s| s.code == code))
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "«{code}» no es un servicio del paquete núcleo del Logro {}",
                        q.logro
                    ))
                })?;
            if !registry::service_status_visible(catalogue, code, fields) {
                return Err(withheld(&format!("el servicio {code}")));
            }
            Some(i)
        }
    };
    if service.is_none() {
        let hidden = nucleo
            .iter()
            .filter_map(|&i| catalogue.services.get(i))
            .find(|s| !registry::service_status_visible(catalogue, &s.code, fields));
        if let Some(s) = hidden {
            return Err(Error::forbidden(format!(
                "su convenio de intercambio de datos no permite listar el Logro {} entero: su servicio «{}» depende de datos que el convenio reserva. Liste servicio por servicio",
                q.logro, s.name
            )));
        }
    }
    let population = match q.population.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => {
            let list: &[&str] = match category.unit() {
                UnitKind::Person => &vamos_engine::logros::PERSON_BREAKDOWNS,
                UnitKind::Household => &vamos_engine::logros::HOUSEHOLD_BREAKDOWNS,
                UnitKind::Community => &vamos_engine::logros::COMMUNITY_BREAKDOWNS,
            };
            let i = list.iter().position(|x| *x == p).ok_or_else(|| {
                Error::bad_request(format!(
                    "«{p}» no es una población del Logro {}: {}",
                    q.logro,
                    list.join(", ")
                ))
            })?;
            if registry::visible_populations(fields).is_some_and(|v| !v.iter().any(|x| x == p)) {
                return Err(withheld(&format!("la población «{p}»")));
            }
            Some(i)
        }
    };
    let which = match q.state.as_deref().unwrap_or("desprotegidos") {
        "" | "desprotegidos" | "desprotegido" => Behind::Unprotected,
        "sin_dato" => Behind::WithoutData,
        s => {
            return Err(Error::bad_request(format!(
                "estado «{s}» desconocido: desprotegidos o sin_dato"
            )))
        }
    };
    Ok(Figure {
        category,
        service,
        population,
        which,
    })
}

/// The units of `figure` in `district` as measurement `m` counted them (from [`RECENT`] when
/// paging through the same list).
fn computed(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    m: &vamos_store::MeasurementRecord,
    district: DistrictCode,
    figure: Figure,
    key: Key,
) -> Result<Arc<List>> {
    if let Some(hit) = RECENT.lock().ok().and_then(|r| {
        r.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Arc::clone(v))
    }) {
        return Ok(hit);
    }
    let (data, as_of, until) = crate::measurements::registry_as_figures_stand(
        store,
        m,
        TerritoryCode::District(district),
        1,
    )
    .map_err(Error::internal)?;
    // The figures' own bound on counter-referrals (their last incremental update).
    let cls =
        crate::ipm_method::classifier(catalogue, &data, as_of)?.with_counter_referrals_until(until);
    let units = vamos_engine::logros::units_behind(&cls, &data, figure);
    let nucleo = catalogue.nucleo(figure.category);
    let bits = |lacking: &[(usize, Status)], status: Status| -> u64 {
        lacking
            .iter()
            .filter(|(_, st)| *st == status)
            .filter_map(|(i, _)| nucleo.iter().position(|n| n == i))
            .filter(|&b| b < 64)
            .fold(0, |acc, b| acc | 1 << b)
    };
    let raw: Vec<Raw> = units
        .into_iter()
        .map(|u| {
            let (kind, id, household) = match u.unit {
                Unit::Person(p) => {
                    let h = data.person_household.get(p).copied().unwrap_or(0) as usize;
                    (
                        UnitKind::Person,
                        data.person_id.get(p).copied().unwrap_or_default(),
                        data.household_id.get(h).copied(),
                    )
                }
                Unit::Household(h) => {
                    let id = data.household_id.get(h).copied().unwrap_or_default();
                    (UnitKind::Household, id, Some(id))
                }
                Unit::Community(c) => (
                    UnitKind::Community,
                    data.community_id.get(c).copied().unwrap_or_default(),
                    None,
                ),
            };
            Raw {
                kind,
                id,
                household,
                unprotected: bits(&u.lacking, Status::Desprotegido),
                without: bits(&u.lacking, Status::SinDato),
            }
        })
        .collect();
    let raw = Arc::new(List { nucleo, rows: raw });
    if let Ok(mut r) = RECENT.lock() {
        r.retain(|(k, _)| *k != key);
        if r.len() >= RECENT_MAX {
            r.remove(0);
        }
        r.push((key, Arc::clone(&raw)));
    }
    Ok(raw)
}

/// One unit as the caller may read it: its identity fields within the agreement, and the
/// núcleo services it lacks whose status the agreement lets it know.
fn row(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    list: &List,
    r: &Raw,
    fields: &Option<BTreeSet<String>>,
) -> Result<Value> {
    let lacking: Vec<Value> = list
        .lacking(r)
        .into_iter()
        .filter_map(|(i, st)| catalogue.services.get(i).map(|s| (s, st)))
        .filter(|(s, _)| registry::service_status_visible(catalogue, &s.code, fields))
        .map(|(s, st)| {
            json!({"service": s.code, "name": s.name, "status": st, "status_label": crate::measurements::status_es(st)})
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "kind".into(),
        json!(crate::measurements::kind_es(store_kind(r.kind))),
    );
    out.insert("id".into(), json!(r.id));
    // A person's household is a field like any other; a household's own number is the unit.
    if r.kind != UnitKind::Person || registry::may_see(fields, "household_id") {
        out.insert("household_id".into(), json!(r.household));
    }
    if r.kind == UnitKind::Person {
        if let Some(p) = vamos_store::views::person(&mut store.db(), vamos_domain::PersonId(r.id))?
        {
            let p = registry::filter_person(p, fields);
            for k in [
                "given_names",
                "family_names",
                "national_id",
                "birth_date",
                "sex",
            ] {
                if let Some(v) = p.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
        }
    }
    out.insert("lacking".into(), Value::Array(lacking));
    Ok(Value::Object(out))
}

/// A page of units as CSV: UTF-8 with a BOM (spreadsheets read the accents), every cell
/// neutralised against formulas; a field the caller may not see is an empty cell.
pub fn csv(p: &UnitsPage) -> Result<Vec<u8>> {
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer("\u{feff}".as_bytes().to_vec());
    let header = [
        "medicion",
        "fecha_referencia",
        "distrito",
        "logro",
        "tipo",
        "id",
        "hogar",
        "nombres",
        "apellidos",
        "cedula",
        "fecha_nacimiento",
        "servicios_sin_proteger",
    ];
    w.write_record(header).map_err(Error::internal)?;
    let text = |v: &Value, k: &str| match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(x) => x.to_string(),
    };
    for r in &p.rows {
        let lacking: Vec<String> = r
            .get("lacking")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|l| format!("{} ({})", text(l, "name"), text(l, "status_label")))
            .collect();
        w.write_record([
            p.measurement.to_string(),
            p.as_of.clone(),
            p.district.to_string(),
            p.logro.to_string(),
            text(r, "kind"),
            text(r, "id"),
            text(r, "household_id"),
            text(r, "given_names"),
            text(r, "family_names"),
            text(r, "national_id"),
            text(r, "birth_date"),
            lacking.join("; "),
        ])
        .map_err(Error::internal)?;
    }
    w.into_inner().map_err(Error::internal)
}

/// Which lists of Logro `logro` a caller may open (what its agreement lets it list): the card,
/// the núcleo services' rows, the populations' rows — so a page links only to lists it will get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listable {
    pub card: bool,
    pub services: Vec<String>,
    pub populations: Vec<String>,
}

/// See [`Listable`]; nothing personal is read, so nothing is audited.
pub fn listable(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    logro: u8,
) -> Result<Listable> {
    if !actor.can(Permission::RegistryRead) {
        return Ok(Listable::default());
    }
    let fields = visible_fields(store, actor)?;
    let ok = |service: Option<&str>, population: Option<&str>| {
        figure_of(
            catalogue,
            &UnitsQuery {
                logro,
                service: service.map(str::to_string),
                population: population.map(str::to_string),
                ..UnitsQuery::default()
            },
            &fields,
        )
        .is_ok()
    };
    let Some(category) = Category::ALL.into_iter().find(|c| c.logro() == logro) else {
        return Ok(Listable::default());
    };
    let populations: &[&str] = match category.unit() {
        UnitKind::Person => &vamos_engine::logros::PERSON_BREAKDOWNS,
        UnitKind::Household => &vamos_engine::logros::HOUSEHOLD_BREAKDOWNS,
        UnitKind::Community => &vamos_engine::logros::COMMUNITY_BREAKDOWNS,
    };
    Ok(Listable {
        card: ok(None, None),
        services: catalogue
            .nucleo(category)
            .into_iter()
            .filter_map(|i| catalogue.services.get(i))
            .map(|s| s.code.clone())
            .filter(|c| ok(Some(c), None))
            .collect(),
        populations: populations
            .iter()
            .filter(|p| ok(None, Some(p)))
            .map(|p| (*p).to_string())
            .collect(),
    })
}
