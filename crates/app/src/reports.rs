//! Follow-up reports (issue 41, Modelo de Gestión §4.3–4.4, *seguimiento*): the quarterly
//! report of a territory — the nation, a department or a district — for the Gabinete Social
//! and the Mesas, as a PDF in Spanish.
//!
//! A period's report reads the last **published** measurement whose date falls within the
//! period and that covers the territory, and refuses with a clear message when there is none:
//! what an authority reads must be the figures the public can check. Its Logros are the
//! public figures of that publication — small cells suppressed, as `/api/public/logros`
//! gives them for the same measurement and territory, so the two are equal by construction
//! (the tests compare them). Around them: each Logro's target and gap, the trend across the
//! earlier published measurements, the department map (a district report highlights its
//! department: no district boundaries are available), per-service desprotección, the referral
//! funnel, Canal Verde cases, the budget against what is needed, the overdue agreements of the
//! territory's bodies, and the analysis the analyst writes before publishing.
//!
//! A report is versioned: each draft saved is a new version of its territory and period,
//! storing the measurements it read; publishing renders it, stores the PDF's SHA-256 and
//! freezes it. The Logros of a version are reproducible from its measurement ids (published
//! figures never move); the funnel, cases, budget and agreements are read as they stand when
//! the PDF is drawn, and the report says so.

use crate::{Actor, Error, Result};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{json, Value};
use vamos_catalogue::Catalogue;
use vamos_domain::{Permission, Territory, TerritoryCode};
use vamos_store::reports::{self as sr, Report};
use vamos_store::Store;

const PURPOSE: &str = "informe de seguimiento";

/// How many earlier published measurements a trend reads at most.
const TREND: usize = 8;

/// A quarter: `AAAA-Tn` (or `AAAA-Qn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub year: i32,
    pub quarter: u32,
}

impl Period {
    /// Parses `2026-T3`, `2026-Q3` or `2026T3`.
    pub fn parse(s: &str) -> Result<Period> {
        let t = s.trim().to_uppercase().replace(['-', ' '], "");
        let bad = || {
            Error::bad_request(format!(
                "período inválido «{}»: escriba el año y el trimestre, p. ej. 2026-T3",
                s.chars().take(20).collect::<String>()
            ))
        };
        let (y, q) = t
            .split_once('T')
            .or_else(|| t.split_once('Q'))
            .ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let quarter: u32 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&quarter) || !(2000..=2100).contains(&year) {
            return Err(bad());
        }
        Ok(Period { year, quarter })
    }

    /// The code as stored: `2026-T3`.
    pub fn code(self) -> String {
        format!("{}-T{}", self.year, self.quarter)
    }

    pub fn start(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, 3 * self.quarter - 2, 1).unwrap_or_default()
    }

    pub fn end(self) -> NaiveDate {
        let next = if self.quarter == 4 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, 3 * self.quarter + 1, 1)
        };
        next.and_then(|d| d.pred_opt()).unwrap_or_default()
    }

    /// `3.er trimestre de 2026 (01/07/2026 – 30/09/2026)`.
    pub fn label(self) -> String {
        let ord = ["1.er", "2.º", "3.er", "4.º"]
            .get(self.quarter as usize - 1)
            .copied()
            .unwrap_or("");
        format!(
            "{ord} trimestre de {} ({} – {})",
            self.year,
            self.start().format("%d/%m/%Y"),
            self.end().format("%d/%m/%Y")
        )
    }

    /// The quarter containing `d`.
    pub fn of(d: NaiveDate) -> Period {
        Period {
            year: d.year(),
            quarter: (d.month() - 1) / 3 + 1,
        }
    }
}

/// Whether the published districts of a measurement include some district within `t`.
fn covers(p: &crate::measurements::PublishedFigures, t: TerritoryCode) -> bool {
    p.districts
        .iter()
        .any(|d| crate::referrals::territory_within(TerritoryCode::District(d.district), t))
}

/// The published measurements covering `t` up to `end`, newest first (by date, then number).
fn published_up_to(
    store: &mut dyn Store,
    t: TerritoryCode,
    end: NaiveDate,
) -> Result<Vec<crate::measurements::PublishedFigures>> {
    let mut list: Vec<(String, i64)> = crate::measurements::published(store)?
        .iter()
        .filter_map(|m| {
            Some((
                m.get("as_of")?.as_str()?.to_string(),
                m.get("id")?.as_i64()?,
            ))
        })
        .filter(|(as_of, _)| as_of.as_str() <= end.to_string().as_str())
        .collect();
    list.sort_by(|a, b| b.cmp(a));
    let mut out = Vec::new();
    for (_, id) in list {
        if out.len() > TREND {
            break;
        }
        if let Some(p) = crate::measurements::published_figures(store, Some(id))? {
            if covers(&p, t) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// The measurement a report of `t` for `period` reads: the last published one within the
/// period covering `t`, with the earlier ones for the trend — or the refusal to show.
fn measurements_for(
    store: &mut dyn Store,
    t: TerritoryCode,
    period: Period,
) -> Result<Vec<crate::measurements::PublishedFigures>> {
    let list = published_up_to(store, t, period.end())?;
    let within = list
        .first()
        .is_some_and(|p| p.measurement.as_of.as_str() >= period.start().to_string().as_str());
    if !within {
        return Err(Error::not_found(format!(
            "no hay una medición publicada de {} entre el {} y el {}: el informe del {} lee solo cifras publicadas. Publique una medición de ese período («vamos measurements publish N» o la página Logros) y vuelva a intentarlo",
            Territory::official().name_of(t),
            period.start().format("%d/%m/%Y"),
            period.end().format("%d/%m/%Y"),
            period.label()
        )));
    }
    Ok(list)
}

fn coverage_of(logro: &Value) -> Option<f64> {
    logro.get("coverage").and_then(Value::as_f64)
}

/// The data a report prints, as JSON: its figures are the API's (`/api/public/logros` for the
/// Logros of the same measurement and territory, `/api/referrals/funnel`, `/api/cases/figures`,
/// `/api/budget`, `/api/meeting-agreements`).
pub fn data(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    t: TerritoryCode,
    period: Period,
    k: u64,
) -> Result<Value> {
    let d = collect(store, actor, catalogue, t, period, k, None)?;
    actor.audit(
        store,
        "consultar",
        "informe",
        &format!("{t}/{}", period.code()),
        PURPOSE,
        "ok",
    )?;
    Ok(d)
}

#[allow(clippy::too_many_lines)] // reason: one block per section of the report
fn collect(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    t: TerritoryCode,
    period: Period,
    k: u64,
    pinned: Option<&[i64]>,
) -> Result<Value> {
    actor.require(Permission::LogrosRead)?;
    if k < 2 {
        return Err(Error::bad_request(
            "la celda mínima de las cifras públicas es al menos 2",
        ));
    }
    // The referrals and cases of a territory outside the caller's scope are not its business:
    // those sections say so rather than show the caller's own figures under another name.
    let within = actor.operator || actor.scope.covers(t);
    let list = match pinned {
        // A stored version reads exactly the measurements it read when saved.
        Some(ids) => {
            let mut v = Vec::new();
            for id in ids {
                if let Some(p) = crate::measurements::published_figures(store, Some(*id))? {
                    v.push(p);
                }
            }
            if v.is_empty() {
                return Err(Error::not_found(
                    "las mediciones de este informe ya no están publicadas",
                ));
            }
            v
        }
        None => measurements_for(store, t, period)?,
    };
    let Some(current) = list.first() else {
        return Err(Error::internal("informe sin medición"));
    };
    let figures = crate::suppression::for_publication(current, k);
    let public = figures.json(t, &current.measurement, &current.published_at);
    let logros: Vec<Value> = public
        .get("logros")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let targets = crate::targets::effective_stored(store, &current.districts, t, period.year)?;
    // Trend: the coverage of each Logro in each published measurement, oldest first.
    let mut trend: Vec<Value> = Vec::new();
    for p in list.iter().rev() {
        let f = crate::suppression::for_publication(p, k);
        let j = f.json(t, &p.measurement, &p.published_at);
        let cov: Vec<Value> = j
            .get("logros")
            .and_then(Value::as_array)
            .map(|ls| {
                ls.iter()
                    .map(|l| json!({"logro": l.get("logro"), "coverage": l.get("coverage")}))
                    .collect()
            })
            .unwrap_or_default();
        trend.push(
            json!({"measurement": p.measurement.id, "as_of": p.measurement.as_of, "logros": cov}),
        );
    }
    let table: Vec<Value> = logros
        .iter()
        .map(|l| {
            let n = l.get("logro").and_then(Value::as_u64).unwrap_or(0);
            let target = targets.iter().find(|x| u64::from(x.logro) == n);
            let cov = coverage_of(l);
            json!({
                "logro": n, "label": l.get("label"), "identified": l.get("identified"), "protected": l.get("protected"),
                "coverage": cov,
                "target": target.map(|x| x.coverage), "target_year": target.map(|x| x.year),
                "gap": match (target, cov) { (Some(x), Some(c)) => Some((x.coverage - c).max(0.0)), _ => None },
            })
        })
        .collect();
    // The map: each department's mean coverage across the Logros it has figures for.
    let map: Vec<Value> = Territory::official()
        .departments()
        .iter()
        .map(|dep| {
            let d = dep.code;
            let dt = TerritoryCode::Department(d);
            let j = figures.json(dt, &current.measurement, &current.published_at);
            let covs: Vec<f64> = j
                .get("logros")
                .and_then(Value::as_array)
                .map(|ls| ls.iter().filter_map(coverage_of).collect())
                .unwrap_or_default();
            let mean = (!covs.is_empty()).then(|| covs.iter().sum::<f64>() / covs.len() as f64);
            json!({"department": d.get(), "name": Territory::official().name_of(dt), "mean_coverage": mean})
        })
        .collect();
    let mut services: Vec<Value> = logros
        .iter()
        .flat_map(|l| {
            let n = l.get("logro").cloned().unwrap_or(Value::Null);
            l.get("services")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |s| {
                    let code = s.get("service").and_then(Value::as_str).unwrap_or("").to_string();
                    json!({"logro": n, "service": code, "unprotected": s.get("unprotected"), "applicable": s.get("applicable"), "coverage": s.get("coverage")})
                })
        })
        .collect();
    for s in &mut services {
        let name = s
            .get("service")
            .and_then(Value::as_str)
            .and_then(|c| catalogue.services.iter().find(|x| x.code == c))
            .map(|x| x.name.clone());
        if let (Some(o), Some(name)) = (s.as_object_mut(), name) {
            o.insert("name".into(), json!(name));
        }
    }
    services.sort_by_key(|s| {
        std::cmp::Reverse(s.get("unprotected").and_then(Value::as_u64).unwrap_or(0))
    });
    services.truncate(15);
    let code = t.to_string();
    let funnel = if within {
        crate::referrals::work::funnel_total(
            store,
            actor,
            &crate::referrals::work::FunnelQuery {
                territory: Some(code.clone()).filter(|c| c != "PY"),
                ..Default::default()
            },
        )
        .ok()
    } else {
        None
    };
    let cases = if within && actor.can(Permission::CasesRead) {
        crate::cases::figures(store, actor, Some(&code).filter(|c| *c != "PY").map(String::as_str))
            .ok()
            .map(|f| json!({"open": f.open, "closed": f.closed, "closed_protected": f.closed_protected, "median_days_to_protection": f.median_days_to_protection}))
    } else {
        None
    };
    let budget_scope = match t {
        TerritoryCode::Nation => "Presupuesto nacional".to_string(),
        TerritoryCode::Department(d) => format!(
            "Presupuesto del departamento {}",
            Territory::official().name_of(TerritoryCode::Department(d))
        ),
        TerritoryCode::District(d) => format!(
            "Presupuesto del departamento {} (no hay presupuesto por distrito)",
            Territory::official().name_of(TerritoryCode::Department(d.department()))
        ),
    };
    let budget = if actor.can(Permission::PlansRead) {
        let dept = match t {
            TerritoryCode::Nation => None,
            TerritoryCode::Department(d) => Some(format!("{:02}", d.get())),
            TerritoryCode::District(d) => Some(format!("{:02}", d.department().get())),
        };
        crate::budget::summary(
            store,
            actor,
            catalogue,
            &crate::budget::BudgetQuery {
                year: Some(i64::from(period.year)),
                territory: dept,
                scenario: None,
            },
        )
        .ok()
        .filter(|b| b.get("lines").and_then(Value::as_i64).unwrap_or(0) > 0)
        .and_then(|b| b.get("total").cloned())
    } else {
        None
    };
    let overdue = if actor.can(Permission::GovernanceRead) {
        Some(overdue_agreements(store, actor, t)?)
    } else {
        None
    };
    let m = &current.measurement;
    Ok(json!({
        "territory": crate::measurements::territory_json(t),
        "period": period.code(), "period_label": period.label(),
        "measurement": {"id": m.id, "as_of": m.as_of, "published_at": current.published_at, "catalogue_label": m.catalogue_label, "synthetic": m.synthetic},
        "measurements": list.iter().map(|p| p.measurement.id).collect::<Vec<_>>(),
        "min_cell": k,
        "logros": logros, "table": table, "trend": trend, "map": map, "services": services,
        "funnel": funnel, "cases": cases, "budget": budget, "budget_scope": budget_scope, "overdue_agreements": overdue,
        "generated_at": crate::clock::now_rfc3339(),
    }))
}

/// The overdue agreements of the bodies within `t` (the nation: every body).
fn overdue_agreements(
    store: &mut dyn Store,
    actor: &Actor,
    t: TerritoryCode,
) -> Result<Vec<Value>> {
    let list = crate::governance::agreements(
        store,
        actor,
        &crate::governance::AgreementQuery {
            body: None,
            state: Some("vencidos".into()),
        },
    )?;
    let bodies = vamos_store::governance::bodies(&mut store.db())?;
    Ok(list
        .into_iter()
        .filter(|a| {
            bodies
                .iter()
                .find(|b| b.id == a.agreement.body_id)
                .and_then(|b| TerritoryCode::parse(&b.territory).ok())
                .is_some_and(|bt| crate::referrals::territory_within(bt, t))
        })
        .map(|a| {
            json!({"id": a.agreement.id, "body": a.body_name, "text": a.agreement.text, "owner": a.agreement.owner,
                "due_on": a.due_on_es, "days_overdue": a.days_overdue})
        })
        .collect())
}

// ------------------------------------------------------------------------------ the PDF

fn pct(v: Option<f64>) -> String {
    v.map_or_else(
        || "—".to_string(),
        |x| format!("{:.1} %", x * 100.0).replace('.', ","),
    )
}

/// A count for the public edition: hidden ("—") below the minimum cell `k`, as the public
/// Logros are.
fn count(v: Option<&Value>, k: u64, public: bool) -> String {
    match v.and_then(Value::as_u64) {
        Some(n) if public && n > 0 && n < k => "—".into(),
        _ => int(v),
    }
}

fn int(v: Option<&Value>) -> String {
    match v.and_then(Value::as_u64) {
        Some(n) => vamos_domain::numbers::grouped(i64::try_from(n).unwrap_or(i64::MAX), '.'),
        None => "—".into(),
    }
}

/// Colour classes of the map (the web's: colour-blind-safe, five classes of coverage).
const CLASSES: [((u8, u8, u8), f64, &str); 5] = [
    ((0xfd, 0xe7, 0x25), 0.2, "menos de 20 %"),
    ((0x5e, 0xc9, 0x62), 0.4, "20 a 40 %"),
    ((0x21, 0x91, 0x8c), 0.6, "40 a 60 %"),
    ((0x3b, 0x52, 0x8b), 0.8, "60 a 80 %"),
    ((0x44, 0x01, 0x54), 1.01, "80 % o más"),
];
const NO_DATA: (u8, u8, u8) = (0xd0, 0xd0, 0xd0);

fn colour(c: Option<f64>) -> (u8, u8, u8) {
    match c {
        None => NO_DATA,
        Some(c) => CLASSES
            .iter()
            .find(|(_, upper, _)| c < *upper)
            .map_or(CLASSES[4].0, |(col, _, _)| *col),
    }
}

/// Draws report `d` (from [`data`]) with `analysis` as a PDF; `status` names the version
/// (`Borrador`, `Versión 2, publicada el …`).
#[allow(clippy::too_many_lines)] // reason: one block per section, in the order they print
pub fn render(d: &Value, analysis: &str, status: &str, public: bool) -> Vec<u8> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let territory = d.get("territory").cloned().unwrap_or(Value::Null);
    let name = s(&territory, "name");
    let m = d.get("measurement").cloned().unwrap_or(Value::Null);
    let synthetic = m.get("synthetic").and_then(Value::as_bool).unwrap_or(false);
    let k = d.get("min_cell").and_then(Value::as_u64).unwrap_or(0);
    let mut doc = crate::pdf::Doc::new(
        &format!("Informe de seguimiento — {name} — {}", s(d, "period")),
        &format!(
            "Informe de seguimiento · {name} · {} · {status}",
            s(d, "period")
        ),
    );
    doc.paragraph("Sistema de Protección Social ¡Vamos! — Monitoreo, seguimiento y evaluación");
    doc.heading(&format!("Informe de seguimiento trimestral: {name}"), 1);
    let mut facts = vec![
        ("Territorio".to_string(), name.clone()),
        ("Período".to_string(), s(d, "period_label")),
        (
            "Medición".to_string(),
            format!(
                "N.º {} al {}, publicada el {} ({})",
                m.get("id").and_then(Value::as_i64).unwrap_or(0),
                crate::clock::date_es(&s(&m, "as_of")),
                crate::clock::moment_es(&s(&m, "published_at")),
                s(&m, "catalogue_label")
            ),
        ),
        ("Estado del informe".to_string(), status.to_string()),
    ];
    if synthetic {
        facts.push((
            "Datos".to_string(),
            "SINTÉTICOS: registro de demostración, no personas reales".to_string(),
        ));
    }
    doc.key_values(&facts);
    doc.paragraph(&format!(
        "Cifras públicas de la medición publicada: las celdas con menos de {} casos, y las que permitirían deducirlas, se muestran como «—». Los Logros se reproducen exactamente desde las mediciones {}; las referencias, los casos, el presupuesto y los acuerdos se leen como estaban al generar este documento ({}).",
        d.get("min_cell").and_then(Value::as_u64).unwrap_or(0),
        d.get("measurements").map(Value::to_string).unwrap_or_default(),
        crate::clock::moment_es(&s(d, "generated_at"))
    ));
    doc.heading("1. Análisis", 2);
    if analysis.trim().is_empty() {
        doc.paragraph(
            "(Borrador: el análisis de lo que ayuda o dificulta el avance todavía no fue escrito.)",
        );
    } else {
        doc.paragraph(analysis);
    }
    doc.heading("2. Los diez Logros: metas y brechas", 2);
    let empty = Vec::new();
    let table = d.get("table").and_then(Value::as_array).unwrap_or(&empty);
    let rows: Vec<Vec<String>> = table
        .iter()
        .map(|l| {
            vec![
                format!(
                    "Logro {}",
                    l.get("logro").and_then(Value::as_u64).unwrap_or(0)
                ),
                s(l, "label"),
                int(l.get("identified")),
                int(l.get("protected")),
                pct(l.get("coverage").and_then(Value::as_f64)),
                match (
                    l.get("target").and_then(Value::as_f64),
                    l.get("target_year").and_then(Value::as_i64),
                ) {
                    (Some(x), Some(y)) => format!("{} ({y})", pct(Some(x))),
                    _ => "sin meta".into(),
                },
                pct(l.get("gap").and_then(Value::as_f64)),
            ]
        })
        .collect();
    doc.table(
        &[
            "Logro",
            "Categoría",
            "Identificados",
            "Protegidos",
            "Cobertura",
            "Meta",
            "Brecha",
        ]
        .map(String::from),
        &rows,
        &[0.1, 0.22, 0.14, 0.13, 0.13, 0.15, 0.13],
    );
    let bars: Vec<(String, f64, Option<f64>)> = table
        .iter()
        .map(|l| {
            (
                format!(
                    "L{} {}",
                    l.get("logro").and_then(Value::as_u64).unwrap_or(0),
                    s(l, "label")
                ),
                l.get("coverage")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN),
                l.get("target").and_then(Value::as_f64),
            )
        })
        .collect();
    doc.bar_chart(
        "Cobertura de cada Logro (la marca vertical es la meta)",
        &bars,
        1.0,
    );
    let trend = d.get("trend").and_then(Value::as_array).unwrap_or(&empty);
    if trend.len() >= 2 {
        let series: Vec<(String, Vec<(String, f64)>)> = (1..=10u64)
            .map(|n| {
                let pts = trend
                    .iter()
                    .map(|p| {
                        let c = p
                            .get("logros")
                            .and_then(Value::as_array)
                            .and_then(|ls| {
                                ls.iter()
                                    .find(|l| l.get("logro").and_then(Value::as_u64) == Some(n))
                            })
                            .and_then(|l| l.get("coverage").and_then(Value::as_f64))
                            .unwrap_or(f64::NAN);
                        (crate::clock::date_es(&s(p, "as_of")), c)
                    })
                    .collect();
                (format!("Logro {n}"), pts)
            })
            .collect();
        doc.line_chart(
            "Tendencia de la cobertura en las mediciones publicadas",
            &series,
            1.0,
        );
    } else {
        doc.paragraph("Tendencia: hace falta más de una medición publicada para trazarla.");
    }
    doc.heading("3. Mapa departamental", 2);
    let map = d.get("map").and_then(Value::as_array).unwrap_or(&empty);
    let highlighted: Option<u8> = match TerritoryCode::parse(&s(&territory, "code")) {
        Ok(TerritoryCode::Department(x)) => Some(x.get()),
        Ok(TerritoryCode::District(x)) => Some(x.department().get()),
        _ => None,
    };
    let shapes: Vec<crate::pdf::Shape> = crate::geo::departments(400.0, 420.0)
        .into_iter()
        .map(|(code, rings)| {
            let c = map
                .iter()
                .find(|x| x.get("department").and_then(Value::as_u64) == Some(u64::from(code)))
                .and_then(|x| x.get("mean_coverage").and_then(Value::as_f64));
            crate::pdf::Shape {
                rings,
                fill: colour(c),
                stroke_width: if highlighted == Some(code) { 2.5 } else { 0.5 },
            }
        })
        .collect();
    let legend: Vec<(String, (u8, u8, u8))> = CLASSES
        .iter()
        .map(|(c, _, l)| ((*l).to_string(), *c))
        .chain(std::iter::once((
            "sin dato o suprimido".to_string(),
            NO_DATA,
        )))
        .collect();
    doc.polygons(
        &format!(
            "Cobertura media de los Logros por departamento{}",
            if highlighted.is_some() {
                " (borde grueso: el territorio del informe)"
            } else {
                ""
            }
        ),
        &shapes,
        &legend,
        260.0,
    );
    doc.heading("4. Desprotección por servicio", 2);
    let services = d
        .get("services")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|x| {
            vec![
                format!("L{}", x.get("logro").and_then(Value::as_u64).unwrap_or(0)),
                x.get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| s(x, "service"), str::to_string),
                int(x.get("applicable")),
                int(x.get("unprotected")),
                pct(x.get("coverage").and_then(Value::as_f64)),
            ]
        })
        .collect();
    doc.paragraph("Los servicios con más unidades desprotegidas.");
    doc.table(
        &[
            "Logro",
            "Servicio",
            "Aplica a",
            "Desprotegidos",
            "Cobertura",
        ]
        .map(String::from),
        &rows,
        &[0.08, 0.47, 0.15, 0.15, 0.15],
    );
    doc.heading("5. Referencias y contra-referencias", 2);
    match d.get("funnel").filter(|f| !f.is_null()) {
        Some(f) => {
            let n = |key: &str| count(f.get(key), k, public);
            doc.table(
                &[
                    "Referidas",
                    "Recibidas",
                    "Contactadas",
                    "Atendidas",
                    "Rechazadas",
                    "Vencidas",
                    "Atendidas sin referencia",
                ]
                .map(String::from),
                &[vec![
                    n("referred"),
                    n("received"),
                    n("contacted"),
                    n("served"),
                    n("rejected"),
                    n("expired"),
                    n("served_without_referral"),
                ]],
                &[0.13, 0.13, 0.14, 0.13, 0.14, 0.13, 0.2],
            );
        }
        None => doc.paragraph("Sin acceso a las cifras de referencias con esta cuenta."),
    }
    doc.heading("6. Casos de Canal Verde", 2);
    match d.get("cases").filter(|f| !f.is_null()) {
        Some(c) => doc.key_values(&[
            ("Casos abiertos".into(), count(c.get("open"), k, public)),
            ("Casos cerrados".into(), count(c.get("closed"), k, public)),
            (
                "Cerrados con protección verificada".into(),
                count(c.get("closed_protected"), k, public),
            ),
            (
                "Mediana de días hasta la protección".into(),
                c.get("median_days_to_protection")
                    .and_then(Value::as_f64)
                    .map_or("—".into(), |x| format!("{x:.1}").replace('.', ",")),
            ),
        ]),
        None => doc.paragraph("Sin acceso a las cifras de casos con esta cuenta."),
    }
    doc.heading("7. Presupuesto: necesario y ejecutado", 2);
    doc.paragraph(&s(d, "budget_scope"));
    match d.get("budget").filter(|f| !f.is_null()) {
        Some(b) => doc.key_values(&[
            (
                "Necesario (escenario de costeo)".into(),
                gs(b.get("needed")),
            ),
            ("Vigente".into(), gs(b.get("current"))),
            ("Obligado".into(), gs(b.get("obligated"))),
            ("Pagado".into(), gs(b.get("paid"))),
            (
                "Ejecución (obligado / vigente)".into(),
                pct(b.get("execution").and_then(Value::as_f64)),
            ),
        ]),
        None => doc.paragraph(
            "Sin presupuesto importado para el año del período, o sin acceso con esta cuenta.",
        ),
    }
    doc.heading("8. Acuerdos vencidos de las instancias", 2);
    match d.get("overdue_agreements").and_then(Value::as_array) {
        // The public edition counts them per body: an agreement's text and owner stay with the
        // bodies that wrote them.
        Some(list) if public && !list.is_empty() => {
            let mut per: Vec<(String, usize)> = Vec::new();
            for a in list {
                let b = s(a, "body");
                match per.iter_mut().find(|(x, _)| *x == b) {
                    Some(x) => x.1 += 1,
                    None => per.push((b, 1)),
                }
            }
            let rows: Vec<Vec<String>> = per
                .into_iter()
                .map(|(b, n)| vec![b, n.to_string()])
                .collect();
            doc.table(
                &["Instancia", "Acuerdos vencidos"].map(String::from),
                &rows,
                &[0.7, 0.3],
            );
        }
        Some(list) if !list.is_empty() => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|a| {
                    vec![
                        s(a, "body"),
                        s(a, "text"),
                        a.get("owner")
                            .and_then(Value::as_str)
                            .unwrap_or("La minuta no lo nombra")
                            .to_string(),
                        s(a, "due_on"),
                        a.get("days_overdue")
                            .and_then(Value::as_i64)
                            .map_or(String::new(), |n| n.to_string()),
                    ]
                })
                .collect();
            doc.table(
                &["Instancia", "Acuerdo", "Responsable", "Vencía", "Días"].map(String::from),
                &rows,
                &[0.2, 0.42, 0.18, 0.11, 0.09],
            );
        }
        Some(_) => doc.paragraph("Ningún acuerdo vencido."),
        None => doc.paragraph("Sin acceso a los acuerdos con esta cuenta."),
    }
    doc.finish()
}

fn gs(v: Option<&Value>) -> String {
    match v.and_then(Value::as_i64) {
        Some(n) => format!("Gs. {}", vamos_domain::numbers::grouped(n, '.')),
        _ => "—".into(),
    }
}

// ---------------------------------------------------------------------- drafts, publishing

/// Draws the report of `territory` for `period` now, without saving it (`vamos report`):
/// `Borrador` unless `analysis` is given.
pub fn draft_pdf(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    territory: &str,
    period: &str,
    k: u64,
    analysis: &str,
) -> Result<Vec<u8>> {
    let t = crate::registry::parse_territory(Some(territory))?;
    let p = Period::parse(period)?;
    let d = collect(store, actor, catalogue, t, p, k, None)?;
    actor.audit(
        store,
        "generar",
        "informe",
        &format!("{t}/{}", p.code()),
        PURPOSE,
        "ok: borrador",
    )?;
    Ok(render(&d, analysis, "Borrador (no publicado)", false))
}

/// Saves a new version of the report of `territory` for `period` with `analysis`, pinned to the
/// measurements it reads now (`informes:publicar`); its record.
pub fn save(
    store: &mut dyn Store,
    actor: &Actor,
    territory: &str,
    period: &str,
    analysis: &str,
) -> Result<Report> {
    actor.require(Permission::ReportsPublish)?;
    let t = crate::registry::parse_territory(Some(territory))?;
    let p = Period::parse(period)?;
    require_scope(store, actor, t, "guardar")?;
    if analysis.chars().count() > 20_000 {
        return Err(Error::bad_request("análisis: como mucho 20 000 caracteres"));
    }
    let list = measurements_for(store, t, p)?;
    let ids: Vec<i64> = list.iter().map(|m| m.measurement.id).collect();
    let mut r = Report {
        territory: t.to_string(),
        period: p.code(),
        measurement_id: ids.first().copied().unwrap_or(0),
        trend_measurements: ids,
        analysis: analysis.trim().to_string(),
        status: "borrador".into(),
        created_by: actor.name.clone(),
        created_at: crate::clock::now_rfc3339(),
        ..Report::default()
    };
    let (id, version) = sr::insert(&mut store.db(), &r)?;
    r.id = id;
    r.version = version;
    actor.audit(
        store,
        "guardar",
        "informe",
        &id.to_string(),
        PURPOSE,
        &format!("ok: versión {version}"),
    )?;
    Ok(r)
}

/// Refuses saving or publishing a report of a territory outside `actor`'s scope.
fn require_scope(
    store: &mut dyn Store,
    actor: &Actor,
    t: TerritoryCode,
    action: &str,
) -> Result<()> {
    if actor.operator || actor.scope.covers(t) {
        return Ok(());
    }
    actor.audit(
        store,
        action,
        "informe",
        &t.to_string(),
        PURPOSE,
        "denegado: fuera de su ámbito",
    )?;
    Err(Error::forbidden(format!(
        "{} está fuera de su ámbito territorial",
        Territory::official().name_of(t)
    )))
}

fn status_of(r: &Report) -> String {
    match &r.published_at {
        Some(at) => format!(
            "Versión {}, publicada el {}",
            r.version,
            crate::clock::moment_es(at)
        ),
        None => format!("Versión {}, borrador", r.version),
    }
}

/// The PDF of saved report `id`, drawn again from the measurements it is pinned to.
pub fn pdf(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    k: u64,
) -> Result<Vec<u8>> {
    let r = get(store, actor, id)?;
    actor.audit(
        store,
        "descargar",
        "informe",
        &id.to_string(),
        PURPOSE,
        "ok",
    )?;
    if r.status == "publicado" {
        // A published version is the document as published, byte for byte (its digest).
        return published_pdf(store, id);
    }
    let t = crate::registry::parse_territory(Some(&r.territory))?;
    let p = Period::parse(&r.period)?;
    let d = collect(
        store,
        actor,
        catalogue,
        t,
        p,
        k,
        Some(&r.trend_measurements),
    )?;
    Ok(render(&d, &r.analysis, &status_of(&r), false))
}

/// Report `id`'s record (`logros:leer`).
pub fn get(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Report> {
    actor.require(Permission::LogrosRead)?;
    let r = sr::get(&mut store.db(), id)?;
    let outcome = if r.is_some() { "ok" } else { "no encontrado" };
    actor.audit(store, "leer", "informe", &id.to_string(), PURPOSE, outcome)?;
    r.ok_or_else(|| Error::not_found(format!("no existe el informe {id}")))
}

/// Every saved report, newest period first (`logros:leer`).
pub fn list(store: &mut dyn Store, actor: &Actor) -> Result<Vec<Report>> {
    actor.require(Permission::LogrosRead)?;
    let list = sr::list(&mut store.db(), None)?;
    actor.audit(store, "listar", "informes", "", PURPOSE, "ok")?;
    Ok(list)
}

/// Publishes draft `id` (`informes:publicar`): renders it, stores the SHA-256 of the PDF and
/// freezes it. Its record as published.
pub fn publish(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    k: u64,
) -> Result<Report> {
    if let Err(e) = actor.require(Permission::ReportsPublish) {
        actor.audit(
            store,
            "publicar",
            "informe",
            &id.to_string(),
            PURPOSE,
            "denegado",
        )?;
        return Err(e);
    }
    let mut r = get(store, actor, id)?;
    let t = crate::registry::parse_territory(Some(&r.territory))?;
    require_scope(store, actor, t, "publicar")?;
    if r.status == "publicado" {
        return Err(Error::conflict(format!(
            "el informe {id} ya fue publicado: guarde una nueva versión"
        )));
    }
    if r.analysis.trim().is_empty() {
        return Err(Error::bad_request(
            "escriba el análisis antes de publicar el informe",
        ));
    }
    let at = crate::clock::now_rfc3339();
    r.published_at = Some(at.clone());
    r.published_by = Some(actor.name.clone());
    let p = Period::parse(&r.period)?;
    let d = collect(
        store,
        actor,
        catalogue,
        t,
        p,
        k,
        Some(&r.trend_measurements),
    )?;
    // The published edition is public (open data): its counts hide small cells and its overdue
    // agreements are counted per body.
    let bytes = render(&d, &r.analysis, &status_of(&r), true);
    let digest = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(&bytes);
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    if !sr::publish(&mut store.db(), id, &bytes, &digest, &actor.name, &at)? {
        return Err(Error::conflict(format!("el informe {id} ya fue publicado")));
    }
    r.status = "publicado".into();
    r.digest = Some(digest);
    actor.audit(store, "publicar", "informe", &id.to_string(), PURPOSE, "ok")?;
    Ok(r)
}

/// The PDF of published report `id` exactly as it was published — public: published reports
/// are the system's accountability (their figures are the public, suppressed ones). A draft
/// and a missing report are the same refusal.
pub fn published_pdf(store: &mut dyn Store, id: i64) -> Result<Vec<u8>> {
    sr::published_pdf(&mut store.db(), id)?
        .ok_or_else(|| Error::not_found(format!("no hay un informe publicado número {id}")))
}

/// The published reports of territory `t` (all when `None`), newest first — public.
pub fn published(store: &mut dyn Store, t: Option<TerritoryCode>) -> Result<Vec<Report>> {
    Ok(
        sr::list(&mut store.db(), t.map(|t| t.to_string()).as_deref())?
            .into_iter()
            .filter(|r| r.status == "publicado")
            .collect(),
    )
}

/// The machine-readable metadata of each published indicator (each Logro's coverage and the
/// coverage of each of its núcleo services): definition, unit, source, period (the latest
/// published measurement) and suppression rule — the open-data page's `indicadores.csv`.
pub fn indicators_csv(store: &mut dyn Store, catalogue: &Catalogue, k: u64) -> Result<Vec<u8>> {
    let period = crate::measurements::published_figures(store, None)?.map(|p| {
        format!(
            "medición publicada N.º {} al {} (publicada el {})",
            p.measurement.id,
            crate::clock::date_es(&p.measurement.as_of),
            crate::clock::moment_es(&p.published_at)
        )
    });
    let period = period.unwrap_or_else(|| "sin medición publicada todavía".into());
    let rule = format!("las celdas con menos de {k} casos, y las que permitirían deducirlas por resta, se publican vacías");
    let source = format!(
        "Registro Social de Vamos (FIPS, Registro Simplificado, Entorno), registros administrativos y contra-referencias de las instituciones; catálogo de servicios {}",
        catalogue.version
    );
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    let e = |e: csv::Error| Error::internal(e);
    w.write_record([
        "indicador",
        "nombre",
        "definicion",
        "unidad",
        "fuente",
        "periodo",
        "regla_de_supresion",
    ])
    .map_err(e)?;
    for c in vamos_domain::services::Category::ALL {
        let unit = match c.unit() {
            vamos_domain::services::Unit::Person => "personas",
            vamos_domain::services::Unit::Household => "hogares",
            vamos_domain::services::Unit::Community => "comunidades",
        };
        w.write_record([
            format!("logro_{}", c.logro()),
            format!("Logro {}: {}", c.logro(), c.label()),
            format!("Proporción de {unit} de la categoría «{}» identificadas en el registro que tienen todos los servicios del paquete núcleo (protección concurrente)", c.label()),
            unit.to_string(),
            source.clone(),
            period.clone(),
            rule.clone(),
        ])
        .map_err(e)?;
        for si in catalogue.nucleo(c) {
            let Some(s) = catalogue.services.get(si) else {
                continue;
            };
            w.write_record([
                format!("logro_{}.{}", c.logro(), s.code),
                s.name.clone(),
                format!("Proporción de {unit} de la categoría «{}» a las que el servicio aplica que lo tienen ({})", c.label(), s.institution),
                unit.to_string(),
                source.clone(),
                period.clone(),
                rule.clone(),
            ])
            .map_err(e)?;
        }
    }
    w.into_inner().map_err(Error::internal)
}

/// The published figures of territory `t` as CSV — the open-data page's download: each Logro
/// and each of its services, with suppressed cells empty, from the latest published measurement
/// (the same figures as `/api/public/logros`). Public.
pub fn public_csv(store: &mut dyn Store, t: TerritoryCode, k: u64) -> Result<Vec<u8>> {
    let Some(p) = crate::measurements::published_figures(store, None)? else {
        return Err(Error::not_found("todavía no hay cifras publicadas"));
    };
    let j = crate::suppression::for_publication(&p, k).json(t, &p.measurement, &p.published_at);
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    let e = |e: csv::Error| Error::internal(e);
    w.write_record([
        "territorio",
        "medicion",
        "fecha",
        "indicador",
        "nombre",
        "aplica_o_identificados",
        "protegidos",
        "cobertura",
    ])
    .map_err(e)?;
    let num = |v: Option<&Value>| {
        v.and_then(Value::as_u64)
            .map_or(String::new(), |n| n.to_string())
    };
    let cov = |v: Option<&Value>| {
        v.and_then(Value::as_f64)
            .map_or(String::new(), |c| format!("{c:.4}"))
    };
    let empty = Vec::new();
    for l in j.get("logros").and_then(Value::as_array).unwrap_or(&empty) {
        let n = l.get("logro").and_then(Value::as_u64).unwrap_or(0);
        let head = [
            t.to_string(),
            p.measurement.id.to_string(),
            p.measurement.as_of.clone(),
        ];
        let mut row: Vec<String> = head.to_vec();
        row.extend([
            format!("logro_{n}"),
            l.get("label")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            num(l.get("identified")),
            num(l.get("protected")),
            cov(l.get("coverage")),
        ]);
        w.write_record(&row).map_err(e)?;
        for sv in l
            .get("services")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let code = sv.get("service").and_then(Value::as_str).unwrap_or("");
            let mut row: Vec<String> = head.to_vec();
            row.extend([
                format!("logro_{n}.{code}"),
                code.to_string(),
                num(sv.get("applicable")),
                num(sv.get("protected")),
                cov(sv.get("coverage")),
            ]);
            w.write_record(&row).map_err(e)?;
        }
    }
    w.into_inner().map_err(Error::internal)
}

// ------------------------------------------------------------------- monitoring calendar

/// One quarter of the monitoring calendar of a territory.
#[derive(Debug, Clone, Serialize)]
pub struct Quarter {
    pub period: String,
    pub label: String,
    /// The cut-off: declared, or the quarter's last day.
    pub cut_off: String,
    pub declared: bool,
    /// The published measurement the quarter's report reads, if any: (number, date).
    pub measurement: Option<(i64, String)>,
    /// The quarter's saved report versions and how many are published.
    pub versions: usize,
    pub published: usize,
    /// `publicado`, `listo` (a published measurement, no published report), `vencido` (the
    /// cut-off passed without a published measurement) or `pendiente`.
    pub state: String,
}

/// The monitoring calendar of territory `t` for `year`: each quarter's cut-off, the published
/// measurement its report would read, and its reports (`logros:leer`; audited).
pub fn calendar(
    store: &mut dyn Store,
    actor: &Actor,
    t: TerritoryCode,
    year: i32,
) -> Result<Vec<Quarter>> {
    actor.require(Permission::LogrosRead)?;
    if !(2000..=2100).contains(&year) {
        return Err(Error::bad_request(format!(
            "año fuera de rango: {year} (2000 a 2100)"
        )));
    }
    let declared = sr::calendar(&mut store.db())?;
    let reports = sr::list(&mut store.db(), Some(&t.to_string()))?;
    let today = crate::clock::today();
    let mut out = Vec::new();
    for quarter in 1..=4 {
        let p = Period { year, quarter };
        let code = p.code();
        let cut = declared
            .iter()
            .find(|c| c.territory == t.to_string() && c.period == code);
        let cut_off = cut.map_or_else(|| p.end().to_string(), |c| c.cut_off.clone());
        let measurement = published_up_to(store, t, p.end())?
            .into_iter()
            .next()
            .filter(|m| m.measurement.as_of.as_str() >= p.start().to_string().as_str())
            .map(|m| {
                (
                    m.measurement.id,
                    crate::clock::date_es(&m.measurement.as_of),
                )
            });
        let mine: Vec<&Report> = reports.iter().filter(|r| r.period == code).collect();
        let published = mine.iter().filter(|r| r.status == "publicado").count();
        let state = if published > 0 {
            "publicado"
        } else if measurement.is_some() {
            "listo"
        } else if cut_off < today.to_string() {
            "vencido"
        } else {
            "pendiente"
        };
        out.push(Quarter {
            label: p.label(),
            period: code,
            cut_off: crate::clock::date_es(&cut_off),
            declared: cut.is_some(),
            measurement,
            versions: mine.len(),
            published,
            state: state.into(),
        });
    }
    actor.audit(
        store,
        "consultar",
        "calendario de monitoreo",
        &format!("{t}/{year}"),
        PURPOSE,
        "ok",
    )?;
    Ok(out)
}

/// Declares the cut-off of territory `t`'s `period` (`informes:publicar`, `t` in scope): the
/// date the quarter's measurement is taken.
pub fn declare_cut_off(
    store: &mut dyn Store,
    actor: &Actor,
    territory: &str,
    period: &str,
    cut_off: &str,
) -> Result<()> {
    actor.require(Permission::ReportsPublish)?;
    let t = crate::registry::parse_territory(Some(territory))?;
    require_scope(store, actor, t, "declarar corte")?;
    let p = Period::parse(period)?;
    let d = crate::clock::parse_date(cut_off, "fecha de corte")?;
    if d < p.start() || d > p.end() {
        return Err(Error::bad_request(format!(
            "la fecha de corte cae fuera del {}",
            p.label()
        )));
    }
    sr::declare(
        &mut store.db(),
        &sr::CutOff {
            territory: t.to_string(),
            period: p.code(),
            cut_off: d.to_string(),
            declared_by: actor.name.clone(),
        },
    )?;
    actor.audit(
        store,
        "declarar corte",
        "calendario de monitoreo",
        &format!("{t}/{}", p.code()),
        PURPOSE,
        "ok",
    )?;
    Ok(())
}
