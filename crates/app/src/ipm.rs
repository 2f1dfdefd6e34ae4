//! Multidimensional poverty (issue 39): the official method (INE's, shipped as data in
//! `catalogue/ipm/`), its cells computed with each measurement and kept with it, the figures of
//! any territory read from them — H, A and M0 over persons (INE's convention) and households,
//! by area and population of special attention, over a list of cut-offs, and the change from
//! another measurement — and the figures of any table of indicator deprivations (`vamos ipm
//! compute`, to check a method on any dataset). The computation is `vamos_engine::ipm`.

use crate::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;
use vamos_domain::{Territory, TerritoryCode};
use vamos_engine::ipm::registry::{figures, Area, Cells, Over, POPULATIONS};
use vamos_engine::ipm::{compute, Figures, Method, Unit};
use vamos_store::Store;

/// A measurement's cells within `t`, computing and keeping them first when the measurement
/// predates the index (which reads the registry as its figures stand: `RegistryLoad`).
fn cells_of(
    store: &mut dyn Store,
    actor: &crate::Actor,
    m: &vamos_store::MeasurementRecord,
    t: TerritoryCode,
    readers: usize,
) -> Result<Vec<(u16, Cells)>> {
    let method = crate::ipm_method::official()?;
    let mut rows = vamos_store::ipm::districts(&mut store.db(), m.id, 0, u16::MAX)?;
    let stale = rows
        .iter()
        .any(|(_, version, _)| *version != method.method.version);
    if stale && !actor.can(vamos_domain::Permission::RegistryLoad) {
        return Err(Error::conflict(format!(
            "el IPM de la medición {} se calculó con otra versión del método: pida a quien clasifica que lo calcule de nuevo («vamos ipm --measurement {}»)",
            m.id, m.id
        )));
    }
    if rows.is_empty() || stale {
        actor.require(vamos_domain::Permission::RegistryLoad)?;
        let scope =
            TerritoryCode::parse(&m.territory).map_err(|e| Error::internal(e.to_string()))?;
        let (data, as_of, _) =
            crate::measurements::registry_as_figures_stand(store, m, scope, readers)?;
        let cells = crate::ipm_method::district_cells(method, &data, as_of)?;
        vamos_store::ipm::save(&mut store.db(), m.id, &method.method.version, &cells)?;
        actor.audit(
            store,
            "calcular",
            "IPM de la medición",
            &m.id.to_string(),
            if stale {
                "pobreza multidimensional con la versión vigente del método"
            } else {
                "pobreza multidimensional de una medición anterior al índice"
            },
            &format!("ok: {} distritos", cells.len()),
        )?;
        rows = vamos_store::ipm::districts(&mut store.db(), m.id, 0, u16::MAX)?;
    }
    rows.into_iter()
        .filter(|(d, _, _)| {
            vamos_domain::DistrictCode::from_number(*d).is_ok_and(|d| t.contains(d))
        })
        .map(|(d, _, cells)| {
            let c = serde_json::from_str(&cells).map_err(|e| Error::internal(e.to_string()))?;
            Ok((d, c))
        })
        .collect()
}

/// The figures of some cells; `Value` with the fields of [`Figures`].
fn figures_json(cells: &[&Cells], over: Over, area: Area, k: Option<f64>) -> Result<Value> {
    let f = figures(&crate::ipm_method::official()?.method, cells, over, area, k)
        .map_err(Error::bad_request)?;
    let mut v = serde_json::to_value(&f).map_err(|e| Error::internal(e.to_string()))?;
    without_figures_if_empty(&mut v, f.weight);
    Ok(v)
}

/// Nobody counted (no household there, or every one sin dato): H, A and M0 are unknown, not 0 —
/// a map would otherwise paint that territory as the least poor.
fn without_figures_if_empty(v: &mut Value, weight: f64) {
    if weight > 0.0 {
        return;
    }
    if let Value::Object(o) = v {
        for key in ["H", "A", "M0"] {
            o.insert(key.into(), Value::Null);
        }
    }
}

/// What `vamos ipm --db` and `/api/ipm` ask.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub measurement: Option<i64>,
    pub territory: Option<TerritoryCode>,
    pub k: Option<f64>,
    /// Cut-offs for the robustness table (the method's and a few around it when empty).
    pub ks: Vec<f64>,
    /// A measurement to compare with (changes, absolute and relative).
    pub compare: Option<i64>,
    pub readers: usize,
}

/// The index of a territory (the nation by default) at a measurement (the latest by default),
/// for `actor`, who needs to read the Logros there (aggregates, not persons): H, A, M0 over
/// persons with every indicator's headcounts and contributions, the same over households, by
/// area, by population of special attention, the territories one level down, the robustness
/// over cut-offs and the change from another measurement.
pub fn report(store: &mut dyn Store, actor: &crate::Actor, ask: &Ask) -> Result<Value> {
    let t = ask.territory.unwrap_or(TerritoryCode::Nation);
    actor.require(vamos_domain::Permission::LogrosRead)?;
    if !crate::measurements::reads_unsuppressed(actor, t) {
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(t)
        )));
    }
    let Some((m, _)) = store.measurement(ask.measurement)? else {
        return Err(Error::not_found(match ask.measurement {
            Some(id) => format!("no hay una medición número {id}"),
            None => "no hay mediciones: ejecute «vamos classify» primero".into(),
        }));
    };
    let cells = cells_of(store, actor, &m, t, ask.readers.max(1))?;
    let parts: Vec<&Cells> = cells.iter().map(|(_, c)| c).collect();
    let method = &crate::ipm_method::official()?.method;
    let k = ask.k.unwrap_or(method.k);
    let mut out = figures_json(&parts, Over::Persons, Area::All, Some(k))?;
    let households = figures_json(&parts, Over::Households, Area::All, Some(k))?;
    let mut areas = serde_json::Map::new();
    for (name, a) in [("urbana", Area::Urban), ("rural", Area::Rural)] {
        areas.insert(
            name.into(),
            figures_json(&parts, Over::Persons, a, Some(k))?,
        );
    }
    let mut populations = serde_json::Map::new();
    for (i, name) in POPULATIONS.iter().enumerate() {
        populations.insert(
            (*name).into(),
            figures_json(&parts, Over::Population(i), Area::All, Some(k))?,
        );
    }
    if ask.ks.len() > 20 {
        return Err(Error::bad_request(
            "a lo sumo 20 cortes en la tabla de robustez",
        ));
    }
    let ks = if ask.ks.is_empty() {
        vec![0.20, 0.26, 0.33, 0.40, 0.50]
    } else {
        ask.ks.clone()
    };
    let mut robustness = Vec::new();
    for kk in ks {
        let f = figures(method, &parts, Over::Persons, Area::All, Some(kk))
            .map_err(Error::bad_request)?;
        let mut x = json!({"k": kk, "H": f.h, "A": f.a, "M0": f.m0});
        without_figures_if_empty(&mut x, f.weight);
        robustness.push(x);
    }
    let below = crate::suppression::children(t);
    let mut territories = Vec::new();
    for s in below {
        let mine: Vec<&Cells> = cells
            .iter()
            .filter(|(d, _)| {
                vamos_domain::DistrictCode::from_number(*d).is_ok_and(|d| s.contains(d))
            })
            .map(|(_, c)| c)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let f = figures(method, &mine, Over::Persons, Area::All, Some(k))
            .map_err(Error::bad_request)?;
        let mut x = json!({"territory": s.to_string(), "name": Territory::official().name_of(s),
            "H": f.h, "A": f.a, "M0": f.m0, "missing_share": f.missing_share, "persons": f.weight, "households": f.units});
        without_figures_if_empty(&mut x, f.weight);
        territories.push(x);
    }
    if let Value::Object(o) = &mut out {
        o.insert("territory".into(), json!(t.to_string()));
        o.insert(
            "territory_name".into(),
            json!(Territory::official().name_of(t)),
        );
        o.insert(
            "measurement".into(),
            json!({"id": m.id, "as_of": m.as_of, "synthetic": m.synthetic}),
        );
        o.insert("households".into(), households);
        o.insert("areas".into(), Value::Object(areas));
        o.insert("populations".into(), Value::Object(populations));
        o.insert("robustness".into(), Value::Array(robustness));
        o.insert("territories".into(), Value::Array(territories));
        if let Some(other) = ask.compare {
            let before = report(
                store,
                actor,
                &Ask {
                    measurement: Some(other),
                    compare: None,
                    ks: vec![k],
                    ..ask.clone()
                },
            )?;
            let change = |key: &str| {
                let (a, b) = (
                    before.get(key).and_then(Value::as_f64),
                    o.get(key).and_then(Value::as_f64),
                );
                match (a, b) {
                    (Some(a), Some(b)) => {
                        json!({"from": a, "to": b, "absolute": b - a, "relative": if a > 0.0 { json!((b - a) / a) } else { Value::Null }})
                    }
                    _ => Value::Null,
                }
            };
            let changes = json!({"measurement": other, "as_of": before.pointer("/measurement/as_of"), "H": change("H"), "A": change("A"), "M0": change("M0")});
            o.insert("change".into(), changes);
        }
    }
    Ok(out)
}

/// One territory's figures in the table of every territory ([`territories_table`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TerritoryRow {
    pub territory: String,
    pub name: String,
    pub level: &'static str,
    pub persons: Figures,
    pub households: Figures,
    pub urban_h: Option<f64>,
    pub rural_h: Option<f64>,
}

/// Every territory of a measurement — the nation, its departments and districts — over persons
/// and households with urban and rural incidence, at cut-off `k` (the method's by default):
/// what the dashboard's map and the CSV export show. Same permission as [`report`] for the
/// nation (the whole table is national).
pub fn territories_table(
    store: &mut dyn Store,
    actor: &crate::Actor,
    measurement: Option<i64>,
    k: Option<f64>,
    readers: usize,
) -> Result<(vamos_store::MeasurementRecord, Vec<TerritoryRow>)> {
    actor.require(vamos_domain::Permission::LogrosRead)?;
    if !crate::measurements::reads_unsuppressed(actor, TerritoryCode::Nation) {
        return Err(Error::forbidden(
            "la tabla de todos los territorios es nacional: pida la de su territorio",
        ));
    }
    let Some((m, _)) = store.measurement(measurement)? else {
        return Err(Error::not_found(
            "no hay mediciones: ejecute «vamos classify» primero",
        ));
    };
    let cells = cells_of(store, actor, &m, TerritoryCode::Nation, readers.max(1))?;
    let method = &crate::ipm_method::official()?.method;
    let official_t = Territory::official();
    let mut levels = vec![(TerritoryCode::Nation, "nación")];
    levels.extend(
        official_t
            .departments()
            .iter()
            .map(|d| (TerritoryCode::Department(d.code), "departamento")),
    );
    levels.extend(
        official_t
            .districts()
            .iter()
            .map(|d| (TerritoryCode::District(d.code), "distrito")),
    );
    let mut rows = Vec::with_capacity(levels.len());
    for (t, level) in levels {
        let parts: Vec<&Cells> = cells
            .iter()
            .filter(|(d, _)| {
                vamos_domain::DistrictCode::from_number(*d).is_ok_and(|d| t.contains(d))
            })
            .map(|(_, c)| c)
            .collect();
        if parts.is_empty() {
            continue;
        }
        let f = |over, area| figures(method, &parts, over, area, k).map_err(Error::bad_request);
        let (urban, rural) = (
            f(Over::Persons, Area::Urban)?,
            f(Over::Persons, Area::Rural)?,
        );
        rows.push(TerritoryRow {
            territory: t.to_string(),
            name: official_t.name_of(t),
            level,
            persons: f(Over::Persons, Area::All)?,
            households: f(Over::Households, Area::All)?,
            urban_h: (urban.weight > 0.0).then_some(urban.h),
            rural_h: (rural.weight > 0.0).then_some(rural.h),
        });
    }
    Ok((m, rows))
}

/// The table of every territory ([`territories_table`]) as CSV, through the neutralising writer
/// like every CSV: what `vamos ipm --csv` writes and the web page offers.
pub fn territories_csv(
    m: &vamos_store::MeasurementRecord,
    rows: &[TerritoryRow],
) -> Result<Vec<u8>> {
    let e = |e: csv::Error| Error::internal(e.to_string());
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(Vec::new());
    w.write_record([
        "medicion",
        "fecha_referencia",
        "sintetico",
        "territorio",
        "nombre",
        "nivel",
        "k",
        "H_personas",
        "A_personas",
        "IPM_personas",
        "H_hogares",
        "A_hogares",
        "IPM_hogares",
        "H_urbana",
        "H_rural",
        "sin_dato_personas",
        "personas",
        "hogares",
    ])
    .map_err(e)?;
    let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.6}"));
    for r in rows {
        w.write_record([
            m.id.to_string(),
            m.as_of.clone(),
            m.synthetic.to_string(),
            r.territory.clone(),
            r.name.clone(),
            r.level.to_string(),
            format!("{}", r.persons.k),
            format!("{:.6}", r.persons.h),
            format!("{:.6}", r.persons.a),
            format!("{:.6}", r.persons.m0),
            format!("{:.6}", r.households.h),
            format!("{:.6}", r.households.a),
            format!("{:.6}", r.households.m0),
            opt(r.urban_h),
            opt(r.rural_h),
            format!("{:.6}", r.persons.missing_share),
            format!("{}", r.persons.weight),
            r.households.units.to_string(),
        ])
        .map_err(e)?;
    }
    w.into_inner().map_err(|e| Error::internal(e.to_string()))
}

/// Writes the deprivation matrix of a measurement's registry to `out` as CSV — one row per
/// household, without any identifier: district, area, persons, persons of each population of
/// special attention, and each indicator (1 deprived, 0 not, empty sin dato) — so the index can
/// be checked with another tool on the same data (the benchmark runs OPHI's `mpitb` on it). It
/// reads the registry (`RegistryLoad`) and is audited. The rows written.
pub fn matrix(
    store: &mut dyn Store,
    actor: &crate::Actor,
    measurement: Option<i64>,
    readers: usize,
    out: &mut dyn std::io::Write,
) -> Result<u64> {
    actor.require(vamos_domain::Permission::RegistryLoad)?;
    let Some((m, _)) = store.measurement(measurement)? else {
        return Err(Error::not_found(
            "no hay mediciones: ejecute «vamos classify» primero",
        ));
    };
    let scope = TerritoryCode::parse(&m.territory).map_err(|e| Error::internal(e.to_string()))?;
    if !actor.operator && !actor.scope.covers(scope) {
        return Err(Error::forbidden(format!(
            "la medición {} abarca {}, fuera de su ámbito territorial",
            m.id,
            Territory::official().name_of(scope)
        )));
    }
    let written = write_matrix(store, &m, scope, readers, out);
    actor.audit(
        store,
        "exportar",
        "matriz de privaciones del IPM",
        &format!("medición {}", m.id),
        "verificación del índice con otra herramienta",
        &match &written {
            Ok(rows) => format!("ok: {rows} hogares, sin identificadores"),
            Err(e) => format!("error: {}", e.message),
        },
    )?;
    written
}

fn write_matrix(
    store: &mut dyn Store,
    m: &vamos_store::MeasurementRecord,
    scope: TerritoryCode,
    readers: usize,
    out: &mut dyn std::io::Write,
) -> Result<u64> {
    let (data, as_of, _) =
        crate::measurements::registry_as_figures_stand(store, m, scope, readers.max(1))?;
    let method = crate::ipm_method::official()?;
    let io = |e: std::io::Error| Error::internal(e.to_string());
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(out);
    let mut header: Vec<String> = ["distrito", "area", "personas"].map(String::from).to_vec();
    header.extend(POPULATIONS.iter().map(|p| (*p).to_string()));
    header.extend(method.method.indicators.iter().map(|i| i.code.clone()));
    w.write_record(&header)
        .map_err(|e| Error::internal(e.to_string()))?;
    let indigena = vamos_domain::schema::position(vamos_domain::schema::PERSON_FIELDS, "indigena")
        .and_then(|i| data.person_answers.get(i));
    let mut g = Vec::new();
    let mut rows = 0u64;
    for h in 0..data.households() {
        method.household(&data, h, as_of, &mut g);
        let members = data.members_of(h);
        let mut pops = [0u64; 5];
        for &p in members {
            let p = p as usize;
            let years = data
                .person_birth
                .get(p)
                .map_or(0, |b| vamos_engine::classify::age_years(*b, as_of));
            let is = [
                years < 18,
                data.person_woman.get(p) == Some(&true),
                years >= 60,
                data.person_disability.get(p) == Some(&1),
                indigena.and_then(|c| c.code(p)) == Some("si"),
            ];
            for (n, x) in pops.iter_mut().zip(is) {
                *n += u64::from(x);
            }
        }
        let area = data
            .area_list
            .get(usize::from(data.household_area.get(h).copied().unwrap_or(0)).wrapping_sub(1))
            .copied()
            .unwrap_or("");
        let mut rec: Vec<String> = vec![
            data.household_district
                .get(h)
                .map_or(String::new(), |d| d.to_string()),
            area.to_string(),
            members.len().to_string(),
        ];
        rec.extend(pops.iter().map(u64::to_string));
        rec.extend(g.iter().map(|x| match x {
            Some(true) => "1".to_string(),
            Some(false) => "0".to_string(),
            None => String::new(),
        }));
        w.write_record(&rec)
            .map_err(|e| Error::internal(e.to_string()))?;
        rows += 1;
    }
    w.flush().map_err(io)?;
    Ok(rows)
}

/// A household's deprivation profile at the latest measurement's reference date (today when
/// there is none): each indicator deprived or not or sin dato, with its explanation and the
/// members behind it, the weighted score and whether the household is poor. Poverty is a
/// sensitive class: beyond reading the household (in scope, audited, refused alike when absent
/// or outside), the caller's data-sharing agreement must list `pobreza`.
pub fn household_profile(
    store: &mut dyn Store,
    actor: &crate::Actor,
    id: vamos_domain::HouseholdId,
    purpose: &Option<String>,
) -> Result<Value> {
    let h = crate::registry::household(store, actor, id, purpose)?;
    profile_of(store, actor, id, &h, purpose)
}

/// [`household_profile`] of a household `h` the caller has just read through
/// `registry::household` (the web page, which shows the household too: one read, one record).
pub fn profile_of(
    store: &mut dyn Store,
    actor: &crate::Actor,
    id: vamos_domain::HouseholdId,
    h: &Value,
    purpose: &Option<String>,
) -> Result<Value> {
    let fields = crate::registry::visible_fields(store, actor)?;
    if fields.as_ref().is_some_and(|f| !f.contains("pobreza")) {
        return Err(Error::forbidden(
            "su acuerdo de intercambio de datos no incluye la pobreza (una clase sensible): el perfil de privaciones del hogar no se muestra",
        ));
    }
    let community = h
        .get("community_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::internal("hogar sin comunidad"))?;
    let measurement = store.measurement(None)?.map(|(m, _)| m);
    let as_of = measurement
        .as_ref()
        .and_then(|m| chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d").ok())
        .unwrap_or_else(crate::clock::today);
    let data =
        crate::measurements::community_data(store, vamos_domain::CommunityId(community), as_of)?;
    let hh = data
        .household_by_id(id.get())
        .ok_or_else(|| Error::not_found(format!("el hogar {id} no existía al {as_of}")))?;
    let method = crate::ipm_method::official()?;
    let decided = method.household_detail(&data, hh, as_of);
    let deprived: Vec<Option<bool>> = decided.iter().map(|d| d.deprived).collect();
    let score = method.score(&deprived);
    let mut withheld = false;
    let person = |p: &usize| data.person_id.get(*p).copied();
    let indicators: Vec<Value> = method
        .method
        .indicators
        .iter()
        .zip(&method.weights)
        .zip(&decided)
        .enumerate()
        .map(|(j, ((i, w), d))| {
            // An indicator whose rule reads an answer the agreement does not cover (an illness,
            // a job search…) is withheld: whether the household — or which member — is
            // deprived in it would tell that answer. The score and the poverty class remain.
            if method
                .rules_of(j)
                .into_iter()
                .any(|r| crate::registry::rule_hidden(r, &fields))
            {
                withheld = true;
                return json!({
                    "indicator": i.code, "name": i.name, "dimension": i.dimension, "weight": w,
                    "deprived": Value::Null, "withheld": true, "explanation": i.explanation,
                    "members_deprived": [], "members_unknown": [],
                });
            }
            json!({
                "indicator": i.code, "name": i.name, "dimension": i.dimension, "weight": w,
                "deprived": d.deprived, "explanation": i.explanation, "source": i.source,
                "members_deprived": d.members_deprived.iter().filter_map(person).collect::<Vec<_>>(),
                "members_unknown": d.members_unknown.iter().filter_map(person).collect::<Vec<_>>(),
            })
        })
        .collect();
    actor.audit(
        store,
        "leer perfil de pobreza",
        "hogar",
        &id.to_string(),
        &purpose
            .clone()
            .unwrap_or_else(|| "consulta de un hogar".into()),
        "ok",
    )?;
    Ok(json!({
        "household": id.get(),
        "district": h.get("district_code"),
        "as_of": as_of.to_string(),
        "measurement": measurement.map(|m| m.id),
        "method_version": method.method.version,
        "k": method.method.k,
        // With an indicator withheld, the score would tell it (the score less the weights shown).
        "score": if withheld { None } else { score },
        "score_withheld": withheld,
        // Deprivations known to reach k decide it even with an answer missing (as the
        // population «pobreza» does); otherwise a sin dato leaves it undecided.
        "poor": method.poor_by(&deprived),
        "indicators": indicators,
    }))
}

/// The most rows a deprivation table holds (every household of the country, with room).
pub const ROWS_MAX: usize = 5_000_000;

/// A method from its TOML file (`version`, `k`, `[[dimension]]`, `[[indicator]]`), checked.
pub fn load_method(path: &Path) -> Result<Method> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::bad_request(format!(
            "no se puede leer el método {}: {e}",
            path.display()
        ))
    })?;
    let m: Method = toml::from_str(&text)
        .map_err(|e| Error::bad_request(format!("método {} inválido: {e}", path.display())))?;
    m.weights().map_err(Error::bad_request)?;
    Ok(m)
}

/// The figures of a CSV table: a column per indicator of `method` (by its code; 1 deprived,
/// 0 not, empty sin dato) and an optional `weight` column (also `peso` or `personas`; 1 when
/// absent).
pub fn compute_table(method: &Method, table: &Path, k: Option<f64>) -> Result<Figures> {
    let file = table.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(table)
        .map_err(|e| Error::bad_request(format!("no se puede leer {file}: {e}")))?;
    let headers = rdr
        .headers()
        .map_err(|e| Error::bad_request(format!("{file}: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let mut cols = Vec::with_capacity(method.indicators.len());
    for i in &method.indicators {
        cols.push(column(&i.code).ok_or_else(|| {
            Error::bad_request(format!(
                "{file}: falta la columna del indicador «{}»",
                i.code
            ))
        })?);
    }
    // `personas`: the matrix `vamos ipm matrix` writes (INE's figures are over persons).
    let weight = column("weight")
        .or_else(|| column("peso"))
        .or_else(|| column("personas"));
    let mut units = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let row = n + 2;
        let rec = rec.map_err(|e| Error::bad_request(format!("{file}, fila {row}: {e}")))?;
        if units.len() >= ROWS_MAX {
            return Err(Error::bad_request(format!(
                "{file}: más de {ROWS_MAX} filas"
            )));
        }
        let mut deprived = Vec::with_capacity(cols.len());
        for (c, i) in cols.iter().zip(&method.indicators) {
            let v = rec.get(*c).unwrap_or("").trim();
            deprived.push(match v {
                "1" => Some(true),
                "0" => Some(false),
                "" => None,
                other => {
                    return Err(Error::bad_request(format!(
                        "{file}, fila {row}, columna «{}», valor «{}»: se espera 1 (privado), 0 (no) o vacío (sin dato)",
                        i.code,
                        other.chars().take(20).collect::<String>()
                    )))
                }
            });
        }
        let w = match weight.and_then(|c| rec.get(c)).map(str::trim) {
            None | Some("") => 1.0,
            Some(x) => x.parse::<f64>().ok().filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| {
                Error::bad_request(format!(
                    "{file}, fila {row}, columna «weight», valor «{}»: un peso es un número no negativo",
                    x.chars().take(20).collect::<String>()
                ))
            })?,
        };
        units.push(Unit {
            deprived,
            weight: w,
            count: 1,
        });
    }
    compute(method, &units, k).map_err(Error::bad_request)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_paraguay_method_has_four_dimensions_of_a_quarter_fifteen_indicators_and_k_26() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../catalogue/ipm/ine_paraguay.toml");
        let m = super::load_method(&path).unwrap_or_else(|e| panic!("{}", e.message));
        assert!((m.k - 0.26).abs() < 1e-12);
        assert_eq!(m.dimensions.len(), 4);
        assert!(m.dimensions.iter().all(|d| (d.weight - 0.25).abs() < 1e-12));
        assert_eq!(m.indicators.len(), 15);
        let w = m.weights().unwrap_or_default();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
