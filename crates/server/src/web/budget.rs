//! Budget programmes and execution on the web (`/presupuesto`): the year's budget of a
//! department or the nation — needed (a saved costing scenario) vs current vs obligated and
//! paid — per institution, service, strategic action, source and external cooperation, and the
//! form to import a file of the Ministry of Finance. Everything goes through
//! `vamos_app::budget`, shared with `/api/budget` and `vamos budget`.

use super::plans::{editor, one_file, reader};
use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::budget::{self as b, BudgetQuery, Mapping};
use vamos_domain::Permission;

/// `GET /presupuesto`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let bq = BudgetQuery {
        year: get("anio").and_then(|y| y.parse().ok()),
        territory: get("t"),
        scenario: get("escenario").and_then(|y| y.parse().ok()),
    };
    let form = context! { anio => get("anio"), t => get("t"), escenario => get("escenario") };
    let done = get("hecho")
        .filter(|h| h == "importado")
        .map(|_| "budget-done-imported");
    render(&st, &page, actor, bq, form, JValue::from(()), done).await
}

async fn render(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    bq: BudgetQuery,
    form: JValue,
    outcome: JValue,
    done: Option<&str>,
) -> Response {
    let cat = st.catalogue.clone();
    let can_edit = actor.can(Permission::PlansEdit);
    let out = st
        .pool
        .run(move |s| {
            let scenarios = vamos_app::costing::scenarios(s, &actor)?;
            let years = b::years(s, &actor)?;
            Ok((b::summary(s, &actor, &cat, &bq), scenarios, years))
        })
        .await;
    match out {
        Ok((summary, scenarios, years)) => {
            let (v, refused, status) = match summary {
                Ok(v) => (JValue::from_serialize(&v), None, axum::http::StatusCode::OK),
                Err(e) => {
                    let e = ApiError::from(e);
                    if e.status == axum::http::StatusCode::BAD_REQUEST
                        || e.status == axum::http::StatusCode::NOT_FOUND
                    {
                        (JValue::from(()), Some(e.message), e.status)
                    } else {
                        return page.error(&e);
                    }
                }
            };
            let status = if outcome.is_undefined() || outcome.is_none() {
                status
            } else {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            };
            page.html_status(
                status,
                "presupuesto.html",
                context! { v, refused, form, outcome, done, can_edit, years, scenarios => JValue::from_serialize(&scenarios) },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `POST /presupuesto`: a file of the Ministry of Finance to import.
pub async fn upload(State(st): State<AppState>, page: Page, mut form: Multipart) -> Response {
    let (actor, csrf) = match editor(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let dir = match tempfile::Builder::new()
        .prefix("vamos-presupuesto-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return page.error(&ApiError::internal(e)),
    };
    let (fields, file) = match one_file(&mut form, dir.path(), "archivo", &csrf).await {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    // A form without a file has not shown its token yet.
    if let Err(e) = page.form_ok(fields.get("csrf").map_or("", String::as_str)) {
        return page.error(&e);
    }
    let Some(path) = file else {
        return page.error(&ApiError::bad_request("elija un archivo CSV o XLSX"));
    };
    let cat = st.catalogue.clone();
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| Ok(b::import(s, &who, &cat, &path, &Mapping::default_mh()?)?))
        .await;
    drop(dir);
    let form = context! {};
    match out {
        Ok(Ok(i)) => super::redirect(&format!(
            "/presupuesto?anio={}&hecho=importado",
            i.years.last().copied().unwrap_or_default()
        )),
        Ok(Err(problems)) => {
            let outcome = context! { problems => JValue::from_serialize(&problems) };
            render(
                &st,
                &page,
                actor,
                BudgetQuery::default(),
                form,
                outcome,
                None,
            )
            .await
        }
        Err(e) if e.status == axum::http::StatusCode::BAD_REQUEST => {
            let outcome = context! { message => e.message };
            render(
                &st,
                &page,
                actor,
                BudgetQuery::default(),
                form,
                outcome,
                None,
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}
