//! The Logros dashboard (`/logros`): nation → department → district drill-down; the ten
//! Logros as cards with coverage, counts, data gaps and the change since the previous
//! measurement; for a chosen Logro, the coverage of each service (which desprotección weighs
//! most), the populations of special attention, a choropleth map of the departments with its
//! table, the territories one level down and the trend across measurements. Every figure
//! downloads as CSV (`/logros.csv`).
//!
//! Accounts that may read Logros (`LogrosRead`) see the stored, live figures of the territories
//! their scope covers (`vamos_app::measurements::reads_unsuppressed`), and may publish the
//! measurement they look at when they hold `mediciones:publicar` (`POST /logros/publicar`).
//! Everyone else — and an account outside its scope — sees the public figures: those of the
//! latest *published* measurement, frozen when it was published, with the small-cell
//! suppression of `/api/public/logros` (the same `vamos_app::suppression` computes both, so
//! they agree); with nothing published the page says that an analyst must publish one. A
//! synthetic measurement is labelled *sintético* on every view.

use super::i18n::Lang;
use super::{map, Page};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use minijinja::value::Value as JValue;
use serde::Deserialize;
use serde_json::Value;
use vamos_app::measurements as status;
use vamos_app::suppression;
use vamos_domain::authz::Permission;
use vamos_domain::csv_safe::CsvWriter;
use vamos_domain::{Scope, Territory, TerritoryCode};
use vamos_engine::logros::{roll_up, DistrictLogros};
use vamos_store::MeasurementRecord;

#[derive(Deserialize, Default)]
pub struct DashboardQuery {
    /// Territory: `PY`, a department `DD` or a district `DDdd`.
    pub t: Option<String>,
    /// The Logro the map, the services and the breakdowns show (1–10).
    pub logro: Option<u8>,
    /// A measurement (default: the latest).
    pub m: Option<i64>,
    /// What the page comes back from (`meta`: a shared target was just adopted).
    pub hecho: Option<String>,
}

/// Most measurements the trend reads.
const TREND: usize = 8;

/// Everything a dashboard view shows, read in one go.
struct Figures {
    measurement: MeasurementRecord,
    /// The territory's Logros (API JSON: stored or public).
    current: Value,
    previous: Option<(MeasurementRecord, Value)>,
    /// One level down.
    children: Vec<(TerritoryCode, Value)>,
    /// The departments (for the map), whatever the level.
    departments: Vec<(TerritoryCode, Value)>,
    /// (measurement, the territory's Logros), oldest first.
    trend: Vec<(MeasurementRecord, Value)>,
    public: bool,
    /// When the measurement shown was published and by whom (`None`: not published).
    publication: Option<(String, String)>,
    /// The territory's next target per Logro (public figures: only those set for it).
    targets: Vec<vamos_app::targets::Effective>,
    /// Each service's next target in the territory, from the plans in force (internal figures
    /// only).
    service_targets: Vec<vamos_app::plans::ServiceTarget>,
}

/// Which figures a view shows.
#[derive(Clone)]
enum Mode {
    /// The stored, live figures; territories outside `scope` are left out.
    Internal { scope: Scope },
    /// The public figures of published measurements.
    Public,
}

fn territory(q: &DashboardQuery) -> Result<TerritoryCode, ApiError> {
    TerritoryCode::parse(q.t.as_deref().unwrap_or("PY").trim())
        .map_err(|e| ApiError::bad_request(format!("territorio inválido: {e}")))
}

/// Whether measurement territory `covers` (as stored: `PY`, `DD` or `DDdd`) includes `t`.
fn covers(stored: &str, t: TerritoryCode) -> bool {
    match TerritoryCode::parse(stored) {
        Ok(outer) => vamos_app::referrals::territory_within(t, outer),
        Err(_) => false,
    }
}

/// The rows of the measurement list (`saved` or `published`) as (id, territory, published_at,
/// published_by).
fn listed(rows: &[Value]) -> Vec<(i64, String, Option<String>, Option<String>)> {
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
    rows.iter()
        .filter_map(|r| {
            Some((
                r.get("id").and_then(Value::as_i64)?,
                text(r, "territory").unwrap_or_else(|| "PY".into()),
                text(r, "published_at"),
                text(r, "published_by"),
            ))
        })
        .collect()
}

/// The earlier measurements of `rows` that cover `t`, before `id`, newest first.
fn earlier(rows: &[Value], id: i64, t: TerritoryCode) -> Vec<i64> {
    listed(rows)
        .into_iter()
        .filter(|(x, stored, _, _)| *x < id && covers(stored, t))
        .map(|(x, ..)| x)
        .take(TREND - 1)
        .collect()
}

/// The year of a measurement's reference date (the first targets shown are from it on).
fn year_of(m: &MeasurementRecord) -> i32 {
    m.as_of
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(i32::MIN)
}

fn read_public(
    s: &mut dyn vamos_store::Store,
    measurement: Option<i64>,
    t: TerritoryCode,
    k: u64,
) -> Result<Option<Figures>, ApiError> {
    let Some(p) = status::published_figures(s, measurement)? else {
        return Ok(None);
    };
    let figures = suppression::for_publication(&p, k);
    let m = p.measurement;
    let current = figures.json(t, &m, &p.published_at);
    let children = figures.children_json(t, &m, &p.published_at);
    let departments = figures.children_json(TerritoryCode::Nation, &m, &p.published_at);
    let mut trend = Vec::new();
    for id in earlier(&status::published(s)?, m.id, t).iter().rev() {
        if let Some(e) = status::published_figures(s, Some(*id))? {
            let v = suppression::for_publication(&e, k).json(t, &e.measurement, &e.published_at);
            trend.push((e.measurement, v));
        }
    }
    let previous = trend.last().cloned();
    trend.push((m.clone(), current.clone()));
    // The targets set for the territory itself (public policy); none derived from its districts,
    // whose weights would be the unsuppressed counts.
    let year = year_of(&m);
    let targets = vamos_app::targets::effective_stored(s, &[], t, year)?;
    Ok(Some(Figures {
        measurement: m,
        current,
        previous,
        children,
        departments,
        trend,
        public: true,
        publication: Some((p.published_at, p.published_by)),
        targets,
        service_targets: Vec::new(),
    }))
}

fn read_internal(
    s: &mut dyn vamos_store::Store,
    measurement: Option<i64>,
    t: TerritoryCode,
    scope: &Scope,
) -> Result<Option<Figures>, ApiError> {
    let Some((m, districts)) = status::measurement_districts(s, measurement)? else {
        return Ok(None);
    };
    let table = |m: &MeasurementRecord, d: &[DistrictLogros], x: TerritoryCode| {
        status::logros_json(m, x, &roll_up(d, x))
    };
    let current = table(&m, &districts, t);
    // Only the territories the scope covers; the others are left without figures.
    let level = |x: TerritoryCode| -> Vec<(TerritoryCode, Value)> {
        suppression::children(x)
            .into_iter()
            .map(|c| {
                let v = if scope.covers(c) {
                    table(&m, &districts, c)
                } else {
                    Value::Null
                };
                (c, v)
            })
            .collect()
    };
    let children = level(t);
    let departments = level(TerritoryCode::Nation);
    let saved = status::saved(s)?;
    let publication = listed(&saved)
        .into_iter()
        .find(|(id, ..)| *id == m.id)
        .and_then(|(_, _, at, by)| Some((at?, by.unwrap_or_default())));
    let mut trend = Vec::new();
    for id in earlier(&saved, m.id, t).iter().rev() {
        if let Some((pm, pd)) = status::measurement_districts(s, Some(*id))? {
            let v = table(&pm, &pd, t);
            trend.push((pm, v));
        }
    }
    let previous = trend.last().cloned();
    trend.push((m.clone(), current.clone()));
    let year = year_of(&m);
    let targets = vamos_app::targets::effective_stored(s, &districts, t, year)?;
    let service_targets = vamos_app::plans::service_targets(s, t, i64::from(year))?;
    Ok(Some(Figures {
        measurement: m,
        current,
        previous,
        children,
        departments,
        trend,
        public: false,
        publication,
        targets,
        service_targets,
    }))
}

fn read(
    s: &mut dyn vamos_store::Store,
    measurement: Option<i64>,
    t: TerritoryCode,
    mode: &Mode,
    k: u64,
) -> Result<Option<Figures>, ApiError> {
    match mode {
        Mode::Internal { scope } => read_internal(s, measurement, t, scope),
        Mode::Public => read_public(s, measurement, t, k),
    }
}

/// The figures `page` may see of territory `t`, and whether the account reads Logros but `t`
/// lies outside its scope (it then sees the public figures).
fn mode(page: &Page, t: TerritoryCode) -> (Mode, bool) {
    let actor = page.user.as_ref().map(crate::auth::Principal::as_actor);
    match actor {
        Some(a) if status::reads_unsuppressed(&a, t) => (Mode::Internal { scope: a.scope }, false),
        Some(a) => (Mode::Public, a.can(Permission::LogrosRead)),
        None => (Mode::Public, false),
    }
}

fn logro_of(v: &Value, n: u8) -> Option<&Value> {
    v.get("logros")?
        .as_array()?
        .iter()
        .find(|l| l.get("logro").and_then(Value::as_u64) == Some(u64::from(n)))
}

fn cov(v: &Value) -> Option<f64> {
    v.get("coverage").and_then(Value::as_f64)
}

fn territory_name(t: TerritoryCode) -> String {
    Territory::official().name_of(t)
}

/// The parents of `t`, nation first (for the breadcrumb).
fn trail(t: TerritoryCode) -> Vec<JValue> {
    let mut out = vec![TerritoryCode::Nation];
    match t {
        TerritoryCode::Nation => {}
        TerritoryCode::Department(_) => out.push(t),
        TerritoryCode::District(d) => {
            out.push(TerritoryCode::Department(d.department()));
            out.push(t);
        }
    }
    out.into_iter()
        .map(|x| context! { code => x.to_string(), name => territory_name(x) })
        .collect()
}

/// The page's view of the figures.
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
fn view(
    f: &Figures,
    t: TerritoryCode,
    chosen: u8,
    catalogue: &vamos_catalogue::Catalogue,
    lang: Lang,
) -> JValue {
    let text = |key: &str| {
        super::Web::get()
            .map(|w| w.text(lang, key, &[("logro", chosen.to_string())]))
            .unwrap_or_default()
    };
    let cards: Vec<JValue> = f
        .current
        .get("logros")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    let n = l.get("logro").and_then(Value::as_u64).unwrap_or(0) as u8;
                    let before = f
                        .previous
                        .as_ref()
                        .and_then(|(_, p)| logro_of(p, n))
                        .and_then(cov);
                    let change = match (cov(l), before) {
                        (Some(a), Some(b)) => Some(a - b),
                        _ => None,
                    };
                    let target = f.targets.iter().find(|x| x.logro == n);
                    let points: Vec<(chrono::NaiveDate, f64)> = f
                        .trend
                        .iter()
                        .filter_map(|(m, v)| {
                            Some((
                                chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d").ok()?,
                                logro_of(v, n).and_then(cov)?,
                            ))
                        })
                        .collect();
                    context! {
                        logro => n,
                        target => target.map(|x| context! {
                            year => x.year,
                            coverage => x.coverage,
                            gap => cov(l).map(|c| (x.coverage - c).max(0.0)),
                            districts => x.from_districts,
                            reaches => vamos_app::targets::trend_reaches(&points, x.year, x.coverage),
                        }),
                        coverage => cov(l),
                        identified => l.get("identified").cloned().map(JValue::from_serialize),
                        protected => l.get("protected").cloned().map(JValue::from_serialize),
                        without_data => l.get("without_data").cloned().map(JValue::from_serialize),
                        change,
                        chosen => n == chosen,
                        bar => cov(l).map(|c| (c * 100.0).round()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let selected = logro_of(&f.current, chosen);
    let mut services: Vec<JValue> = Vec::new();
    if let Some(list) = selected
        .and_then(|l| l.get("services"))
        .and_then(Value::as_array)
    {
        let mut rows: Vec<&Value> = list.iter().collect();
        rows.sort_by_key(|s| {
            std::cmp::Reverse(s.get("unprotected").and_then(Value::as_u64).unwrap_or(0))
        });
        for s in rows {
            let code = s.get("service").and_then(Value::as_str).unwrap_or("");
            let svc = catalogue.services.iter().find(|x| x.code == code);
            let target = f.service_targets.iter().find(|x| x.service == code);
            services.push(context! {
                target => target.map(|x| context! {
                    year => x.year,
                    coverage => x.coverage,
                    gap => cov(s).map(|c| (x.coverage - c).max(0.0)),
                    plan => x.plan.clone(),
                    illustrative => x.illustrative,
                }),
                code,
                name => svc.map(|x| x.name.clone()).unwrap_or_else(|| code.to_string()),
                institution => svc.map(|x| x.institution.clone()),
                applicable => JValue::from_serialize(s.get("applicable")),
                protected => JValue::from_serialize(s.get("protected")),
                unprotected => JValue::from_serialize(s.get("unprotected")),
                without_data => JValue::from_serialize(s.get("without_data")),
                coverage => cov(s),
            });
        }
    }
    let breakdowns: Vec<JValue> = selected
        .and_then(|l| l.get("breakdowns"))
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    context! {
                        code => k.clone(),
                        key => format!("breakdown-{}", k.replace('_', "-")),
                        identified => JValue::from_serialize(v.get("identified")),
                        protected => JValue::from_serialize(v.get("protected")),
                        coverage => cov(v),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = |list: &[(TerritoryCode, Value)]| -> Vec<JValue> {
        list.iter()
            .map(|(c, v)| {
                let l = logro_of(v, chosen);
                context! {
                    code => c.to_string(),
                    name => territory_name(*c),
                    coverage => l.and_then(cov),
                    identified => JValue::from_serialize(l.and_then(|x| x.get("identified"))),
                    protected => JValue::from_serialize(l.and_then(|x| x.get("protected"))),
                    without_data => JValue::from_serialize(l.and_then(|x| x.get("without_data"))),
                    drill => !matches!(c, TerritoryCode::District(_)),
                }
            })
            .collect()
    };
    let highlighted = match t {
        TerritoryCode::Nation => None,
        TerritoryCode::Department(d) => Some(d),
        TerritoryCode::District(d) => Some(d.department()),
    };
    let map_values: Vec<(u8, Option<f64>, String)> = f
        .departments
        .iter()
        .filter_map(|(c, v)| match c {
            TerritoryCode::Department(d) => Some((
                d.get(),
                logro_of(v, chosen).and_then(cov),
                territory_name(*c),
            )),
            _ => None,
        })
        .collect();
    let svg = map::departments_svg(
        &map_values,
        highlighted.map(|d| d.get()),
        chosen,
        lang,
        &text("map-title"),
    );
    let trend: Vec<JValue> = f
        .trend
        .iter()
        .map(|(m, v)| {
            context! {
                id => m.id,
                as_of => m.as_of.clone(),
                synthetic => m.synthetic,
                coverage => logro_of(v, chosen).and_then(cov),
            }
        })
        .collect();
    let trend_points: Vec<Option<f64>> = f
        .trend
        .iter()
        .map(|(_, v)| logro_of(v, chosen).and_then(cov))
        .collect();
    let m = &f.measurement;
    context! {
        territory => context! {
            code => t.to_string(),
            name => territory_name(t),
            level => match t {
                TerritoryCode::Nation => "nacion",
                TerritoryCode::Department(_) => "departamento",
                TerritoryCode::District(_) => "distrito",
            },
        },
        trail => trail(t),
        measurement => context! {
            id => m.id, as_of => m.as_of.clone(), synthetic => m.synthetic,
            catalogue => m.catalogue_label.clone(),
            // Public figures are frozen at publication: the live updates do not apply to them.
            updated_at => if f.public { None } else { m.counter_referrals_updated_at.clone() },
            published_at => f.publication.as_ref().map(|(at, _)| at.clone()),
            published_by => f.publication.as_ref().filter(|_| !f.public).map(|(_, by)| by.clone()),
        },
        previous => f.previous.as_ref().map(|(p, _)| context! { id => p.id, as_of => p.as_of.clone() }),
        public => f.public,
        min_cell => f.current.get("min_cell").and_then(Value::as_u64),
        cards,
        chosen,
        services,
        breakdowns,
        children => rows(&f.children),
        departments => rows(&f.departments),
        child_level => match t { TerritoryCode::Nation => "departamento", _ => "distrito" },
        map_svg => svg,
        legend => map::legend(),
        trend,
        trend_svg => map::trend_svg(&trend_points, &text("trend-title")),
        has_targets => !f.targets.is_empty(),
        has_service_targets => !f.service_targets.is_empty(),
    }
}

/// `GET /logros`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let t = match territory(&q) {
        Ok(t) => t,
        Err(e) => return page.error(&e),
    };
    let chosen = q.logro.filter(|n| (1..=10).contains(n)).unwrap_or(1);
    let (mode, outside) = mode(&page, t);
    let public = matches!(mode, Mode::Public);
    let k = st.settings.public_min_cell;
    let m = q.m;
    let figures = st.pool.run(move |s| read(s, m, t, &mode, k)).await;
    match figures {
        Ok(Some(f)) => {
            let registry = page.can(Permission::RegistryRead) && t != TerritoryCode::Nation;
            let can_publish = !public && page.can(Permission::MeasurementsPublish);
            // Behind a service's unprotected figure: its open referrals in the inbox (scoped,
            // audited, exportable there), for accounts that read them and inside their scope.
            let behind = !public && !outside && page.can(Permission::ReferralsRead);
            // Behind every figure of a district: the units it counts (`/logros/unidades`).
            let reads_units = !public && !outside && page.can(Permission::RegistryRead);
            let units = reads_units && matches!(t, TerritoryCode::District(_));
            let choose_district = reads_units && !units;
            // Only links to the lists the account's agreement lets it open.
            let listable = match (&page.user, units) {
                (Some(u), true) => {
                    let (actor, cat) = (u.as_actor(), st.catalogue.clone());
                    st.pool
                        .run(move |s| Ok(vamos_app::units::listable(s, &actor, &cat, chosen)?))
                        .await
                        .unwrap_or_default()
                }
                _ => vamos_app::units::Listable::default(),
            };
            let csrf = page
                .user
                .as_ref()
                .map(|u| u.csrf().to_string())
                .unwrap_or_default();
            let v = view(&f, t, chosen, &st.catalogue, page.lang);
            page.html(
                "logros.html",
                context! {
                    registry, outside, can_publish, behind, units, choose_district, csrf,
                    target_adopted => q.hecho.as_deref() == Some("meta"),
                    units_card => listable.card, units_services => listable.services,
                    units_populations => listable.populations, ..v
                },
            )
        }
        Ok(None) => page.html(
            "logros.html",
            context! { empty => true, empty_public => public, outside },
        ),
        Err(e) => page.error(&e),
    }
}

/// The publish button's form.
#[derive(Deserialize)]
pub struct PublishForm {
    pub csrf: String,
    pub medicion: i64,
    /// The territory the page showed, to go back to.
    pub t: Option<String>,
}

/// `POST /logros/publicar`: publishes the measurement the page showed
/// (`vamos_app::measurements::publish`, audited) and goes back to it.
pub async fn publish(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<PublishForm>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if p.csrf() != f.csrf {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let t =
        f.t.as_deref()
            .and_then(|x| TerritoryCode::parse(x.trim()).ok())
            .unwrap_or(TerritoryCode::Nation);
    let id = f.medicion;
    let actor = p.as_actor();
    let done = st
        .pool
        .run(move |s| Ok(status::publish(s, &actor, id)?))
        .await;
    match done {
        Ok(_) => super::redirect(&format!("/logros?t={t}&m={id}")),
        Err(e) => page.error(&e),
    }
}

/// `GET /logros.csv`: the Logros of the territory and of the territories one level down, each
/// with its populations of special attention (`poblacion:<key>` in the service column) and its
/// per-service coverage, then the territory's Logros in the earlier measurements (the trend) —
/// what the page shows, as a table (public figures keep their suppressed cells empty).
pub async fn csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let t = match territory(&q) {
        Ok(t) => t,
        Err(e) => return page.error(&e),
    };
    let (mode, _) = mode(&page, t);
    let public = matches!(mode, Mode::Public);
    let k = st.settings.public_min_cell;
    let m = q.m;
    let figures = st.pool.run(move |s| read(s, m, t, &mode, k)).await;
    let f = match figures {
        Ok(Some(f)) => f,
        Ok(None) if public => {
            return page.error(&ApiError::not_found(
                "todavía no hay mediciones publicadas: un analista debe publicar una medición",
            ))
        }
        Ok(None) => return page.error(&ApiError::not_found("todavía no hay mediciones")),
        Err(e) => return page.error(&e),
    };
    match csv_bytes(&f, t) {
        Ok(body) => {
            let name = format!("logros-{}-medicion-{}.csv", t, f.measurement.id);
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => page.error(&e),
    }
}

/// One line of the dashboard's CSV: which measurement and territory, which Logro, which
/// population or service (empty for the Logro itself), and the counts of that cell.
struct CsvCell<'a> {
    measurement: &'a MeasurementRecord,
    territory: TerritoryCode,
    logro: &'a Value,
    detail: String,
    /// The cell's counts: identified (or applicable), protected, unprotected, without data.
    counts: &'a Value,
    total_key: &'a str,
}

fn write_cell(w: &mut CsvWriter<Vec<u8>>, c: &CsvCell<'_>) -> Result<(), ApiError> {
    let num = |k: &str| -> String {
        c.counts
            .get(k)
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    let m = c.measurement;
    w.write_record([
        m.id.to_string(),
        m.as_of.clone(),
        if m.synthetic { "sintético" } else { "" }.to_string(),
        c.territory.to_string(),
        territory_name(c.territory),
        c.logro
            .get("logro")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string(),
        c.logro
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        c.detail.clone(),
        num(c.total_key),
        num("protected"),
        num("unprotected"),
        num("without_data"),
        cov(c.counts).map(|x| format!("{x:.4}")).unwrap_or_default(),
    ])
    .map_err(ApiError::internal)
}

fn logros_of(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("logros")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn csv_bytes(f: &Figures, t: TerritoryCode) -> Result<Vec<u8>, ApiError> {
    // UTF-8 with BOM, so a spreadsheet reads the accents of the territory names.
    let mut w = CsvWriter::from_writer("\u{feff}".as_bytes().to_vec());
    w.write_record([
        "medicion",
        "fecha",
        "datos",
        "territorio",
        "nombre",
        "logro",
        "categoria",
        "servicio",
        "identificados",
        "protegidos",
        "desprotegidos",
        "sin_dato",
        "cobertura",
    ])
    .map_err(ApiError::internal)?;
    let mut all = vec![(t, f.current.clone())];
    all.extend(f.children.iter().cloned());
    let m = &f.measurement;
    for (code, v) in &all {
        for l in logros_of(v) {
            let cell = |detail: String, counts, total_key| CsvCell {
                measurement: m,
                territory: *code,
                logro: l,
                detail,
                counts,
                total_key,
            };
            write_cell(&mut w, &cell(String::new(), l, "identified"))?;
            for (b, counts) in l
                .get("breakdowns")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                write_cell(
                    &mut w,
                    &cell(format!("poblacion:{b}"), counts, "identified"),
                )?;
            }
            for s in l
                .get("services")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let code = s.get("service").and_then(Value::as_str).unwrap_or("");
                write_cell(&mut w, &cell(code.to_string(), s, "applicable"))?;
            }
        }
    }
    // The trend: the territory's Logros in the earlier measurements that cover it.
    for (pm, v) in f.trend.iter().filter(|(pm, _)| pm.id != m.id) {
        for l in logros_of(v) {
            write_cell(
                &mut w,
                &CsvCell {
                    measurement: pm,
                    territory: t,
                    logro: l,
                    detail: String::new(),
                    counts: l,
                    total_key: "identified",
                },
            )?;
        }
    }
    w.into_inner().map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measurement_covers_its_territory_and_what_lies_inside() {
        let villeta = TerritoryCode::parse("1115").unwrap();
        assert!(covers("PY", villeta));
        assert!(covers("11", villeta));
        assert!(covers("1115", villeta));
        assert!(!covers("12", villeta));
        assert!(!covers("11", TerritoryCode::Nation));
        assert_eq!(trail(villeta).len(), 3);
    }
}
