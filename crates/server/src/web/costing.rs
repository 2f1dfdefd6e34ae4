//! Costing from targets on the web (`/costeo`): a form (territory, Logro, target, year, overhead,
//! indexation, cost of verifying a unit without data) and what reaching the target costs — per
//! service, institution and year — from `vamos_app::costing`, shared with `GET /api/costing` and
//! `vamos cost`. A Logro card with a target links here with the form filled in.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::costing::{self as c, CostQuery};
use vamos_domain::Permission;

/// `GET /costeo`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if !user.can(Permission::LogrosRead) {
        return page.error(&ApiError::forbidden(
            "su rol no permite consultar los Logros ni costear metas",
        ));
    }
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().replace(',', "."))
            .filter(|s| !s.is_empty())
    };
    let pct = |k: &str| {
        get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v / 100.0)
    };
    let form = context! {
        t => get("t"), logro => get("logro"), meta => get("meta"), anio => get("anio"),
        gastos => get("gastos"), indexacion => get("indexacion"), verificacion => get("verificacion"),
        seleccion => get("seleccion"), camino => get("camino"), conjunto => get("conjunto"),
    };
    let asked = (
        get("t"),
        get("logro").and_then(|l| l.parse::<u8>().ok()),
        pct("meta"),
        get("anio").and_then(|y| y.parse::<i32>().ok()),
    );
    let (Some(territory), Some(logro), Some(target), Some(by)) = asked else {
        return page.html("costeo.html", context! { form, result => JValue::from(()) });
    };
    let cq = CostQuery {
        territory,
        logro,
        target,
        by,
        overhead: pct("gastos").unwrap_or(0.0),
        indexation: pct("indexacion").unwrap_or(0.0),
        verification_cost: get("verificacion")
            .and_then(|v| v.replace('.', "").parse().ok())
            .unwrap_or(0),
        measurement: None,
        options: c::CostOptions::asked(
            get("seleccion"),
            get("camino"),
            get("conjunto").as_deref() == Some("si"),
        ),
    };
    let cat = st.catalogue.clone();
    let actor = user.as_actor();
    let can_save = user.can(Permission::PlansEdit);
    let can_adopt = user.can(Permission::TargetsSet);
    let can_plans = user.can(Permission::PlansRead);
    match st
        .pool
        .run(move |s| Ok(c::cost(s, &actor, &cat, &cq)?))
        .await
    {
        Ok(r) => page.html(
            "costeo.html",
            context! { form, result => JValue::from_serialize(&r), can_save, can_adopt, can_plans },
        ),
        Err(e)
            if e.status == axum::http::StatusCode::BAD_REQUEST
                || e.status == axum::http::StatusCode::CONFLICT =>
        {
            page.html_status(
                e.status,
                "costeo.html",
                context! { form, result => JValue::from(()), message => e.message },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /costeo/escenarios`: the saved scenarios, and side by side those ticked
/// (`comparar=1&comparar=2`).
pub async fn scenarios(
    State(st): State<AppState>,
    page: Page,
    raw: axum::extract::RawQuery,
) -> Response {
    let actor = match super::plans::reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let pairs: Vec<(String, String)> = raw
        .0
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let ids: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "comparar")
        .filter_map(|(_, v)| v.parse().ok())
        .take(7)
        .collect();
    let done = pairs
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v.as_str()) {
            ("hecho", "guardado") => Some("scenario-done-saved"),
            ("hecho", "borrado") => Some("scenario-done-deleted"),
            _ => None,
        });
    let can_edit = actor.can(Permission::PlansEdit);
    let out = st
        .pool
        .run(move |s| {
            let list = c::scenarios(s, &actor)?;
            let compared = if ids.is_empty() {
                None
            } else {
                Some(c::compare(s, &actor, &ids))
            };
            Ok((list, compared))
        })
        .await;
    match out {
        Ok((list, compared)) => {
            let (comparison, refused) = match compared {
                Some(Ok(v)) => (JValue::from_serialize(&v), None),
                Some(Err(e)) => (
                    JValue::from(()),
                    Some(crate::error::ApiError::from(e).message),
                ),
                None => (JValue::from(()), None),
            };
            page.html(
                "escenarios.html",
                context! { list => JValue::from_serialize(&list), comparison, refused, can_edit, done },
            )
        }
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct SaveScenario {
    pub csrf: String,
    pub nombre: String,
    pub t: String,
    pub logro: u8,
    pub meta: f64,
    pub anio: i32,
    #[serde(default)]
    pub gastos: f64,
    #[serde(default)]
    pub indexacion: f64,
    #[serde(default)]
    pub verificacion: i64,
    #[serde(default)]
    pub seleccion: String,
    #[serde(default)]
    pub camino: String,
    #[serde(default)]
    pub conjunto: String,
}

/// `POST /costeo/escenarios`: cost again and keep the result under a name.
pub async fn save(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<SaveScenario>,
) -> Response {
    let actor = match super::plans::reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if let Err(e) = page.form_ok(&f.csrf) {
        return page.error(&e);
    }
    let cq = CostQuery {
        territory: f.t,
        logro: f.logro,
        target: f.meta,
        by: f.anio,
        overhead: f.gastos,
        indexation: f.indexacion,
        verification_cost: f.verificacion,
        measurement: None,
        options: c::CostOptions::asked(
            Some(f.seleccion.clone()),
            Some(f.camino.clone()),
            f.conjunto == "si",
        ),
    };
    let cat = st.catalogue.clone();
    match st
        .pool
        .run(move |s| Ok(c::save(s, &actor, &cat, &cq, &f.nombre)?))
        .await
    {
        Ok(_) => super::redirect("/costeo/escenarios?hecho=guardado"),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct AdoptTarget {
    pub csrf: String,
    pub t: String,
    pub logro: u8,
    pub meta: f64,
    pub anio: i32,
}

/// `POST /costeo/meta`: adopt the costed target as the territory's shared target
/// (`metas:definir`), then show it on the dashboard.
pub async fn adopt(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<AdoptTarget>,
) -> Response {
    let Some(user) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if let Err(e) = page.form_ok(&f.csrf) {
        return page.error(&e);
    }
    let actor = user.as_actor();
    let target = vamos_app::targets::SetTarget {
        territory: f.t.clone(),
        logro: f.logro,
        year: f.anio,
        coverage: f.meta,
    };
    match st
        .pool
        .run(move |s| Ok(vamos_app::targets::set(s, &actor, &target)?))
        .await
    {
        Ok(()) => super::redirect(&format!("/logros?t={}&logro={}&hecho=meta", f.t, f.logro)),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct DeleteScenario {
    pub csrf: String,
    pub escenario: i64,
}

/// `POST /costeo/escenarios/borrar`
pub async fn delete(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<DeleteScenario>,
) -> Response {
    let actor = match super::plans::reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if let Err(e) = page.form_ok(&f.csrf) {
        return page.error(&e);
    }
    match st
        .pool
        .run(move |s| Ok(c::scenario_delete(s, &actor, f.escenario)?))
        .await
    {
        Ok(()) => super::redirect("/costeo/escenarios?hecho=borrado"),
        Err(e) => page.error(&e),
    }
}
