//! Costing from targets: `GET /api/costing` — what raising a Logro of a territory to a target by
//! a year costs, per service, institution and year. The rules are in `vamos_app::costing`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::costing::{self as c, CostQuery};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(costing))
        .routes(routes!(list_scenarios, save_scenario))
        .routes(routes!(get_scenario, delete_scenario))
        .routes(routes!(compare_scenarios))
        .routes(routes!(list_unit_costs, set_unit_cost))
}

/// `GET /api/costing/unit-costs`
#[utoipa::path(get, path = "/api/costing/unit-costs", tag = "planificación",
    summary = "Costos unitarios fijados por territorio (sobre los del catálogo): territorio, servicio, costo, quién y cuándo",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_unit_costs(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let list = p.act(&st, c::unit_cost_list).await?;
    Ok(Json(json!({ "items": list })))
}

/// A unit cost to set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitCostBody {
    /// PY, DD o DDdd
    pub territory: String,
    /// Código del servicio del catálogo
    pub service: String,
    /// Guaraníes por unidad atendida; null quita el fijado (rige el del catálogo)
    pub unit_cost: Option<i64>,
}

/// `POST /api/costing/unit-costs`
#[utoipa::path(post, path = "/api/costing/unit-costs", tag = "planificación",
    summary = "Fijar (o quitar) el costo unitario de un servicio en un territorio: el de un distrito, si no el de su departamento, si no el nacional, si no el del catálogo",
    request_body = UnitCostBody,
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn set_unit_cost(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<UnitCostBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    p.act(&st, move |s, actor| {
        c::set_unit_cost(s, actor, &cat, &b.territory, &b.service, b.unit_cost)
    })
    .await?;
    Ok(Json(json!({ "ok": true })))
}

/// The target to cost.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostParams {
    /// PY, DD o DDdd: la meta se aplica a cada distrito
    pub territory: String,
    /// Número de Logro (1 a 10)
    pub logro: u8,
    /// Cobertura a alcanzar, de 0 a 1
    pub target: f64,
    /// Año en que alcanzarla (posterior al de la medición)
    pub by: i32,
    /// Gastos administrativos (0.1 = 10 %)
    pub overhead: Option<f64>,
    /// Indexación de precios por año (0.04 = 4 %)
    pub indexation: Option<f64>,
    /// Costo de verificar una unidad sin dato (PYG)
    pub verification_cost: Option<i64>,
    /// Número de medición (por defecto, la última)
    pub measurement: Option<i64>,
    /// menor_costo (por defecto) o proporcional
    pub selection: Option<String>,
    /// pasos_iguales (por defecto), al_inicio o al_final
    pub path: Option<String>,
    /// true: un departamento o la nación como un solo conjunto
    pub pool: Option<bool>,
}

/// `GET /api/costing`
#[utoipa::path(get, path = "/api/costing", tag = "logros",
    summary = "Costeo desde metas: unidades a proteger (las de menor costo primero), costo por servicio, institución y año, verificación de las unidades sin dato aparte; con la medición y la versión del catálogo usadas",
    params(CostParams),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn costing(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<CostParams>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let cq = CostQuery {
        territory: q.territory,
        logro: q.logro,
        target: q.target,
        by: q.by,
        overhead: q.overhead.unwrap_or(0.0),
        indexation: q.indexation.unwrap_or(0.0),
        verification_cost: q.verification_cost.unwrap_or(0),
        measurement: q.measurement,
        options: c::CostOptions::asked(q.selection, q.path, q.pool.unwrap_or(false)),
    };
    let out = p
        .act(&st, move |s, actor| c::cost(s, actor, &cat, &cq))
        .await?;
    Ok(Json(json!(out)))
}

/// `GET /api/costing/scenarios`
#[utoipa::path(get, path = "/api/costing/scenarios", tag = "planificación",
    summary = "Escenarios de costeo guardados (sin su detalle): territorio, Logro, meta, año, costo total, medición y catálogo",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_scenarios(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let list = p.act(&st, c::scenarios).await?;
    Ok(Json(json!({ "items": list })))
}

/// A costing to keep.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioBody {
    /// Nombre del escenario («San Pedro al 70 % en 2028»)
    pub name: String,
    pub territory: String,
    pub logro: u8,
    pub target: f64,
    pub by: i32,
    pub overhead: Option<f64>,
    pub indexation: Option<f64>,
    pub verification_cost: Option<i64>,
    pub measurement: Option<i64>,
    pub selection: Option<String>,
    pub path: Option<String>,
    pub pool: Option<bool>,
}

/// `POST /api/costing/scenarios`
#[utoipa::path(post, path = "/api/costing/scenarios", tag = "planificación",
    summary = "Costear y guardar el resultado como escenario, para compararlo con otros y con el presupuesto",
    request_body = ScenarioBody,
    responses((status = 201, description = "Guardado", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn save_scenario(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<ScenarioBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let cat = st.catalogue.clone();
    let q = CostQuery {
        territory: b.territory,
        logro: b.logro,
        target: b.target,
        by: b.by,
        overhead: b.overhead.unwrap_or(0.0),
        indexation: b.indexation.unwrap_or(0.0),
        verification_cost: b.verification_cost.unwrap_or(0),
        measurement: b.measurement,
        options: c::CostOptions::asked(b.selection, b.path, b.pool.unwrap_or(false)),
    };
    let (id, out) = p
        .act(&st, move |s, actor| c::save(s, actor, &cat, &q, &b.name))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "costing": out })),
    ))
}

/// `GET /api/costing/scenarios/{id}`
#[utoipa::path(get, path = "/api/costing/scenarios/{id}", tag = "planificación",
    summary = "Un escenario guardado con su costeo completo",
    params(("id" = i64, Path, description = "Número del escenario")),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No existe o fuera de su ámbito", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_scenario(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let s = p
        .act(&st, move |s, actor| c::scenario_saved(s, actor, id))
        .await?;
    Ok(Json(json!(s)))
}

/// `DELETE /api/costing/scenarios/{id}`
#[utoipa::path(delete, path = "/api/costing/scenarios/{id}", tag = "planificación",
    summary = "Borrar un escenario guardado",
    params(("id" = i64, Path, description = "Número del escenario")),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn delete_scenario(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    p.act(&st, move |s, actor| c::scenario_delete(s, actor, id))
        .await?;
    Ok(Json(json!({ "ok": true })))
}

/// Which scenarios.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareParams {
    /// Números de 2 a 6 escenarios, separados por comas
    pub ids: String,
}

/// `GET /api/costing/compare`
#[utoipa::path(get, path = "/api/costing/compare", tag = "planificación",
    summary = "Escenarios guardados lado a lado: meta, unidades, costo total y costo por servicio en cada uno",
    params(CompareParams),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn compare_scenarios(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<CompareParams>,
) -> ApiResult<Json<Value>> {
    let ids: Vec<i64> = q
        .ids
        .split(',')
        .take(7)
        .map(|x| x.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            crate::error::ApiError::bad_request("ids: números de escenario separados por comas")
        })?;
    Ok(Json(
        p.act(&st, move |s, actor| c::compare(s, actor, &ids))
            .await?,
    ))
}
