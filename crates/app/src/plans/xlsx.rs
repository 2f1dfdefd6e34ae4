//! A plan as an XLSX workbook — the template planners fill in and what `vamos plan export`
//! writes: sheets *Plan* (field, value), *Objetivos*, *Acciones*, *Indicadores* and *Metas*,
//! one row per item, headers in Spanish (accents and case do not matter on import), and an
//! *Instrucciones* sheet that import ignores. Workbooks are read within the importers' limits
//! (`vamos_ingest::bounded`); text is written as text, never as a formula.

use super::{Problem, Rows};
use rust_xlsxwriter::{Format, Workbook, Worksheet};
use std::path::Path;
use vamos_ingest::table::{xlsx_sheets, TableSource};
use vamos_store::plans::{Action, Framework, Indicator, Objective, Plan, Value};

/// The sheets and their columns, in order (the template's and the export's).
pub const SHEETS: [(&str, &[&str]); 5] = [
    ("Plan", &["campo", "valor"]),
    (
        "Objetivos",
        &[
            "codigo",
            "tipo",
            "categoria",
            "objetivo_general",
            "descripcion",
        ],
    ),
    (
        "Acciones",
        &[
            "codigo",
            "objetivo",
            "descripcion",
            "instituciones",
            "servicios",
        ],
    ),
    (
        "Indicadores",
        &["codigo", "accion", "nombre", "tipo", "referencia"],
    ),
    (
        "Metas",
        &[
            "indicador",
            "territorio",
            "anio",
            "linea_de_base",
            "medicion",
            "meta",
            "valor_reportado",
            "brecha",
        ],
    ),
];

const INSTRUCTIONS: &[&str] = &[
    "Plantilla del Marco Estratégico de Vamos (una versión de un plan plurianual).",
    "Hoja Plan: nombre, version (1, 2, …), desde y hasta (años), estado (borrador, vigente o reemplazado), ilustrativo (sí/no).",
    "Hoja Objetivos: tipo «general» (con su categoría del ciclo de vida: ninez, adolescencia, juventud, adultos_mayores, hogares, …) o «especifico» (con el código de su objetivo_general).",
    "Hoja Acciones: las acciones estratégicas (AE), cada una con su objetivo, las instituciones responsables (códigos del catálogo separados por comas) y los servicios del catálogo que presta.",
    "Hoja Indicadores: tipo logro (referencia: número del Logro), servicio (código del servicio), poblacion («Logro:población», p. ej. 4:pobreza o 9:rural) o manual.",
    "Hoja Metas: una fila por indicador, territorio (PY, departamento DD o distrito DDdd) y año. Coberturas como 0,7 o 70 %. La línea de base de un indicador medido, si se deja vacía, se toma de la última medición (columna medicion).",
    "La columna brecha (meta − línea de base) la calcula Vamos: se ignora al importar. Importar de nuevo el mismo nombre y versión reemplaza el plan; otra versión crea una nueva.",
];

/// Reads a workbook into a framework, with the row of each item and every cell problem found
/// (missing sheets or columns, numbers that are not numbers). The framework's own rules are
/// [`super::check`]'s.
pub fn read(path: &Path) -> Result<(Framework, Rows, Vec<Problem>), vamos_ingest::IngestError> {
    let file = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let present = xlsx_sheets(path)?;
    let mut problems = Vec::new();
    let mut f = Framework::default();
    let mut rows = Rows::default();
    for (sheet, columns) in SHEETS {
        let Some(real) = present.iter().find(|s| s.eq_ignore_ascii_case(sheet)) else {
            problems.push(problem(
                &file,
                sheet,
                0,
                "",
                "",
                "falta la hoja: use la plantilla (vamos plan template)",
            ));
            continue;
        };
        let mut table = TableSource::Sheet {
            path: path.to_path_buf(),
            sheet: real.clone(),
        }
        .open()?;
        let cols: Vec<Option<usize>> = columns.iter().map(|c| table.col(&[c])).collect();
        for (c, at) in columns.iter().zip(&cols) {
            if at.is_none() && *c != "brecha" && *c != "medicion" && *c != "valor_reportado" {
                problems.push(problem(&file, sheet, 1, c, "", "falta la columna"));
            }
        }
        let mut rec = csv::ByteRecord::new();
        while let Some(row) = table.next_row(&mut rec)? {
            let cell = |i: usize| -> String {
                cols.get(i)
                    .copied()
                    .flatten()
                    .and_then(|c| rec.get(c))
                    .map(|b| String::from_utf8_lossy(b).trim().to_string())
                    .unwrap_or_default()
            };
            if (0..columns.len()).all(|i| cell(i).is_empty()) {
                continue;
            }
            let items = match sheet {
                "Objetivos" => f.objectives.len(),
                "Acciones" => f.actions.len(),
                "Indicadores" => f.indicators.len(),
                _ => 0,
            };
            if items >= super::ITEMS_MAX {
                problems.push(problem(
                    &file,
                    sheet,
                    row,
                    "",
                    "",
                    "demasiadas filas en esta hoja",
                ));
                break;
            }
            let mut bad = |col: &str, value: &str, reason: &str| {
                problems.push(problem(&file, sheet, row, col, value, reason))
            };
            match sheet {
                "Plan" => plan_field(&mut f.plan, &cell(0), &cell(1), &mut bad),
                "Objetivos" => {
                    let general = match fold(&cell(1)).as_str() {
                        "general" => true,
                        "especifico" => false,
                        other => {
                            bad("tipo", other, "tipo desconocido: general o especifico");
                            true
                        }
                    };
                    f.objectives.push(Objective {
                        code: cell(0),
                        parent: (!general).then(|| cell(3)),
                        category: general.then(|| cell(2)).filter(|c| !c.is_empty()),
                        description: cell(4),
                    });
                    rows.objectives.push(row);
                }
                "Acciones" => {
                    f.actions.push(Action {
                        code: cell(0),
                        objective: cell(1),
                        description: cell(2),
                        institutions: list(&cell(3)),
                        services: list(&cell(4)),
                    });
                    rows.actions.push(row);
                }
                "Indicadores" => {
                    f.indicators.push(Indicator {
                        code: cell(0),
                        action: cell(1),
                        name: cell(2),
                        kind: fold(&cell(3)),
                        reference: cell(4),
                    });
                    rows.indicators.push(row);
                }
                _ => {
                    if f.values.len() >= super::VALUES_MAX {
                        bad("", "", "demasiadas filas en Metas");
                        break;
                    }
                    let year = cell(2);
                    let mut number = |i: usize, col: &str| {
                        let v = cell(i);
                        if v.is_empty() {
                            return None;
                        }
                        let n = parse_number(&v);
                        if n.is_none() {
                            bad(col, &v, "no es un número (0,7 o 70 %)");
                        }
                        n
                    };
                    let value = Value {
                        indicator: cell(0),
                        territory: cell(1),
                        year: year.parse().unwrap_or(0),
                        baseline: number(3, "linea_de_base"),
                        baseline_measurement: cell(4).parse().ok(),
                        target: number(5, "meta"),
                        reported: number(6, "valor_reportado"),
                    };
                    if year.parse::<i64>().is_err() {
                        bad("anio", &year, "el año es un número de cuatro cifras");
                    }
                    f.values.push(value);
                    rows.values.push(row);
                }
            }
        }
    }
    Ok((f, rows, super::shown(problems)))
}

fn problem(file: &str, sheet: &str, row: u64, column: &str, value: &str, reason: &str) -> Problem {
    Problem {
        sheet: format!("{file}:{sheet}"),
        row,
        column: column.into(),
        value: value.chars().take(80).collect(),
        reason: reason.into(),
    }
}

fn plan_field(p: &mut Plan, field: &str, value: &str, bad: &mut dyn FnMut(&str, &str, &str)) {
    let int = |bad: &mut dyn FnMut(&str, &str, &str)| {
        value.parse::<i64>().unwrap_or_else(|_| {
            bad(field, value, "se espera un número entero");
            0
        })
    };
    match fold(field).as_str() {
        "nombre" => p.name = value.to_string(),
        "version" => p.version = int(bad),
        "desde" => p.period_from = int(bad),
        "hasta" => p.period_to = int(bad),
        "estado" => p.status = fold(value),
        "ilustrativo" => {
            p.illustrative = matches!(fold(value).as_str(), "si" | "s" | "true" | "1" | "x")
        }
        other => bad(
            "campo",
            other,
            "campo desconocido: nombre, version, desde, hasta, estado o ilustrativo",
        ),
    }
}

/// Lowercase without accents (`Específico` → `especifico`).
fn fold(s: &str) -> String {
    vamos_ingest::text::normalize_header(s)
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ';'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// `0,7`, `0.7`, `70 %` or `70%` → 0.7; a bare number as written.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let (t, percent) = match t.strip_suffix('%') {
        Some(x) => (x.trim(), true),
        None => (t, false),
    };
    let n: f64 = t
        .replace(',', ".")
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())?;
    Some(if percent { n / 100.0 } else { n })
}

/// Writes `f` as a workbook (the template when `f` is empty).
pub fn write(f: &Framework) -> anyhow::Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("Instrucciones")?;
    if f.plan.illustrative {
        ws.write_string_with_format(
            0,
            0,
            "PLAN ILUSTRATIVO: no es el Marco Estratégico oficial.",
            &bold,
        )?;
    }
    for (i, line) in INSTRUCTIONS.iter().enumerate() {
        ws.write_string(i as u32 + 2, 0, *line)?;
    }
    ws.set_column_width(0, 120)?;
    for (sheet, columns) in SHEETS {
        let ws = wb.add_worksheet();
        ws.set_name(sheet)?;
        for (c, h) in columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
            ws.set_column_width(
                c as u16,
                if h.starts_with("desc") || *h == "nombre" {
                    60
                } else {
                    16
                },
            )?;
        }
        ws.set_freeze_panes(1, 0)?;
        let rows: Vec<Vec<Cell>> = match sheet {
            "Plan" => plan_rows(&f.plan),
            "Objetivos" => f
                .objectives
                .iter()
                .map(|o| {
                    vec![
                        Cell::Text(o.code.clone()),
                        Cell::Text(
                            if o.parent.is_some() {
                                "especifico"
                            } else {
                                "general"
                            }
                            .into(),
                        ),
                        Cell::Text(o.category.clone().unwrap_or_default()),
                        Cell::Text(o.parent.clone().unwrap_or_default()),
                        Cell::Text(o.description.clone()),
                    ]
                })
                .collect(),
            "Acciones" => f
                .actions
                .iter()
                .map(|a| {
                    vec![
                        Cell::Text(a.code.clone()),
                        Cell::Text(a.objective.clone()),
                        Cell::Text(a.description.clone()),
                        Cell::Text(a.institutions.join(", ")),
                        Cell::Text(a.services.join(", ")),
                    ]
                })
                .collect(),
            "Indicadores" => f
                .indicators
                .iter()
                .map(|i| {
                    vec![
                        Cell::Text(i.code.clone()),
                        Cell::Text(i.action.clone()),
                        Cell::Text(i.name.clone()),
                        Cell::Text(i.kind.clone()),
                        Cell::Text(i.reference.clone()),
                    ]
                })
                .collect(),
            _ => f
                .values
                .iter()
                .map(|v| {
                    // A measured indicator's figures are coverages: shown as percentages.
                    let share = f
                        .indicators
                        .iter()
                        .any(|i| i.code == v.indicator && i.kind != "manual");
                    let figure = |x: Option<f64>| {
                        if share {
                            Cell::Share(x)
                        } else {
                            Cell::Number(x)
                        }
                    };
                    vec![
                        Cell::Text(v.indicator.clone()),
                        Cell::Text(v.territory.clone()),
                        Cell::Number(Some(v.year as f64)),
                        figure(v.baseline),
                        Cell::Number(v.baseline_measurement.map(|m| m as f64)),
                        figure(v.target),
                        Cell::Number(v.reported),
                        figure(v.target.zip(v.baseline).map(|(t, b)| t - b)),
                    ]
                })
                .collect(),
        };
        write_rows(ws, &rows)?;
    }
    Ok(wb.save_to_buffer()?)
}

enum Cell {
    Text(String),
    Number(Option<f64>),
    /// A coverage, shown as a percentage (the cell keeps the fraction: 0.7 shows 70,0 %).
    Share(Option<f64>),
}

fn plan_rows(p: &Plan) -> Vec<Vec<Cell>> {
    let field = |k: &str, v: Cell| vec![Cell::Text(k.into()), v];
    vec![
        field("nombre", Cell::Text(p.name.clone())),
        field("version", Cell::Number(Some(p.version as f64))),
        field("desde", Cell::Number(Some(p.period_from as f64))),
        field("hasta", Cell::Number(Some(p.period_to as f64))),
        field("estado", Cell::Text(p.status.clone())),
        field(
            "ilustrativo",
            Cell::Text(if p.illustrative { "sí" } else { "no" }.into()),
        ),
    ]
}

fn write_rows(ws: &mut Worksheet, rows: &[Vec<Cell>]) -> anyhow::Result<()> {
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            match cell {
                // A string cell, never a formula: `=HYPERLINK(…)` typed in a description stays text.
                Cell::Text(t) => {
                    ws.write_string(r, c, t)?;
                }
                Cell::Number(Some(n)) => {
                    ws.write_number(r, c, *n)?;
                }
                Cell::Share(Some(n)) => {
                    ws.write_number_with_format(r, c, *n, &Format::new().set_num_format("0.0%"))?;
                }
                Cell::Number(None) | Cell::Share(None) => {}
            }
        }
    }
    Ok(())
}

/// The illustrative framework shipped with Vamos (labelled as such wherever it is read): the
/// 2023 planning cycle's five prioritised categories and Niñez, a few strategic actions each,
/// with Logro indicators and targets for the nation and for San Pedro.
pub fn illustrative() -> anyhow::Result<Framework> {
    Ok(toml::from_str(include_str!("plan_ilustrativo.toml"))?)
}
