//! Follow-up reports and microdata releases: `/api/reports` (the quarterly report's data, its
//! saved versions, the PDF, publishing) and `/api/microdata/releases` (the log of anonymised
//! extracts). The rules are in `vamos_app::reports` and `vamos_app::microdata`.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports, save_report))
        .routes(routes!(report_data))
        .routes(routes!(report_calendar))
        .routes(routes!(report_pdf))
        .routes(routes!(publish_report))
        .routes(routes!(microdata_releases))
}

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

/// `GET /api/reports`
#[utoipa::path(get, path = "/api/reports", tag = "seguimiento",
    summary = "Los informes de seguimiento guardados: territorio, trimestre, versión, mediciones que leen, estado (borrador o publicado) y huella SHA-256 del PDF publicado",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_reports(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let list = p.act(&st, vamos_app::reports::list).await?;
    Ok(Json(json!({ "items": to_json(&list)? })))
}

/// A report to save.
#[derive(Deserialize)]
pub struct SaveReport {
    pub territory: String,
    pub period: String,
    #[serde(default)]
    pub analysis: String,
}

/// `POST /api/reports`
#[utoipa::path(post, path = "/api/reports", tag = "seguimiento",
    summary = "Guardar una nueva versión del informe de un territorio y trimestre (AAAA-Tn) con el análisis del analista; lee la última medición publicada del trimestre y la fija",
    request_body = Object,
    responses((status = 201, description = "Guardado", body = Object), (status = 404, description = "Ninguna medición publicada en el trimestre", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::ReportsPublish.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn save_report(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<SaveReport>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let r = p
        .act(&st, move |s, actor| {
            vamos_app::reports::save(s, actor, &b.territory, &b.period, &b.analysis)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(to_json(&r)?)))
}

/// Which report.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// PY, DD o DDdd
    pub territory: Option<String>,
    /// El trimestre: AAAA-Tn
    pub period: String,
}

/// `GET /api/reports/data`
#[utoipa::path(get, path = "/api/reports/data", tag = "seguimiento",
    summary = "Los datos del informe de seguimiento de un territorio y trimestre, tal como el PDF los imprime: Logros (iguales a /api/public/logros de la misma medición), metas y brechas, tendencia, mapa, servicios, referencias, casos, presupuesto y acuerdos vencidos",
    params(DataQuery),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "Ninguna medición publicada en el trimestre", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn report_data(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<DataQuery>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    let v = p
        .act(&st, move |s, actor| {
            let t = vamos_app::registry::parse_territory(q.territory.as_deref())?;
            let period = vamos_app::reports::Period::parse(&q.period)?;
            vamos_app::reports::data(s, actor, &cat, t, period, k)
        })
        .await?;
    Ok(Json(v))
}

/// `GET /api/reports/{id}/pdf`
#[utoipa::path(get, path = "/api/reports/{id}/pdf", tag = "seguimiento",
    summary = "El PDF de un informe guardado, dibujado de nuevo desde las mediciones que fijó",
    params(("id" = i64, Path, description = "Número del informe")),
    responses((status = 200, description = "PDF", content_type = "application/pdf"), (status = 404, description = "No existe", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn report_pdf(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    let pdf = p
        .act(&st, move |s, actor| {
            vamos_app::reports::pdf(s, actor, &cat, id, k)
        })
        .await?;
    Ok(super::pdf_download(&format!("informe-{id}.pdf"), pdf))
}

/// `POST /api/reports/{id}/publish`
#[utoipa::path(post, path = "/api/reports/{id}/publish", tag = "seguimiento",
    summary = "Publicar un borrador: se dibuja, se guarda la huella SHA-256 del PDF y queda fijo (una corrección es una nueva versión)",
    params(("id" = i64, Path, description = "Número del informe")),
    responses((status = 200, description = "Publicado", body = Object), (status = 409, description = "Ya publicado", body = crate::error::ErrorBody), (status = 400, description = "Sin análisis", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::ReportsPublish.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn publish_report(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    let r = p
        .act(&st, move |s, actor| {
            vamos_app::reports::publish(s, actor, &cat, id, k)
        })
        .await?;
    Ok(Json(to_json(&r)?))
}

/// `GET /api/microdata/releases`
#[utoipa::path(get, path = "/api/microdata/releases", tag = "seguimiento",
    summary = "El registro de entregas de microdatos anonimizados: medición, k, destinatario y acuerdo, informe de riesgo y huella del archivo",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::MicrodataRelease.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn microdata_releases(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Value>> {
    let list = p.act(&st, vamos_app::microdata::releases).await?;
    Ok(Json(json!({ "items": to_json(&list)? })))
}

/// Which calendar.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarQuery {
    /// PY (por defecto), DD o DDdd
    pub territory: Option<String>,
    /// El año
    pub year: i32,
}

/// `GET /api/reports/calendar`
#[utoipa::path(get, path = "/api/reports/calendar", tag = "seguimiento",
    summary = "El calendario de monitoreo de un territorio y año: por trimestre, la fecha de corte (declarada o el último día), la medición publicada que leería su informe, sus versiones y su estado (publicado, listo, vencido, pendiente)",
    params(CalendarQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn report_calendar(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<CalendarQuery>,
) -> ApiResult<Json<Value>> {
    let v = p
        .act(&st, move |s, actor| {
            let t = vamos_app::registry::parse_territory(q.territory.as_deref())?;
            vamos_app::reports::calendar(s, actor, t, q.year)
        })
        .await?;
    Ok(Json(json!({ "items": to_json(&v)? })))
}
