//! The JSON API, one module per resource. Each module declares its handlers with
//! `#[utoipa::path]` — method, path, parameters, bodies, answers and, in the `x-vamos-permission`
//! and `x-vamos-personal-data` extensions, the permission the operation needs and whether it
//! reads personal data — and returns them as an [`OpenApiRouter`] from its `router()`. They are
//! merged here, once, into the axum router and into the OpenAPI document
//! (the `openapi` module), so an endpoint cannot exist without being documented and
//! classified.
//!
//! Wire types (query strings, bodies, answers) live next to their handlers and convert into the
//! types of `vamos_app`; handlers stay thin: extract, call the use case, answer.

pub mod agreements;
pub mod audit;
pub mod barriers;
pub mod budget;
pub mod cases;
pub mod catalogue;
pub mod change_requests;
pub mod communities;
pub mod costing;
pub mod counter_referrals;
pub mod delivery_points;
pub mod governance;
pub mod grievances;
pub mod households;
pub mod ipm;
pub mod linkage;
pub mod management_agreements;
pub mod measurements;
pub mod orientations;
pub mod persons;
pub mod plans;
pub mod public;
pub mod referrals;
pub mod reports;
pub mod service;
pub mod service_routes;
pub mod session;
pub mod status;
pub mod targets;
pub mod tokens;
pub mod units;
pub mod users;

use crate::state::AppState;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub use vamos_app::registry::{filter_person, out_of_scope, parse_territory, purpose_or};

/// Every operation but the uploads, merged from the resources' routers.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(service::router())
        .merge(session::router())
        .merge(persons::router())
        .merge(households::router())
        .merge(communities::router())
        .merge(status::router())
        .merge(measurements::router())
        .merge(catalogue::router())
        .merge(public::router())
        .merge(users::router())
        .merge(tokens::router())
        .merge(agreements::router())
        .merge(audit::router())
        .merge(referrals::router())
        .merge(counter_referrals::router())
        .merge(service_routes::router())
        .merge(delivery_points::router())
        .merge(change_requests::router())
        .merge(grievances::router())
        .merge(cases::router())
        .merge(orientations::router())
        .merge(units::router())
        .merge(barriers::router())
        .merge(costing::router())
        .merge(targets::router())
        .merge(plans::router())
        .merge(budget::router())
        .merge(ipm::router())
        .merge(linkage::router())
        .merge(governance::router())
        .merge(reports::router())
        .merge(management_agreements::router())
}

/// The router of the JSON API: every operation with the request body limit, the uploads
/// (counter-referral batches and files) with the upload limit.
pub fn router(body_limit: usize, upload_limit: usize) -> Router<AppState> {
    fn limited(r: OpenApiRouter<AppState>, limit: usize) -> Router<AppState> {
        Router::from(r)
            .layer(axum::extract::DefaultBodyLimit::max(limit))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
    }
    limited(routes(), body_limit)
        .merge(limited(counter_referrals::uploads(), upload_limit))
        .merge(limited(
            change_requests::uploads(),
            upload_limit.max(change_upload_limit()),
        ))
        .merge(limited(plans::uploads(), upload_limit))
        .merge(limited(budget::uploads(), upload_limit))
}

/// A change request's body (API and web form): its documents (up to five of 10 MB) and the
/// form around them.
pub(crate) fn change_upload_limit() -> usize {
    vamos_app::changes::MAX_ATTACHMENTS * vamos_app::changes::MAX_ATTACHMENT + 1024 * 1024
}

/// A CSV file as a download named `file_name` (the body is UTF-8, cells already neutralised).
pub(crate) fn csv_download(
    file_name: &str,
    body: impl Into<axum::body::Body>,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// An XLSX workbook as a download named `file_name` (text cells written as text, never as
/// formulas: see the writers in `vamos_app`).
pub(crate) fn xlsx_download(file_name: &str, body: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A PDF document as a download named `file_name`.
pub(crate) fn pdf_download(file_name: &str, body: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The OpenAPI description of every operation of [`router`], as utoipa generates it from the
/// handlers' annotations and types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes()
        .merge(counter_referrals::uploads())
        .merge(change_requests::uploads())
        .merge(plans::uploads())
        .merge(budget::uploads())
        .into_openapi()
}

// ---------------------------------------------------------------- wire types shared by resources

/// A page of registry rows (persons, households, communities): the rows as the caller may see
/// them, the id to continue after, and the page size used.
#[derive(Serialize, ToSchema)]
pub struct Page {
    /// Filas; los campos de una persona dependen del rol o del acuerdo de intercambio.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pase este número como `after` para la página siguiente (null: no hay más)
    pub next_after: Option<i64>,
    pub limit: i64,
    /// Cuántas personas coinciden en total (búsqueda de personas), contadas hasta 10.000
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Verdadero cuando hay más de 10.000 y `total` es un mínimo
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_is_lower_bound: Option<bool>,
}

impl From<vamos_app::registry::Page> for Page {
    fn from(p: vamos_app::registry::Page) -> Self {
        let cap = vamos_app::registry::COUNT_CAP;
        Page {
            items: p.items,
            next_after: p.next_after,
            limit: p.limit,
            total: p.total.map(|t| t.min(cap)),
            total_is_lower_bound: p.total.map(|t| t > cap),
        }
    }
}

/// A list answered whole.
#[derive(Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// The number of what was created.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Territory and cursor of a list of households or communities.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Continúa después de este número (paginación por cursor: next_after de la página anterior)
    pub after: Option<i64>,
    /// Tamaño de página (1 a 200; 50 por defecto)
    pub limit: Option<i64>,
    /// Finalidad de la consulta (queda en el registro de auditoría)
    pub purpose: Option<String>,
}

impl From<ListQuery> for vamos_app::registry::ListQuery {
    fn from(q: ListQuery) -> Self {
        vamos_app::registry::ListQuery {
            territory: q.territory,
            after: q.after,
            limit: q.limit,
            purpose: q.purpose,
        }
    }
}

/// `?purpose=`: why personal data are read (written to the audit trail).
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurposeQuery {
    /// Finalidad de la consulta (queda en el registro de auditoría)
    pub purpose: Option<String>,
}
