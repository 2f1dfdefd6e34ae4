//! The strategic framework (issue 38, *Marco Estratégico de Objetivos y Acciones Estratégicas*):
//! plans — multi-year, versioned — with general objectives per life-cycle category, specific
//! objectives, strategic actions (AE) with their responsible institutions and services, and
//! indicators, each with a baseline, targets and the gap per territory and year. A Logro's,
//! a service's or a population's coverage is measured, so its baseline comes from a chosen
//! measurement (named beside it) and its current value from the latest; an indicator reported
//! by hand keeps what the planners type. Plans travel as XLSX ([`xlsx`]), the format planners
//! already work in; `planes:editar` edits, `planes:leer` reads. Aggregates only: nothing here is
//! personal, and every change is audited.

pub mod xlsx;

use crate::{Actor, Error, Result};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use vamos_catalogue::Catalogue;
use vamos_domain::services::Category;
use vamos_domain::{Permission, Territory, TerritoryCode};
use vamos_engine::logros::{roll_up, DistrictLogros, LogroCounts};
use vamos_store::plans::{self as sp, Framework, Value};
use vamos_store::Store;

/// One problem found in a plan: where (sheet and row of the workbook, or the part of a JSON
/// plan), which column, the value and the Spanish reason.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    pub sheet: String,
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, fila {}, columna «{}», valor «{}»: {}",
            self.sheet, self.row, self.column, self.value, self.reason
        )
    }
}

/// Plan statuses.
pub const STATUSES: [(&str, &str); 3] = [
    ("borrador", "borrador"),
    ("vigente", "vigente"),
    ("reemplazado", "reemplazado por una versión posterior"),
];

/// Indicator kinds and their labels.
pub const KINDS: [(&str, &str); 4] = [
    ("logro", "cobertura de un Logro"),
    ("servicio", "cobertura de un servicio"),
    ("poblacion", "cobertura de una población en un Logro"),
    ("manual", "reportado a mano"),
];

/// Text limits of a plan's cells (characters).
const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 2000;
/// The most values (indicator × territory × year) one plan holds: every district for a few
/// dozen indicators over a plan's years.
pub const VALUES_MAX: usize = 200_000;
/// The most objectives, actions or indicators one plan holds (the 2019 framework prioritised 46
/// strategic actions).
pub const ITEMS_MAX: usize = 2_000;
/// The most problems reported at once: the rest are counted in a last line.
pub const PROBLEMS_SHOWN: usize = 500;

/// `problems` cut to [`PROBLEMS_SHOWN`], with a last line counting the rest.
pub fn shown(mut problems: Vec<Problem>) -> Vec<Problem> {
    if problems.len() > PROBLEMS_SHOWN {
        let more = problems.len() - PROBLEMS_SHOWN;
        problems.truncate(PROBLEMS_SHOWN);
        problems.push(Problem {
            sheet: String::new(),
            row: 0,
            column: String::new(),
            value: String::new(),
            reason: format!("y {more} problemas más: corrija los anteriores y vuelva a intentar"),
        });
    }
    problems
}

/// Where each item of a framework came from (workbook rows), for problems to point at.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub objectives: Vec<u64>,
    pub actions: Vec<u64>,
    pub indicators: Vec<u64>,
    pub values: Vec<u64>,
}

fn row_of(rows: &[u64], i: usize) -> u64 {
    rows.get(i).copied().unwrap_or(i as u64 + 2)
}

/// Checks a whole framework against the catalogue and `actor`'s territorial scope: every
/// problem at once (empty: it may be stored).
#[allow(clippy::too_many_lines)] // reason: one rule per field, in the workbook's order
pub fn check(f: &Framework, rows: &Rows, catalogue: &Catalogue, actor: &Actor) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |sheet: &str, row: u64, column: &str, value: &str, reason: String| {
        out.push(Problem {
            sheet: sheet.into(),
            row,
            column: column.into(),
            value: value.chars().take(80).collect(),
            reason,
        });
    };
    let p = &f.plan;
    if p.name.trim().is_empty() || p.name.chars().count() > NAME_MAX {
        bad(
            "Plan",
            2,
            "nombre",
            &p.name,
            format!("el plan necesita un nombre de 1 a {NAME_MAX} caracteres"),
        );
    }
    if p.version < 1 {
        bad(
            "Plan",
            3,
            "version",
            &p.version.to_string(),
            "la versión es un número desde 1".into(),
        );
    }
    if !(2000..=2100).contains(&p.period_from) || !(p.period_from..=2100).contains(&p.period_to) {
        bad(
            "Plan",
            4,
            "desde/hasta",
            &format!("{}–{}", p.period_from, p.period_to),
            "el período va de un año a otro igual o posterior, entre 2000 y 2100".into(),
        );
    }
    if !STATUSES.iter().any(|(c, _)| *c == p.status) {
        bad(
            "Plan",
            6,
            "estado",
            &p.status,
            "estado desconocido: borrador, vigente o reemplazado".into(),
        );
    }
    let text_ok = |s: &str| !s.trim().is_empty() && s.chars().count() <= TEXT_MAX;
    for (sheet, n) in [
        ("Objetivos", f.objectives.len()),
        ("Acciones", f.actions.len()),
        ("Indicadores", f.indicators.len()),
    ] {
        if n > ITEMS_MAX {
            bad(
                sheet,
                1,
                "",
                &n.to_string(),
                format!("demasiadas filas: a lo sumo {ITEMS_MAX}"),
            );
            return out;
        }
    }
    let generals: BTreeSet<&str> = f
        .objectives
        .iter()
        .filter(|o| o.parent.is_none())
        .map(|o| o.code.as_str())
        .collect();
    let objectives: BTreeSet<&str> = f.objectives.iter().map(|o| o.code.as_str()).collect();
    let mut codes = BTreeSet::new();
    for (i, o) in f.objectives.iter().enumerate() {
        let r = row_of(&rows.objectives, i);
        if o.code.trim().is_empty() || !codes.insert(o.code.as_str()) {
            bad(
                "Objetivos",
                r,
                "codigo",
                &o.code,
                "código vacío o repetido".into(),
            );
        }
        match &o.parent {
            None => {
                if o.category.as_deref().and_then(category_of).is_none() {
                    bad("Objetivos", r, "categoria", o.category.as_deref().unwrap_or(""), "un objetivo general es de una categoría del ciclo de vida (p. ej. ninez, adolescencia, hogares)".into());
                }
            }
            Some(g) => {
                if !generals.contains(g.as_str()) {
                    bad(
                        "Objetivos",
                        r,
                        "objetivo_general",
                        g,
                        "no hay un objetivo general con ese código".into(),
                    );
                }
            }
        }
        if !text_ok(&o.description) {
            bad(
                "Objetivos",
                r,
                "descripcion",
                &o.description,
                format!("descripción vacía o de más de {TEXT_MAX} caracteres"),
            );
        }
    }
    let mut ae = BTreeSet::new();
    for (i, a) in f.actions.iter().enumerate() {
        let r = row_of(&rows.actions, i);
        if a.code.trim().is_empty() || !ae.insert(a.code.as_str()) {
            bad(
                "Acciones",
                r,
                "codigo",
                &a.code,
                "código vacío o repetido".into(),
            );
        }
        if !objectives.contains(a.objective.as_str()) {
            bad(
                "Acciones",
                r,
                "objetivo",
                &a.objective,
                "no hay un objetivo con ese código".into(),
            );
        }
        if !text_ok(&a.description) {
            bad(
                "Acciones",
                r,
                "descripcion",
                &a.description,
                format!("descripción vacía o de más de {TEXT_MAX} caracteres"),
            );
        }
        if a.institutions.is_empty() {
            bad(
                "Acciones",
                r,
                "instituciones",
                "",
                "toda acción estratégica tiene al menos una institución responsable".into(),
            );
        }
        for inst in &a.institutions {
            if !catalogue.institutions.iter().any(|x| &x.code == inst) {
                bad(
                    "Acciones",
                    r,
                    "instituciones",
                    inst,
                    "institución desconocida en el catálogo".into(),
                );
            }
        }
        for s in &a.services {
            if !catalogue.services.iter().any(|x| &x.code == s) {
                bad(
                    "Acciones",
                    r,
                    "servicios",
                    s,
                    "servicio desconocido en el catálogo".into(),
                );
            }
        }
    }
    let mut inds = BTreeMap::new();
    for (i, ind) in f.indicators.iter().enumerate() {
        let r = row_of(&rows.indicators, i);
        if ind.code.trim().is_empty() || inds.insert(ind.code.as_str(), ind.kind.as_str()).is_some()
        {
            bad(
                "Indicadores",
                r,
                "codigo",
                &ind.code,
                "código vacío o repetido".into(),
            );
        }
        if !ae.contains(ind.action.as_str()) {
            bad(
                "Indicadores",
                r,
                "accion",
                &ind.action,
                "no hay una acción estratégica con ese código".into(),
            );
        }
        if !text_ok(&ind.name) {
            bad(
                "Indicadores",
                r,
                "nombre",
                &ind.name,
                format!("nombre vacío o de más de {TEXT_MAX} caracteres"),
            );
        }
        if !KINDS.iter().any(|(k, _)| *k == ind.kind) {
            bad(
                "Indicadores",
                r,
                "tipo",
                &ind.kind,
                "tipo desconocido: logro, servicio, poblacion o manual".into(),
            );
        } else if let Err(reason) = reference_ok(&ind.kind, &ind.reference, catalogue) {
            bad("Indicadores", r, "referencia", &ind.reference, reason);
        }
    }
    if f.values.len() > VALUES_MAX {
        bad(
            "Metas",
            1,
            "",
            &f.values.len().to_string(),
            format!("demasiadas filas: a lo sumo {VALUES_MAX}"),
        );
        return out;
    }
    let mut keys = BTreeSet::new();
    for (i, v) in f.values.iter().enumerate() {
        let r = row_of(&rows.values, i);
        let kind = inds.get(v.indicator.as_str()).copied();
        if kind.is_none() {
            bad(
                "Metas",
                r,
                "indicador",
                &v.indicator,
                "no hay un indicador con ese código".into(),
            );
        }
        match TerritoryCode::parse(&v.territory)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                if v.territory.trim().is_empty() {
                    Err("vacío: escriba PY para el país".to_string())
                } else {
                    Ok(t)
                }
            }) {
            Err(e) => bad(
                "Metas",
                r,
                "territorio",
                &v.territory,
                format!("territorio inválido: {e}"),
            ),
            Ok(t) if !actor.scope.covers(t) => bad(
                "Metas",
                r,
                "territorio",
                &v.territory,
                "fuera de su ámbito territorial".into(),
            ),
            Ok(_) => {}
        }
        if !(p.period_from..=p.period_to).contains(&v.year) {
            bad(
                "Metas",
                r,
                "anio",
                &v.year.to_string(),
                format!(
                    "fuera del período del plan ({}–{})",
                    p.period_from, p.period_to
                ),
            );
        }
        if !keys.insert((v.indicator.as_str(), v.territory.as_str(), v.year)) {
            bad(
                "Metas",
                r,
                "anio",
                &v.year.to_string(),
                "fila repetida: el mismo indicador, territorio y año".into(),
            );
        }
        let coverage = kind.is_some_and(|k| k != "manual");
        for (col, x) in [
            ("linea_de_base", v.baseline),
            ("meta", v.target),
            ("valor_reportado", v.reported),
        ] {
            if let Some(x) = x {
                if !x.is_finite() || (coverage && !(0.0..=1.0).contains(&x)) {
                    bad(
                        "Metas",
                        r,
                        col,
                        &x.to_string(),
                        "una cobertura va de 0 a 1 (0,7 o 70 %)".into(),
                    );
                }
            }
        }
        if coverage && v.reported.is_some() {
            bad("Metas", r, "valor_reportado", "", "el valor de un indicador medido sale de las mediciones: se reporta a mano solo el de un indicador manual".into());
        }
    }
    out
}

/// A territory code as the system writes it: `PY`, `DD` or `DDdd` — a number a spreadsheet
/// stripped of its leading zero (`2`, `201`) gets it back; what does not parse stays as typed
/// for [`check`] to report (an empty cell too: it is not the nation).
pub fn normal_territory(s: &str) -> String {
    let t = s.trim();
    let padded = match t.len() {
        1 | 3 if t.bytes().all(|b| b.is_ascii_digit()) => format!("0{t}"),
        _ => t.to_string(),
    };
    if padded.is_empty() {
        return padded;
    }
    TerritoryCode::parse(&padded).map_or(padded, |c| c.to_string())
}

/// A life-cycle category by its code or its label (`ninez` or `5–13`).
pub fn category_of(s: &str) -> Option<Category> {
    let s = s.trim();
    Category::parse(s).or_else(|| {
        Category::ALL
            .into_iter()
            .find(|c| c.label().eq_ignore_ascii_case(s) || c.label().replace('–', "-") == s)
    })
}

fn reference_ok(
    kind: &str,
    reference: &str,
    catalogue: &Catalogue,
) -> std::result::Result<(), String> {
    match kind {
        "logro" => logro_of(reference)
            .map(|_| ())
            .ok_or_else(|| "el número de un Logro, del 1 al 10".into()),
        "servicio" => catalogue
            .services
            .iter()
            .any(|s| s.code == reference)
            .then_some(())
            .ok_or_else(|| "el código de un servicio del catálogo".into()),
        "poblacion" => population_of(reference)
            .map(|_| ())
            .ok_or_else(|| "«Logro:población», p. ej. «4:pobreza», «8:mujeres» o «9:rural»".into()),
        _ => Ok(()),
    }
}

fn logro_of(s: &str) -> Option<u8> {
    s.trim().parse::<u8>().ok().filter(|n| (1..=10).contains(n))
}

/// `Logro:population`, the population one the Logro's units are broken down by (a person's,
/// a household's or a community's).
fn population_of(s: &str) -> Option<(u8, &str)> {
    use vamos_domain::cases::UnitKind;
    let (l, p) = s.split_once(':')?;
    let logro = logro_of(l)?;
    let kind = match logro {
        9 => UnitKind::Hogar,
        10 => UnitKind::Comunidad,
        _ => UnitKind::Persona,
    };
    Some((logro, kind.populations().iter().find(|k| **k == p.trim())?))
}

/// An indicator's measured value in a rolled-up table: coverage (protected / identified),
/// `None` for a manual indicator or nothing to measure.
pub fn measured(kind: &str, reference: &str, table: &[LogroCounts]) -> Option<f64> {
    let ratio = |p: u64, n: u64| (n > 0).then(|| p as f64 / n as f64);
    match kind {
        "logro" => {
            let l = logro_of(reference)?;
            let c = &table.iter().find(|x| x.logro == l)?.all;
            ratio(c.protected, c.identified)
        }
        "servicio" => {
            let s = table
                .iter()
                .flat_map(|l| &l.services)
                .find(|s| s.service == reference)?;
            ratio(s.protected, s.applicable)
        }
        "poblacion" => {
            let (l, p) = population_of(reference)?;
            let c = table.iter().find(|x| x.logro == l)?.breakdowns.get(p)?;
            ratio(c.protected, c.identified)
        }
        _ => None,
    }
}

/// Fills the empty baselines of measured indicators from measurement `m` (its districts'
/// figures), in the territories `actor` reads without suppression; the baselines filled.
pub fn fill_baselines(
    f: &mut Framework,
    m: i64,
    districts: &[DistrictLogros],
    actor: &Actor,
    overwrite: bool,
) -> usize {
    let kinds: BTreeMap<&str, (&str, &str)> = f
        .indicators
        .iter()
        .map(|i| (i.code.as_str(), (i.kind.as_str(), i.reference.as_str())))
        .collect();
    let mut tables: BTreeMap<String, Vec<LogroCounts>> = BTreeMap::new();
    let mut filled = 0;
    for v in &mut f.values {
        if v.baseline.is_some() && !overwrite {
            continue;
        }
        let Some((kind, reference)) = kinds.get(v.indicator.as_str()) else {
            continue;
        };
        let Ok(t) = TerritoryCode::parse(&v.territory) else {
            continue;
        };
        if *kind == "manual" || !crate::measurements::reads_unsuppressed(actor, t) {
            continue;
        }
        let table = tables
            .entry(v.territory.clone())
            .or_insert_with(|| roll_up(districts, t));
        if let Some(x) = measured(kind, reference, table) {
            v.baseline = Some(x);
            v.baseline_measurement = Some(m);
            filled += 1;
        }
    }
    filled
}

/// What storing a plan did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    pub plan: i64,
    pub name: String,
    pub version: i64,
    pub objectives: usize,
    pub actions: usize,
    pub indicators: usize,
    pub values: usize,
    /// Baselines taken from a measurement (`measurement` names it).
    pub baselines_filled: usize,
    pub measurement: Option<i64>,
}

/// Checks and stores framework `f` whole, as `actor` (`planes:editar`); its empty baselines are
/// filled from the latest measurement. `Err(problems)` inside: nothing was stored.
pub fn store(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    mut f: Framework,
    rows: &Rows,
    source: &str,
) -> Result<std::result::Result<Stored, Vec<Problem>>> {
    actor.require(Permission::PlansEdit)?;
    // Territories as the system writes them (a spreadsheet turns `02` into `2`).
    for v in &mut f.values {
        v.territory = normal_territory(&v.territory);
    }
    let mut problems = check(&f, rows, catalogue, actor);
    // Replacing a plan replaces all its values: only an editor whose scope covers them all.
    let existing = sp::list(&mut store.db())?
        .into_iter()
        .find(|p| p.name == f.plan.name && p.version == f.plan.version);
    if let Some(p) = existing {
        let before = sp::get(&mut store.db(), p.id)?.unwrap_or_default();
        if before
            .values
            .iter()
            .any(|v| TerritoryCode::parse(&v.territory).is_ok_and(|t| !actor.scope.covers(t)))
        {
            return Err(Error::forbidden(format!(
                "el plan «{}» versión {} tiene metas fuera de su ámbito territorial: no puede reemplazarlo",
                p.name, p.version
            )));
        }
    }
    // A baseline that names its measurement is taken from it (a typed one names none).
    let named: BTreeSet<i64> = f
        .values
        .iter()
        .filter_map(|v| v.baseline_measurement)
        .collect();
    for m in named {
        match crate::measurements::measurement_districts(store, Some(m)).map_err(Error::internal)? {
            Some((rec, d)) => {
                let mut part = Framework {
                    indicators: f.indicators.clone(),
                    values: f
                        .values
                        .iter()
                        .filter(|v| v.baseline_measurement == Some(m))
                        .map(|v| Value {
                            baseline_measurement: None,
                            ..v.clone()
                        })
                        .collect(),
                    ..Framework::default()
                };
                fill_baselines(&mut part, rec.id, &d, actor, true);
                let mut taken = part.values.into_iter();
                for v in f
                    .values
                    .iter_mut()
                    .filter(|v| v.baseline_measurement == Some(m))
                {
                    if let Some(x) = taken.next() {
                        *v = x;
                    }
                }
            }
            None => problems.push(Problem {
                sheet: "Metas".into(),
                row: 0,
                column: "medicion".into(),
                value: m.to_string(),
                reason: "no existe esa medición: vea vamos measurements list".into(),
            }),
        }
    }
    for v in &mut f.values {
        if v.baseline_measurement.is_none() || v.baseline.is_none() {
            v.baseline_measurement = None;
        }
    }
    if !problems.is_empty() {
        actor.audit(
            store,
            "importar plan",
            "plan",
            &f.plan.name,
            "planificación",
            &format!("rechazado: {} problemas ({source})", problems.len()),
        )?;
        return Ok(Err(shown(problems)));
    }
    let at = crate::clock::now_rfc3339();
    f.plan.created_by = actor.name.clone();
    f.plan.created_at = at.clone();
    f.plan.updated_at = at;
    let latest =
        crate::measurements::measurement_districts(store, None).map_err(Error::internal)?;
    let (filled, measurement) = match &latest {
        Some((m, d)) => (fill_baselines(&mut f, m.id, d, actor, false), Some(m.id)),
        None => (0, None),
    };
    let id = sp::store(&mut store.db(), &f)?;
    actor.audit(
        store,
        "importar plan",
        "plan",
        &id.to_string(),
        "planificación",
        &format!("ok: {} v{} ({source})", f.plan.name, f.plan.version),
    )?;
    Ok(Ok(Stored {
        plan: id,
        name: f.plan.name,
        version: f.plan.version,
        objectives: f.objectives.len(),
        actions: f.actions.len(),
        indicators: f.indicators.len(),
        values: f.values.len(),
        baselines_filled: filled,
        measurement: measurement.filter(|_| filled > 0),
    }))
}

/// Every plan's header, for those who read plans.
pub fn list(store: &mut dyn Store, actor: &Actor) -> Result<Vec<sp::Plan>> {
    actor.require(Permission::PlansRead)?;
    Ok(sp::list(&mut store.db())?)
}

/// Plan `id` as stored, for those who read plans — without the measured baselines of the
/// territories the reader does not see unsuppressed (they are its figures).
pub fn get(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Framework> {
    actor.require(Permission::PlansRead)?;
    let mut f = sp::get(&mut store.db(), id)?
        .ok_or_else(|| Error::not_found(format!("no existe el plan {id}")))?;
    redact(&mut f, actor);
    Ok(f)
}

/// Clears the baselines of measured indicators in territories `actor` does not read
/// unsuppressed (a manual indicator's baseline is what planners typed, not a figure).
fn redact(f: &mut Framework, actor: &Actor) {
    let measured: BTreeSet<&str> = f
        .indicators
        .iter()
        .filter(|i| i.kind != "manual")
        .map(|i| i.code.as_str())
        .collect();
    for v in &mut f.values {
        let hidden = TerritoryCode::parse(&v.territory)
            .is_ok_and(|t| !crate::measurements::reads_unsuppressed(actor, t));
        if hidden && measured.contains(v.indicator.as_str()) {
            v.baseline = None;
            v.baseline_measurement = None;
        }
    }
}

/// Plan `id` as people read it: the objectives' tree down to each indicator's values, with
/// each value's gap (target − baseline) and, for measured indicators in the territories the
/// reader sees without suppression, the latest measurement's value and the gap left.
pub fn view(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Json> {
    let f = get(store, actor, id)?;
    let latest =
        crate::measurements::measurement_districts(store, None).map_err(Error::internal)?;
    let mut tables: BTreeMap<String, Option<Vec<LogroCounts>>> = BTreeMap::new();
    let mut now = |kind: &str, reference: &str, territory: &str| -> Option<f64> {
        let (_, d) = latest.as_ref()?;
        let table = tables.entry(territory.to_string()).or_insert_with(|| {
            let t = TerritoryCode::parse(territory).ok()?;
            crate::measurements::reads_unsuppressed(actor, t).then(|| roll_up(d, t))
        });
        measured(kind, reference, table.as_ref()?)
    };
    let action_json = |a: &sp::Action,
                       now: &mut dyn FnMut(&str, &str, &str) -> Option<f64>|
     -> Json {
        let indicators: Vec<Json> = f
            .indicators
            .iter()
            .filter(|i| i.action == a.code)
            .map(|i| {
                let values: Vec<Json> = f
                    .values
                    .iter()
                    .filter(|v| v.indicator == i.code)
                    .map(|v| value_json(i, v, now))
                    .collect();
                json!({"code": i.code, "name": i.name, "kind": i.kind, "kind_label": kind_label(&i.kind), "reference": i.reference, "values": values})
            })
            .collect();
        json!({"code": a.code, "description": a.description, "institutions": a.institutions, "services": a.services, "indicators": indicators})
    };
    let mut general = Vec::new();
    for g in f.objectives.iter().filter(|o| o.parent.is_none()) {
        let mut specific = Vec::new();
        let direct: Vec<Json> = f
            .actions
            .iter()
            .filter(|a| a.objective == g.code)
            .map(|a| action_json(a, &mut now))
            .collect();
        if !direct.is_empty() {
            specific.push(json!({"code": g.code, "description": "Acciones del objetivo general", "actions": direct}));
        }
        for s in f
            .objectives
            .iter()
            .filter(|o| o.parent.as_deref() == Some(g.code.as_str()))
        {
            let actions: Vec<Json> = f
                .actions
                .iter()
                .filter(|a| a.objective == s.code)
                .map(|a| action_json(a, &mut now))
                .collect();
            specific
                .push(json!({"code": s.code, "description": s.description, "actions": actions}));
        }
        let category = g.category.as_deref().and_then(category_of);
        general.push(json!({"code": g.code, "category": category.map(Category::code), "category_label": category.map(Category::label), "description": g.description, "specific": specific}));
    }
    actor.audit(
        store,
        "consultar plan",
        "plan",
        &id.to_string(),
        "planificación",
        "ok",
    )?;
    Ok(json!({
        "plan": f.plan,
        "status_label": STATUSES.iter().find(|(c, _)| *c == f.plan.status).map_or("", |(_, l)| *l),
        "latest_measurement": latest.as_ref().map(|(m, _)| json!({"id": m.id, "as_of": m.as_of, "synthetic": m.synthetic})),
        "objectives": general,
    }))
}

/// One value of an indicator as people read it: baseline, target, gap (target − baseline), the
/// latest value (`now`: measured, or as reported by hand) and the gap left.
fn value_json(
    i: &sp::Indicator,
    v: &Value,
    now: &mut dyn FnMut(&str, &str, &str) -> Option<f64>,
) -> Json {
    let current = if i.kind == "manual" {
        v.reported
    } else {
        now(&i.kind, &i.reference, &v.territory)
    };
    let territory = TerritoryCode::parse(&v.territory).map_or_else(
        |_| json!({"code": v.territory}),
        crate::measurements::territory_json,
    );
    json!({
        "territory": territory, "year": v.year,
        "baseline": v.baseline, "baseline_measurement": v.baseline_measurement,
        "target": v.target,
        "gap": v.target.zip(v.baseline).map(|(t, b)| t - b),
        "current": current,
        "gap_left": v.target.zip(current).map(|(t, c)| (t - c).max(0.0)),
        "reported": v.reported,
    })
}

/// The Spanish label of an indicator kind.
pub fn kind_label(kind: &str) -> &str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind, |(_, l)| l)
}

/// A value to set on a plan (the web's and the API's edit): a field left out (or null) keeps
/// what the row has.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SetValue {
    pub indicator: String,
    pub territory: String,
    pub year: i64,
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub reported: Option<f64>,
}

/// Sets targets (and values reported by hand) on plan `id`, as `actor` (`planes:editar`), all
/// or none, keeping each row's baseline; for a new row of a measured indicator the baseline is
/// taken from the latest measurement.
pub fn set_values(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    set: &[SetValue],
) -> Result<usize> {
    actor.require(Permission::PlansEdit)?;
    let mut f = sp::get(&mut store.db(), id)?
        .ok_or_else(|| Error::not_found(format!("no existe el plan {id}")))?;
    for s in set {
        let t = crate::registry::parse_territory(Some(&s.territory))?.to_string();
        match f
            .values
            .iter_mut()
            .find(|v| v.indicator == s.indicator && v.territory == t && v.year == s.year)
        {
            Some(v) => {
                v.target = s.target.or(v.target);
                v.reported = s.reported.or(v.reported);
            }
            None => f.values.push(Value {
                indicator: s.indicator.clone(),
                territory: t,
                year: s.year,
                target: s.target,
                reported: s.reported,
                ..Value::default()
            }),
        }
    }
    let problems = check(&f, &Rows::default(), catalogue, actor);
    if let Some(p) = problems.first() {
        return Err(Error::bad_request(format!(
            "{}: {} (valor «{}»)",
            p.column, p.reason, p.value
        )));
    }
    if let Some((m, d)) =
        crate::measurements::measurement_districts(store, None).map_err(Error::internal)?
    {
        fill_baselines(&mut f, m.id, &d, actor, false);
    }
    let changed: Vec<Value> = f
        .values
        .iter()
        .filter(|v| {
            set.iter().any(|s| {
                s.indicator == v.indicator
                    && s.year == v.year
                    && TerritoryCode::parse(&s.territory)
                        .is_ok_and(|t| t.to_string() == v.territory)
            })
        })
        .cloned()
        .collect();
    sp::set_values(&mut store.db(), id, &changed, &crate::clock::now_rfc3339())?;
    actor.audit(
        store,
        "editar plan",
        "plan",
        &id.to_string(),
        "planificación",
        &format!("ok: {} valores", changed.len()),
    )?;
    Ok(changed.len())
}

/// Takes every measured baseline of plan `id` again from measurement `measurement` (the
/// latest when `None`), as `actor` (`planes:editar`); the baselines set and the measurement.
pub fn rebase(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    measurement: Option<i64>,
) -> Result<(usize, i64)> {
    actor.require(Permission::PlansEdit)?;
    let mut f = sp::get(&mut store.db(), id)?
        .ok_or_else(|| Error::not_found(format!("no existe el plan {id}")))?;
    let Some((m, d)) =
        crate::measurements::measurement_districts(store, measurement).map_err(Error::internal)?
    else {
        return Err(Error::not_found(
            "no existe esa medición: vea vamos measurements",
        ));
    };
    let n = fill_baselines(&mut f, m.id, &d, actor, true);
    sp::set_values(&mut store.db(), id, &f.values, &crate::clock::now_rfc3339())?;
    actor.audit(
        store,
        "editar plan",
        "plan",
        &id.to_string(),
        "planificación",
        &format!("ok: {n} líneas de base de la medición {}", m.id),
    )?;
    Ok((n, m.id))
}

/// The name of a territory code for people (`02` → `San Pedro`).
pub fn territory_name(code: &str) -> String {
    TerritoryCode::parse(code)
        .map_or_else(|_| code.to_string(), |t| Territory::official().name_of(t))
}

/// A service's target in a territory, from the plans in force: its service-coverage
/// indicators' next target (the earliest year ≥ `from`) set for `t` itself, an official plan's
/// before an illustrative one's — what a dashboard shows beside each service row (aggregates
/// only: not audited).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceTarget {
    pub service: String,
    pub year: i64,
    pub coverage: f64,
    pub plan: String,
    pub illustrative: bool,
}

/// The [`ServiceTarget`]s of `t` from year `from` on.
pub fn service_targets(
    store: &mut dyn Store,
    t: TerritoryCode,
    from: i64,
) -> Result<Vec<ServiceTarget>> {
    let mut out: Vec<ServiceTarget> = Vec::new();
    for (service, year, coverage, plan, illustrative) in
        sp::service_targets(&mut store.db(), &t.to_string(), from)?
    {
        if !out.iter().any(|x| x.service == service) {
            out.push(ServiceTarget {
                service,
                year,
                coverage,
                plan,
                illustrative,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::normal_territory;

    #[test]
    fn a_territory_a_spreadsheet_made_a_number_gets_its_leading_zero_back() {
        for (typed, normal) in [
            ("2", "02"),
            ("02", "02"),
            ("201", "0201"),
            ("1116", "1116"),
            ("py", "PY"),
            (" PY ", "PY"),
            ("", ""),
            ("99", "99"),
        ] {
            assert_eq!(normal_territory(typed), normal, "{typed}");
        }
    }
}
