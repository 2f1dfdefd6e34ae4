//! Budget programmes and their execution (issue 38): the Presupuesto por Resultados as the
//! Ministry of Finance publishes it — type, programme, subprogramme, project, entity, object of
//! expenditure, source (10 treasury, 20 public credit, 30 institutional), financing body,
//! department, and the stages initial, current, obligated and paid —, read from its CSV/XLSX
//! exports through a configurable column mapping (the shipped one, `mapeo_mh.toml`, is
//! unverified: no sample of the real files was available), linked to catalogue services and
//! strategic actions, with external cooperation tagged. Then the chain the planners follow:
//! **needed** (a saved costing scenario) **vs allocated** (current budget) **vs executed**
//! (obligated, paid), per institution, service and strategic action. Public-sector figures
//! only: nothing personal; imports and reads are audited.

use crate::plans::Problem;
use crate::{Actor, Error, Result};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;
use vamos_catalogue::Catalogue;
use vamos_domain::Permission;
use vamos_ingest::table::{xlsx_sheets, TableSource};
use vamos_store::budget::{self as sb, Line};
use vamos_store::Store;

/// A column mapping (see `mapeo_mh.toml`).
#[derive(Debug, Clone, Deserialize)]
pub struct Mapping {
    pub nombre: String,
    pub verificado: bool,
    pub columnas: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub entidad_a_institucion: Vec<Link>,
    #[serde(default)]
    pub vinculo: Vec<ServiceLink>,
    #[serde(default)]
    pub cooperacion_externa: Vec<Tag>,
}

/// An entity name that contains `contiene` is institution `institucion`.
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub contiene: String,
    pub institucion: String,
}

/// A programme, subprogramme or project whose text contains `contiene` delivers `servicio`
/// (and belongs to `accion`, when given).
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceLink {
    pub contiene: String,
    pub servicio: String,
    #[serde(default)]
    pub accion: Option<String>,
}

/// A financing body that contains `contiene` is external cooperation `etiqueta`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    pub contiene: String,
    pub etiqueta: String,
}

impl Mapping {
    /// The shipped mapping (unverified).
    pub fn default_mh() -> Result<Mapping> {
        toml::from_str(include_str!("mapeo_mh.toml")).map_err(Error::internal)
    }

    /// A mapping from a TOML file.
    pub fn from_file(path: &Path) -> Result<Mapping> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_request(format!("no se puede leer el mapeo {}: {e}", path.display()))
        })?;
        toml::from_str(&text)
            .map_err(|e| Error::bad_request(format!("mapeo {} inválido: {e}", path.display())))
    }

    fn names(&self, field: &str) -> Vec<String> {
        self.columnas
            .get(field)
            .map(|v| v.iter().map(|n| fold(n)).collect())
            .unwrap_or_default()
    }
}

/// Lowercase without accents, for matching names and texts.
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' | 'ü' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Fields every budget file must carry.
const REQUIRED: [&str; 6] = [
    "anio", "entidad", "programa", "fuente", "vigente", "obligado",
];

/// The most lines one import takes (the whole national budget is tens of thousands).
pub const LINES_MAX: usize = 500_000;

/// An amount in guaraníes as the files write it: `1234567`, `1.234.567`, `1 234 567`,
/// `1234567,00`, `1.234.567,50` or `1234567.125` (a number a workbook wrote with its decimals),
/// rounded to the guaraní. Points are thousands separators when there are two or more of them
/// (each group after the first of three digits) or a decimal comma follows; a lone point is the
/// decimal mark (`1.500` is one guaraní and a half, rounded to 2: write `1500`). `None` for
/// anything else.
pub fn parse_amount(s: &str) -> Option<i64> {
    let t: String = s.trim().chars().filter(|c| !c.is_whitespace()).collect();
    if t.is_empty() {
        return Some(0);
    }
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, t),
    };
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    let (int, dec) = match t.split_once(',') {
        // A decimal comma: the points before it group thousands.
        Some((i, d)) => (i.replace('.', ""), d.to_string()),
        None => {
            let groups: Vec<&str> = t.split('.').collect();
            match groups.as_slice() {
                [one] => ((*one).to_string(), String::new()),
                // One point: the decimal mark (`1234567.125`, `0.5`).
                [i, d] => ((*i).to_string(), (*d).to_string()),
                [first, rest @ ..] if !first.is_empty() && rest.iter().all(|g| g.len() == 3) => {
                    (groups.concat(), String::new())
                }
                _ => return None,
            }
        }
    };
    if int.is_empty() || dec.contains(['.', ',']) {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    let fraction: f64 = if dec.is_empty() {
        0.0
    } else {
        format!("0.{dec}").parse().ok()?
    };
    let rounded = whole + i64::from(fraction >= 0.5);
    Some(if negative { -rounded } else { rounded })
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub lines: usize,
    pub years: Vec<i64>,
    /// Lines of those years that the import replaced.
    pub replaced: u64,
    pub linked_to_services: usize,
    pub cooperation: usize,
    pub mapping: String,
    pub mapping_verified: bool,
    pub illustrative: bool,
}

/// Reads a budget file (CSV, or the first sheet of an XLSX) through `mapping` and stores its
/// lines, replacing those of the years it covers — all or none: any problem (reported with
/// file, row, column, value and reason) and nothing is stored. As `actor` (`planes:editar`).
#[allow(clippy::too_many_lines)] // reason: one rule per column, in the file's order
pub fn import(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    path: &Path,
    mapping: &Mapping,
) -> Result<std::result::Result<Imported, Vec<Problem>>> {
    actor.require(Permission::PlansEdit)?;
    if !actor.scope.is_nationwide() {
        return Err(Error::forbidden(
            "el presupuesto es nacional (un archivo reemplaza el año entero): lo importa una cuenta de alcance nacional",
        ));
    }
    let file = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_xlsx = file.to_lowercase().ends_with(".xlsx");
    let source = if is_xlsx {
        let sheets = xlsx_sheets(path).map_err(|e| Error::bad_request(e.to_string()))?;
        let sheet = sheets
            .first()
            .cloned()
            .ok_or_else(|| Error::bad_request(format!("{file}: el libro no tiene hojas")))?;
        TableSource::Sheet {
            path: path.to_path_buf(),
            sheet,
        }
    } else {
        TableSource::Csv(path.to_path_buf())
    };
    let mut table = source
        .open()
        .map_err(|e| Error::bad_request(e.to_string()))?;
    let label = table.label.clone();
    let col = |field: &str| {
        let names = mapping.names(field);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        table.col(&refs)
    };
    let fields = [
        "anio",
        "tipo_presupuesto",
        "programa",
        "subprograma",
        "proyecto",
        "entidad",
        "objeto_gasto",
        "fuente",
        "organismo_financiador",
        "departamento",
        "inicial",
        "vigente",
        "obligado",
        "pagado",
        "servicio",
        "accion",
        "cooperacion",
        "ilustrativo",
    ];
    let cols: BTreeMap<&str, Option<usize>> = fields.iter().map(|f| (*f, col(f))).collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| cols.get(f).copied().flatten().is_none())
        .collect();
    if !missing.is_empty() {
        let problems = missing
            .iter()
            .map(|f| Problem {
                sheet: label.clone(),
                row: 1,
                column: (*f).to_string(),
                value: String::new(),
                reason: format!(
                    "falta la columna (nombres aceptados en el mapeo «{}»: {})",
                    mapping.nombre,
                    mapping.names(f).join(", ")
                ),
            })
            .collect();
        audit_import(store, actor, &file, "rechazado: faltan columnas")?;
        return Ok(Err(problems));
    }
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut rec = csv::ByteRecord::new();
    while let Some(row) = table
        .next_row(&mut rec)
        .map_err(|e| Error::bad_request(e.to_string()))?
    {
        let cell = |f: &str| -> String {
            cols.get(f)
                .copied()
                .flatten()
                .and_then(|c| rec.get(c))
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default()
        };
        if fields.iter().all(|f| cell(f).is_empty()) {
            continue;
        }
        if lines.len() >= LINES_MAX {
            problems.push(Problem {
                sheet: label.clone(),
                row,
                column: String::new(),
                value: String::new(),
                reason: format!("demasiadas líneas: a lo sumo {LINES_MAX} por archivo"),
            });
            break;
        }
        let mut bad = |column: &str, value: &str, reason: &str| {
            problems.push(Problem {
                sheet: label.clone(),
                row,
                column: column.into(),
                value: value.chars().take(80).collect(),
                reason: reason.into(),
            });
        };
        let year = cell("anio");
        let year_n = year
            .parse::<i64>()
            .ok()
            .filter(|y| (2000..=2100).contains(y));
        if year_n.is_none() {
            bad(
                "anio",
                &year,
                "el año es un número de cuatro cifras entre 2000 y 2100",
            );
        }
        let source_text = cell("fuente");
        let source = source_text
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse::<i64>().ok());
        if !matches!(source, Some(10 | 20 | 30)) {
            bad("fuente", &source_text, "fuente de financiamiento desconocida: 10 (Tesoro), 20 (crédito público) o 30 (recursos institucionales)");
        }
        let dept_text = cell("departamento");
        let department = match dept_text
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .map(str::parse::<i64>)
        {
            None if dept_text.is_empty()
                || matches!(fold(&dept_text).as_str(), "nacional" | "pais" | "paraguay") =>
            {
                -1
            }
            None => {
                bad(
                    "departamento",
                    &dept_text,
                    "departamento sin código: escriba su número (00 Asunción … 17), o «nacional»",
                );
                -1
            }
            Some(Ok(99)) => -1,
            Some(Ok(d)) if (0..=17).contains(&d) => d,
            _ => {
                bad("departamento", &dept_text, "departamento desconocido: de 00 (Asunción) a 17, o vacío para el nivel nacional");
                -1
            }
        };
        let mut amount = |f: &str| {
            let v = cell(f);
            parse_amount(&v).filter(|n| *n >= 0).unwrap_or_else(|| {
                bad(
                    f,
                    &v,
                    "monto inválido: guaraníes sin signo (p. ej. 1.234.567 o 1234567)",
                );
                0
            })
        };
        let (initial, current, obligated, paid) = (
            amount("inicial"),
            amount("vigente"),
            amount("obligado"),
            amount("pagado"),
        );
        if obligated > current.max(initial) || paid > obligated {
            bad(
                "obligado",
                &obligated.to_string(),
                "lo pagado no puede superar lo obligado, ni lo obligado lo vigente",
            );
        }
        let entity = cell("entidad");
        let institution = institution_of(&entity, catalogue, mapping);
        let texts = format!(
            "{} {} {}",
            fold(&cell("programa")),
            fold(&cell("subprograma")),
            fold(&cell("proyecto"))
        );
        let linked = mapping
            .vinculo
            .iter()
            .find(|l| texts.contains(&fold(&l.contiene)));
        let mut service = cell("servicio");
        if service.is_empty() {
            service = linked.map(|l| l.servicio.clone()).unwrap_or_default();
        }
        if !service.is_empty() && !catalogue.services.iter().any(|s| s.code == service) {
            bad("servicio", &service, "servicio desconocido en el catálogo");
        }
        let mut action = cell("accion");
        if action.is_empty() {
            action = linked.and_then(|l| l.accion.clone()).unwrap_or_default();
        }
        let financing = cell("organismo_financiador");
        let mut cooperation = cell("cooperacion");
        if cooperation.is_empty() {
            let f = fold(&financing);
            cooperation = mapping
                .cooperacion_externa
                .iter()
                .find(|t| f.contains(&fold(&t.contiene)))
                .map(|t| t.etiqueta.clone())
                .unwrap_or_default();
        }
        for (f, v) in [("programa", cell("programa")), ("entidad", entity.clone())] {
            if v.is_empty() {
                bad(f, "", "dato obligatorio vacío");
            }
        }
        lines.push(Line {
            year: year_n.unwrap_or(0),
            budget_type: cell("tipo_presupuesto"),
            program: cell("programa"),
            subprogram: cell("subprograma"),
            project: cell("proyecto"),
            institution,
            object: cell("objeto_gasto"),
            source: source.unwrap_or(0),
            financing,
            department,
            initial,
            current,
            obligated,
            paid,
            service,
            action,
            cooperation,
            illustrative: matches!(
                fold(&cell("ilustrativo")).as_str(),
                "si" | "s" | "1" | "true" | "x"
            ),
        });
    }
    if !problems.is_empty() {
        audit_import(
            store,
            actor,
            &file,
            &format!("rechazado: {} problemas", problems.len()),
        )?;
        return Ok(Err(crate::plans::shown(problems)));
    }
    if lines.is_empty() {
        return Err(Error::bad_request(format!(
            "{file}: no tiene líneas de presupuesto"
        )));
    }
    let replaced = sb::replace_years(
        &mut store.db(),
        &lines,
        &file,
        &actor.name,
        &crate::clock::now_rfc3339(),
    )?;
    let mut years: Vec<i64> = lines.iter().map(|l| l.year).collect();
    years.sort_unstable();
    years.dedup();
    audit_import(store, actor, &file, &format!("ok: {} líneas", lines.len()))?;
    Ok(Ok(Imported {
        lines: lines.len(),
        years,
        replaced,
        linked_to_services: lines.iter().filter(|l| !l.service.is_empty()).count(),
        cooperation: lines.iter().filter(|l| !l.cooperation.is_empty()).count(),
        mapping: mapping.nombre.clone(),
        mapping_verified: mapping.verificado,
        illustrative: lines.iter().any(|l| l.illustrative),
    }))
}

fn audit_import(store: &mut dyn Store, actor: &Actor, file: &str, outcome: &str) -> Result<()> {
    actor.audit(
        store,
        "importar presupuesto",
        "presupuesto",
        file,
        "planificación",
        outcome,
    )
}

/// The catalogue institution of an entity: its code as written, or the mapping's first match,
/// or the entity's own name.
fn institution_of(entity: &str, catalogue: &Catalogue, mapping: &Mapping) -> String {
    if catalogue.institutions.iter().any(|i| i.code == entity) {
        return entity.to_string();
    }
    let e = fold(entity);
    mapping
        .entidad_a_institucion
        .iter()
        .find(|l| e.contains(&fold(&l.contiene)))
        .map_or_else(|| entity.to_string(), |l| l.institucion.clone())
}

/// The years with budget lines, newest first, for those who read plans.
pub fn years(store: &mut dyn Store, actor: &Actor) -> Result<Vec<i64>> {
    actor.require(Permission::PlansRead)?;
    Ok(sb::years(&mut store.db())?)
}

/// The label of a budget source.
pub fn source_label(source: i64) -> &'static str {
    match source {
        10 => "10 · Recursos del Tesoro",
        20 => "20 · Recursos del crédito público",
        30 => "30 · Recursos institucionales",
        _ => "fuente desconocida",
    }
}

/// Stages of some lines.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Stages {
    pub needed: i64,
    pub initial: i64,
    pub current: i64,
    pub obligated: i64,
    pub paid: i64,
}

impl Stages {
    fn add(&mut self, l: &Line) {
        self.initial += l.initial;
        self.current += l.current;
        self.obligated += l.obligated;
        self.paid += l.paid;
    }
    fn json(&self) -> Json {
        let pct = |x: i64| (self.current > 0).then(|| x as f64 / self.current as f64);
        json!({"needed": self.needed, "initial": self.initial, "current": self.current, "obligated": self.obligated, "paid": self.paid,
            "execution": pct(self.obligated), "paid_share": pct(self.paid),
            "allocated_vs_needed": (self.needed > 0).then(|| self.current as f64 / self.needed as f64)})
    }
}

/// What to show of the budget.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BudgetQuery {
    /// The year (the newest with lines when absent).
    pub year: Option<i64>,
    /// A department `DD` (its lines and the national ones, apart) or the nation (`PY`, absent).
    pub territory: Option<String>,
    /// A saved costing scenario: its cost for the year is the *needed* column.
    pub scenario: Option<i64>,
}

/// The budget of a year, per source, cooperation, institution, service and strategic action,
/// with the needed column from a saved scenario — for those who read plans.
#[allow(clippy::too_many_lines)] // reason: one table per breakdown, side by side
pub fn summary(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &BudgetQuery,
) -> Result<Json> {
    actor.require(Permission::PlansRead)?;
    let years = sb::years(&mut store.db())?;
    let Some(year) = q.year.or_else(|| years.first().copied()) else {
        return Ok(
            json!({"year": null, "years": years, "lines": 0, "message": "no hay presupuesto importado: vamos budget import"}),
        );
    };
    let scenario = match q.scenario {
        Some(id) => Some(crate::costing::scenario_saved(store, actor, id)?),
        None => None,
    };
    // The scenario's department unless another territory is asked for: what it needs is then
    // set beside that department's budget.
    let scenario_department = scenario
        .as_ref()
        .and_then(|s| vamos_domain::TerritoryCode::parse(&s.territory).ok())
        .and_then(|t| match t {
            vamos_domain::TerritoryCode::Department(d) => Some(d),
            vamos_domain::TerritoryCode::District(d) => Some(d.department()),
            vamos_domain::TerritoryCode::Nation => None,
        });
    let asked = q
        .territory
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let department = match asked {
        None => scenario_department.map(|d| i64::from(d.get())),
        Some("PY" | "py") => None,
        Some(t) => match crate::registry::parse_territory(Some(t))? {
            vamos_domain::TerritoryCode::Department(d) => Some(i64::from(d.get())),
            _ => {
                return Err(Error::bad_request(
                    "el presupuesto se lee por departamento (DD) o para el país (PY)",
                ))
            }
        },
    };
    let mismatch = scenario
        .as_ref()
        .is_some_and(|_| department != scenario_department.map(|d| i64::from(d.get())));
    let lines = sb::lines(&mut store.db(), Some(year), department)?;
    let needed: BTreeMap<String, i64> = scenario
        .as_ref()
        .and_then(|s| {
            s.result
                .get("by_year")
                .unwrap_or(&Json::Null)
                .as_array()
                .and_then(|ys| {
                    ys.iter()
                        .find(|y| y["year"].as_i64() == Some(year))
                        .cloned()
                })
        })
        .and_then(|y| serde_json::from_value(y.get("services").cloned().unwrap_or_default()).ok())
        .unwrap_or_default();
    let service_of = |code: &str| catalogue.services.iter().find(|s| s.code == code);
    // In a department: its own lines, and the national ones apart (they serve every department).
    let local = |l: &&Line| department.is_none() || l.department != -1;
    let mut total = Stages::default();
    let mut national = Stages::default();
    let mut by_source: BTreeMap<i64, Stages> = BTreeMap::new();
    let mut by_cooperation: BTreeMap<String, Stages> = BTreeMap::new();
    let mut by_institution: BTreeMap<String, Stages> = BTreeMap::new();
    let mut by_service: BTreeMap<String, Stages> = BTreeMap::new();
    let mut by_action: BTreeMap<String, Stages> = BTreeMap::new();
    for l in &lines {
        if !local(&l) {
            national.add(l);
            continue;
        }
        total.add(l);
        by_source.entry(l.source).or_default().add(l);
        if !l.cooperation.is_empty() {
            by_cooperation
                .entry(l.cooperation.clone())
                .or_default()
                .add(l);
        }
        by_institution
            .entry(l.institution.clone())
            .or_default()
            .add(l);
        if !l.service.is_empty() {
            by_service.entry(l.service.clone()).or_default().add(l);
        }
        if !l.action.is_empty() {
            by_action.entry(l.action.clone()).or_default().add(l);
        }
    }
    for (code, cost) in &needed {
        by_service.entry(code.clone()).or_default().needed += cost;
        if let Some(s) = service_of(code) {
            by_institution
                .entry(s.institution.clone())
                .or_default()
                .needed += cost;
        }
        total.needed += cost;
    }
    // A strategic action needs what its services need (the plan in force says which: an
    // official one before an illustrative one).
    let plan = vamos_store::plans::list(&mut store.db())?
        .into_iter()
        .filter(|p| p.status == "vigente")
        .min_by_key(|p| (p.illustrative, std::cmp::Reverse(p.id)));
    let actions = match &plan {
        Some(p) => vamos_store::plans::get(&mut store.db(), p.id)?
            .map(|f| f.actions)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    for a in &actions {
        let n: i64 = a.services.iter().filter_map(|s| needed.get(s)).sum();
        if n > 0 || by_action.contains_key(&a.code) {
            by_action.entry(a.code.clone()).or_default().needed += n;
        }
    }
    let institution_name = |code: &str| {
        catalogue
            .institutions
            .iter()
            .find(|i| i.code == code)
            .map_or_else(|| code.to_string(), |i| i.name.clone())
    };
    actor.audit(
        store,
        "consultar presupuesto",
        "presupuesto",
        &format!("{year} {}", q.territory.as_deref().unwrap_or("PY")),
        "planificación",
        "ok",
    )?;
    Ok(json!({
        "year": year,
        "years": years,
        "territory": match department {
            Some(d) => json!({"code": format!("{d:02}"), "name": crate::plans::territory_name(&format!("{d:02}"))}),
            None => json!({"code": "PY", "name": "Paraguay"}),
        },
        "lines": lines.len(),
        "illustrative": lines.iter().any(|l| l.illustrative),
        "scenario": scenario.as_ref().map(|s| json!({"id": s.id, "name": s.name, "territory": s.territory, "territory_name": crate::plans::territory_name(&s.territory), "logro": s.logro, "target": s.target, "by": s.by_year, "measurement": s.measurement, "catalogue_version": s.catalogue_version})),
        "total": total.json(),
        "national_lines": department.map(|_| national.json()),
        "by_source": by_source.iter().map(|(s, x)| json!({"source": s, "label": source_label(*s), "stages": x.json()})).collect::<Vec<_>>(),
        "cooperation": by_cooperation.iter().map(|(t, x)| json!({"tag": t, "stages": x.json()})).collect::<Vec<_>>(),
        "by_institution": by_institution.iter().map(|(i, x)| json!({"institution": i, "name": institution_name(i), "stages": x.json()})).collect::<Vec<_>>(),
        "by_service": by_service.iter().map(|(s, x)| json!({"service": s, "name": service_of(s).map(|v| v.name.clone()), "institution": service_of(s).map(|v| v.institution.clone()), "stages": x.json()})).collect::<Vec<_>>(),
        "by_action": by_action.iter().map(|(a, x)| json!({"action": a, "description": actions.iter().find(|y| &y.code == a).map(|y| y.description.clone()), "stages": x.json()})).collect::<Vec<_>>(),
        "plan": plan.map(|p| json!({"id": p.id, "name": p.name, "version": p.version, "illustrative": p.illustrative})),
        "scenario_elsewhere": mismatch,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_are_read_as_the_files_write_them_and_rounded_to_the_guarani() {
        for (text, amount) in [
            ("1234567", Some(1_234_567)),
            ("1.234.567", Some(1_234_567)),
            ("1 234 567", Some(1_234_567)),
            ("1.234.567,50", Some(1_234_568)),
            ("1234567,00", Some(1_234_567)),
            // A workbook's number with decimals: the point is the decimal mark.
            ("1234567.125", Some(1_234_567)),
            ("1234567.333333", Some(1_234_567)),
            ("-0,6", Some(-1)),
            ("", Some(0)),
            ("1.23.4", None),
            ("abc", None),
            ("12,3,4", None),
        ] {
            assert_eq!(parse_amount(text), amount, "{text}");
        }
    }
}
