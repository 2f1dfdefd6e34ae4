//! Record linkage review pages (`/enlace`): the queue of pairs between the model's thresholds,
//! a pair's page with the administrative record and the registered person side by side, the
//! waterfall of its score and the accept / reject buttons (CSRF-protected), and the labels as
//! CSV. Everything goes through `vamos_app::linkage::reviews`, which checks permission, scope
//! and field policy and writes the audit record.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::linkage::reviews;
use vamos_domain::Permission;

fn signed_in(page: &Page) -> Result<crate::auth::Principal, ApiError> {
    let Some(p) = page.user.clone() else {
        return Err(ApiError::unauthorized());
    };
    if !p.can(Permission::LinkageReview) {
        return Err(ApiError::forbidden(
            "su rol no revisa pares del enlace de registros",
        ));
    }
    Ok(p)
}

/// `GET /enlace`: the queue (filters: estado, pagina).
pub async fn queue(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let estado = q
        .get("estado")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "pendiente".into());
    let pagina = q
        .get("pagina")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(1);
    let who = p.as_actor();
    let state = (estado != "todos").then(|| estado.clone());
    match st
        .pool
        .run(move |s| Ok(reviews::list(s, &who, state.as_deref(), pagina)?))
        .await
    {
        Ok(list) => page.html(
            "enlace.html",
            context! {
                list => JValue::from_serialize(&list),
                estado,
                states => reviews::STATES.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                previous => (list.pagina > 1).then_some(list.pagina - 1),
                next => (list.pagina < list.paginas).then_some(list.pagina + 1),
                decided => q.get("decidido").and_then(|s| s.trim().parse::<i64>().ok()),
            },
        ),
        Err(e) => page.error(&e),
    }
}

/// `GET /enlace/{id}`: a pair side by side with its waterfall and, pending, the decision.
pub async fn pair(State(st): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let who = p.as_actor();
    match st.pool.run(move |s| Ok(reviews::show(s, &who, id)?)).await {
        Ok(item) => page.html(
            "enlace_par.html",
            context! { r => JValue::from_serialize(&item) },
        ),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct Decision {
    pub csrf: String,
    /// `aceptar` or `rechazar`.
    pub accion: String,
}

/// `POST /enlace/{id}`: accept or reject, then back to the queue.
pub async fn decide(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(d): Form<Decision>,
) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    if let Err(e) = page.form_ok(&d.csrf) {
        return page.error(&e);
    }
    let accept = match d.accion.as_str() {
        "aceptar" => true,
        "rechazar" => false,
        _ => return page.error(&ApiError::bad_request("acción desconocida")),
    };
    let who = p.as_actor();
    match st
        .pool
        .run(move |s| Ok(reviews::decide(s, &who, id, accept)?))
        .await
    {
        Ok(_) => super::redirect(&format!("/enlace?decidido={id}")),
        Err(e) => page.error(&e),
    }
}

/// `GET /enlace/etiquetas.csv`: the decided pairs (cells neutralised).
pub async fn labels(State(st): State<AppState>, page: Page) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let who = p.as_actor();
    match st
        .pool
        .run(move |s| Ok(reviews::labels_csv(s, &who)?))
        .await
    {
        Ok(text) => crate::api::csv_download("etiquetas-enlace.csv", text),
        Err(e) => page.error(&e),
    }
}
