//! The strategic framework: `GET /api/plans` (list), `POST /api/plans` (an XLSX workbook as
//! the body: import), `GET /api/plans/{id}` (objectives down to each indicator's baseline,
//! target, gap and current value), `GET /api/plans/{id}/xlsx` (export),
//! `GET /api/plans/template` (the empty template or the illustrative framework),
//! `POST /api/plans/{id}/values` (targets and values reported by hand) and
//! `POST /api/plans/{id}/baselines` (baselines from a chosen measurement). The rules are in
//! `vamos_app::plans`.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::plans::{self as p, xlsx, SetValue};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans))
        .routes(routes!(plan_template))
        .routes(routes!(get_plan))
        .routes(routes!(export_plan))
        .routes(routes!(set_plan_values))
        .routes(routes!(rebase_plan))
}

/// The import (its body is a workbook: the upload limit applies).
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_plan))
}

/// A plan as an XLSX workbook in the template's format (the body of `POST /api/plans`).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // reason: describes the body; the handler reads it as bytes
pub struct PlanWorkbook(Vec<u8>);

/// `GET /api/plans`
#[utoipa::path(get, path = "/api/plans", tag = "planificación",
    summary = "Planes del Marco Estratégico: nombre, versión, período, estado, si es ilustrativo",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_plans(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let list = p.act(&st, p::list).await?;
    Ok(Json(json!({ "items": list })))
}

/// Which template.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// true: el Marco Estratégico ILUSTRATIVO en lugar de la plantilla vacía
    pub illustrative: Option<bool>,
}

/// `GET /api/plans/template`
#[utoipa::path(get, path = "/api/plans/template", tag = "planificación",
    summary = "La plantilla XLSX del Marco Estratégico (vacía, o con el plan ilustrativo)",
    params(TemplateQuery),
    responses((status = 200, description = "Libro XLSX")),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn plan_template(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<TemplateQuery>,
) -> ApiResult<Response> {
    p.act(&st, |_, actor| actor.require(Permission::PlansRead))
        .await?;
    let illustrative = q.illustrative.unwrap_or(false);
    let f = if illustrative {
        xlsx::illustrative().map_err(ApiError::internal)?
    } else {
        vamos_store::plans::Framework::default()
    };
    let body = xlsx::write(&f).map_err(ApiError::internal)?;
    let name = if illustrative {
        "marco_estrategico_ilustrativo.xlsx"
    } else {
        "plantilla_marco_estrategico.xlsx"
    };
    Ok(super::xlsx_download(name, body))
}

/// `POST /api/plans`
#[utoipa::path(post, path = "/api/plans", tag = "planificación",
    summary = "Importar un plan desde un libro XLSX con el formato de la plantilla (todo o nada; mismo nombre y versión: lo reemplaza)",
    request_body(content((PlanWorkbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (PlanWorkbook = "application/octet-stream"))),
    responses(
        (status = 201, description = "Importado", body = Object),
        (status = 413, description = "Demasiado grande", body = crate::error::ErrorBody),
        (status = 422, description = "Rechazado: cada problema con hoja, fila, columna, valor y motivo; nada se guardó", body = Object),
    ),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn import_plan(
    State(st): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    p.act(&st, |_, actor| actor.require(Permission::PlansEdit))
        .await?;
    let cat = st.catalogue.clone();
    let out = p
        .act(&st, move |s, actor| {
            let dir = tempfile::tempdir().map_err(vamos_app::Error::internal)?;
            let path = dir.path().join("plan.xlsx");
            std::fs::write(&path, &body).map_err(vamos_app::Error::internal)?;
            let (f, rows, problems) =
                xlsx::read(&path).map_err(|e| vamos_app::Error::bad_request(e.to_string()))?;
            if !problems.is_empty() {
                return Ok(Err(problems));
            }
            p::store(s, actor, &cat, f, &rows, "API")
        })
        .await?;
    Ok(match out {
        Ok(stored) => (StatusCode::CREATED, Json(json!(stored))),
        Err(problems) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"imported": false, "problems": problems})),
        ),
    })
}

/// `GET /api/plans/{id}`
#[utoipa::path(get, path = "/api/plans/{id}", tag = "planificación",
    summary = "Un plan: objetivos generales y específicos, acciones estratégicas con sus instituciones, indicadores con línea de base (y su medición), meta, brecha y valor actual por territorio y año",
    params(("id" = i64, Path, description = "Número del plan")),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No existe", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_plan(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        p.act(&st, move |s, actor| p::view(s, actor, id)).await?,
    ))
}

/// `GET /api/plans/{id}/xlsx`
#[utoipa::path(get, path = "/api/plans/{id}/xlsx", tag = "planificación",
    summary = "Exportar un plan como libro XLSX (formato de la plantilla, con la brecha calculada)",
    params(("id" = i64, Path, description = "Número del plan")),
    responses((status = 200, description = "Libro XLSX")),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn export_plan(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let f = p.act(&st, move |s, actor| p::get(s, actor, id)).await?;
    let body = xlsx::write(&f).map_err(ApiError::internal)?;
    Ok(super::xlsx_download(
        &format!("plan_{id}_v{}.xlsx", f.plan.version),
        body,
    ))
}

/// Values to set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuesBody {
    /// Cada fila: indicator, territory, year, target y (indicadores manuales) reported
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<SetValue>,
}

/// `POST /api/plans/{id}/values`
#[utoipa::path(post, path = "/api/plans/{id}/values", tag = "planificación",
    summary = "Fijar metas (y valores reportados a mano) de un plan, todas o ninguna",
    params(("id" = i64, Path, description = "Número del plan")),
    request_body = ValuesBody,
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn set_plan_values(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<ValuesBody>,
) -> ApiResult<Json<Value>> {
    if b.values.len() > 10_000 {
        return Err(ApiError::bad_request("a lo sumo 10.000 valores por envío"));
    }
    let cat = st.catalogue.clone();
    let n = p
        .act(&st, move |s, actor| {
            p::set_values(s, actor, &cat, id, &b.values)
        })
        .await?;
    Ok(Json(json!({ "values": n })))
}

/// Which measurement.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BaselinesQuery {
    /// Número de medición (por defecto, la última)
    pub measurement: Option<i64>,
}

/// `POST /api/plans/{id}/baselines`
#[utoipa::path(post, path = "/api/plans/{id}/baselines", tag = "planificación",
    summary = "Tomar de nuevo las líneas de base de los indicadores medidos de una medición elegida",
    params(("id" = i64, Path, description = "Número del plan"), BaselinesQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn rebase_plan(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<BaselinesQuery>,
) -> ApiResult<Json<Value>> {
    let (n, m) = p
        .act(&st, move |s, actor| p::rebase(s, actor, id, q.measurement))
        .await?;
    Ok(Json(json!({ "baselines": n, "measurement": m })))
}
