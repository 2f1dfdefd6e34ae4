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
    };
    let cat = st.catalogue.clone();
    let actor = user.as_actor();
    match st
        .pool
        .run(move |s| Ok(c::cost(s, &actor, &cat, &cq)?))
        .await
    {
        Ok(r) => page.html(
            "costeo.html",
            context! { form, result => JValue::from_serialize(&r) },
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
