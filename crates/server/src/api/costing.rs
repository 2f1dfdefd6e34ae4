//! Costing from targets: `GET /api/costing` — what raising a Logro of a territory to a target by
//! a year costs, per service, institution and year. The rules are in `vamos_app::costing`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::costing::{self as c, CostQuery};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(costing))
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
    };
    let out = p
        .act(&st, move |s, actor| c::cost(s, actor, &cat, &cq))
        .await?;
    Ok(Json(json!(out)))
}
