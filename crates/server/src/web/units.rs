//! The units behind a figure (`/logros/unidades`, `/logros/unidades.csv`): from a Logro card,
//! a service row or a population row of a district's dashboard, the persons, households or
//! communities the figure counts as not protected or without data, page by page, each linking
//! to its page, and the whole list as CSV. The rules (scope, agreement, audit) are
//! `vamos_app::units`'s, shared with `GET /api/units` and `vamos units`.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::units::{self as u, UnitsQuery};

const PURPOSE: &str = "unidades detrás de una cifra (aplicación web)";

fn query(q: &HashMap<String, String>) -> UnitsQuery {
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    UnitsQuery {
        measurement: get("m").and_then(|m| m.parse().ok()),
        territory: get("t").unwrap_or_default(),
        logro: get("logro").and_then(|l| l.parse().ok()).unwrap_or(0),
        service: get("servicio"),
        population: get("poblacion"),
        state: get("estado"),
        page: get("pagina").and_then(|p| p.parse().ok()),
        limit: None,
        purpose: Some(PURPOSE.into()),
    }
}

/// The query string of a list (for its pages and its CSV), every value URL-encoded.
fn link(q: &UnitsQuery, page: Option<usize>) -> String {
    let mut pairs: Vec<(&str, String)> =
        vec![("t", q.territory.clone()), ("logro", q.logro.to_string())];
    if let Some(m) = q.measurement {
        pairs.push(("m", m.to_string()));
    }
    for (k, v) in [
        ("servicio", &q.service),
        ("poblacion", &q.population),
        ("estado", &q.state),
    ] {
        if let Some(v) = v {
            pairs.push((k, v.clone()));
        }
    }
    if let Some(p) = page {
        pairs.push(("pagina", p.to_string()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// `GET /logros/unidades`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let uq = query(&q);
    let actor = user.as_actor();
    let catalogue = st.catalogue.clone();
    let asked = uq.clone();
    let found = st
        .pool
        .run(move |s| Ok(u::list(s, &actor, &catalogue, &asked)?))
        .await;
    let p = match found {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let rows: Vec<JValue> = p.rows.iter().map(JValue::from_serialize).collect();
    let district = vamos_domain::TerritoryCode::District(p.district);
    page.html(
        "unidades.html",
        context! {
            measurement => context! { id => p.measurement, as_of => p.as_of.clone(), synthetic => p.synthetic },
            territory => context! { code => district.to_string(), name => vamos_domain::Territory::official().name_of(district) },
            logro => p.logro,
            category => p.category.label(),
            service => p.service.as_ref().map(|(_, n)| n.clone()),
            population => p.population.as_ref().map(|x| format!("breakdown-{}", x.replace('_', "-"))),
            without_data => p.state == "sin_dato",
            total => p.total,
            page => p.page,
            pages => p.pages,
            rows,
            prev => (p.page > 1).then(|| link(&uq, Some(p.page - 1))),
            next => (p.page < p.pages).then(|| link(&uq, Some(p.page + 1))),
            csv => link(&uq, None),
        },
    )
}

/// `GET /logros/unidades.csv`
pub async fn csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let uq = query(&q);
    let actor = user.as_actor();
    let catalogue = st.catalogue.clone();
    match st
        .pool
        .run(move |s| Ok(u::csv(&u::export(s, &actor, &catalogue, &uq)?)?))
        .await
    {
        Ok(bytes) => crate::api::csv_download("unidades.csv", bytes),
        Err(e) => page.error(&e),
    }
}
