//! Change request pages (`/cambios`): the list of the account's territories, a form per type
//! (with documents, multipart), and a request's page with its before/after preview and the
//! approve and reject buttons (CSRF-protected). Everything goes through `vamos_app::changes`,
//! which checks permission, scope and field policy and writes the audit record.

use super::Page;
use crate::api::change_requests::read_form;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use vamos_app::changes as ch;
use vamos_domain::changes::{ChangeType, DocumentKind, TYPES};
use vamos_domain::Permission;

fn signed_in(page: &Page) -> Result<crate::auth::Principal, ApiError> {
    let Some(p) = page.user.clone() else {
        return Err(ApiError::unauthorized());
    };
    if !p.can(Permission::ChangesRequest) && !p.can(Permission::ChangesApprove) {
        return Err(ApiError::forbidden(
            "su rol no solicita ni aprueba cambios al registro",
        ));
    }
    Ok(p)
}

fn types_ctx() -> Vec<JValue> {
    TYPES
        .iter()
        .map(|t| context! { code => t.code, label => t.label })
        .collect()
}

/// `GET /cambios`: the requests of the account's territories (filters: estado, tipo).
pub async fn list(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let query = ch::ListQuery {
        estado: q.get("estado").cloned().filter(|s| !s.is_empty()),
        tipo: q.get("tipo").cloned().filter(|s| !s.is_empty()),
        antes: None,
        limite: Some(200),
    };
    let who = p.as_actor();
    let rows = st.pool.run(move |s| Ok(ch::list(s, &who, &query)?)).await;
    match rows {
        Ok(rows) => page.html(
            "cambios.html",
            context! {
                items => JValue::from_serialize(&rows),
                types => types_ctx(),
                estado => q.get("estado").cloned().unwrap_or_default(),
                tipo => q.get("tipo").cloned().unwrap_or_default(),
                can_request => p.can(Permission::ChangesRequest),
            },
        ),
        Err(e) => page.error(&e),
    }
}

/// `GET /cambios.csv`: the same list as CSV (cells neutralised).
pub async fn csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let query = ch::ListQuery {
        estado: q.get("estado").cloned().filter(|s| !s.is_empty()),
        tipo: q.get("tipo").cloned().filter(|s| !s.is_empty()),
        antes: None,
        limite: Some(ch::MAX_LIST),
    };
    let who = p.as_actor();
    match st
        .pool
        .run(move |s| Ok(ch::export_csv(s, &who, &query)?))
        .await
    {
        Ok(text) => crate::api::csv_download("solicitudes-de-cambio.csv", text),
        Err(e) => page.error(&e),
    }
}

fn form_ctx(kind: Option<ChangeType>, reclamo: Option<i64>, error: Option<String>) -> JValue {
    let spec = kind.map(|k| k.spec());
    context! {
        reclamo,
        types => types_ctx(),
        tipo => spec.map(|s| s.code),
        label => spec.map(|s| s.label),
        units => spec.map(|s| std::iter::once(s.unit).chain(s.other_units.iter().copied())
            .map(|u| u.as_str()).collect::<Vec<_>>()),
        fields => spec.map(|s| s.payload.to_vec()),
        dating => spec.map(|s| JValue::from_serialize(s.dating)),
        evidence => spec.map(|s| s.evidence.iter().map(|d| d.code()).collect::<Vec<_>>()),
        documents => DocumentKind::ALL.iter().map(|d| context! { code => d.code(), label => d.label() }).collect::<Vec<_>>(),
        error,
    }
}

/// `GET /cambios/nueva?tipo=…`: the form of a request type (or the list of types).
pub async fn new_form(page: Page, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Err(e) = signed_in(&page) {
        return page.error(&e);
    }
    let kind = q.get("tipo").and_then(|t| ChangeType::parse(t));
    let reclamo = q.get("reclamo").and_then(|r| r.trim().parse::<i64>().ok());
    page.html("cambio_nuevo.html", form_ctx(kind, reclamo, None))
}

/// `POST /cambios` (multipart: csrf, tipo, unidad…, valor_<campo>…, efecto, desde, motivo,
/// documento, adjunto…).
pub async fn create(State(st): State<AppState>, page: Page, form: Multipart) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let (files, fields) = match read_form(form, "").await {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    if get("csrf").as_deref() != Some(p.csrf()) {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let tipo = get("tipo").unwrap_or_default();
    let kind = ChangeType::parse(&tipo);
    let reclamo = get("reclamo").and_then(|r| r.parse::<i64>().ok());
    let mut unidades = Vec::new();
    for (n, v) in &fields {
        if n == "unidad" && !v.trim().is_empty() {
            match v.trim().parse::<i64>() {
                Ok(id) => unidades.push(id),
                Err(_) => {
                    return page.html_status(
                        axum::http::StatusCode::BAD_REQUEST,
                        "cambio_nuevo.html",
                        form_ctx(
                            kind,
                            reclamo,
                            Some(format!(
                                "«{}» no es un número de unidad",
                                vamos_domain::limits::echo(v)
                            )),
                        ),
                    )
                }
            }
        }
    }
    let mut valores = Map::new();
    for (n, v) in &fields {
        if let Some(f) = n.strip_prefix("valor_") {
            if !v.trim().is_empty() {
                valores.insert(f.to_string(), Value::String(v.trim().to_string()));
            }
        }
    }
    let input = ch::RequestInput {
        tipo,
        unidades,
        valores,
        efecto: get("efecto").unwrap_or_default(),
        desde: get("desde").filter(|s| !s.is_empty()),
        motivo: get("motivo").unwrap_or_default(),
        reclamo,
        adjuntos: files.map(|f| f.adjuntos).unwrap_or_default(),
    };
    let who = p.as_actor();
    match st
        .pool
        .run(move |s| Ok(ch::request(s, &who, &input)?))
        .await
    {
        Ok(v) => super::redirect(&format!("/cambios/{}", v.get("id").unwrap_or(&Value::Null))),
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::FORBIDDEN => {
            page.html_status(
                e.status,
                "cambio_nuevo.html",
                form_ctx(kind, reclamo, Some(e.message.clone())),
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /cambios/{id}`: a request with its preview and, for approvers, the decision buttons.
pub async fn detail(State(st): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let who = p.as_actor();
    match st.pool.run(move |s| Ok(ch::show(s, &who, id)?)).await {
        Ok(v) => page.html(
            "cambio.html",
            context! {
                can_decide => v.get("puede_decidir").and_then(Value::as_bool) == Some(true),
                own => v.get("propia").and_then(Value::as_bool) == Some(true),
                c => JValue::from_serialize(&v),
            },
        ),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct Decision {
    pub csrf: String,
    /// `aprobar` or `rechazar`.
    pub accion: String,
    pub motivo: Option<String>,
}

/// `POST /cambios/{id}`: approve or reject.
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
    if d.csrf != p.csrf() {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la solicitud e intente de nuevo",
        ));
    }
    let who = p.as_actor();
    let accion = d.accion.clone();
    let (slot, catalogue) = (st.resident.clone(), st.catalogue.clone());
    let result = st
        .pool
        .run(move |s| {
            Ok(match accion.as_str() {
                "aprobar" => {
                    crate::api::change_requests::approve_following(&slot, &catalogue, s, &who, id)?
                }
                "rechazar" => ch::reject(s, &who, id, d.motivo.as_deref().unwrap_or(""))?,
                _ => return Err(ApiError::bad_request("acción desconocida")),
            })
        })
        .await;
    st.access_wake.notify_one();
    match result {
        Ok(_) => super::redirect(&format!("/cambios/{id}")),
        Err(e) => page.error(&e),
    }
}

/// `GET /cambios/{id}/documentos/{n}`: a document, audited like personal data.
pub async fn document(
    State(st): State<AppState>,
    page: Page,
    Path((id, n)): Path<(i64, i64)>,
) -> Response {
    let p = match signed_in(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let who = p.as_actor();
    match st
        .pool
        .run(move |s| Ok(ch::attachment(s, &who, id, n)?))
        .await
    {
        Ok(d) => crate::api::change_requests::attachment_response(id, n, d),
        Err(e) => page.error(&e),
    }
}
