//! Shared targets: `GET /api/targets` lists them, `POST /api/targets` sets one (`metas:definir`).
//! The rules are in `vamos_app::targets`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::targets::{self as t, SetTarget};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_targets, set_target))
}

/// Which targets.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetsQuery {
    /// PY, DD o DDdd: las metas de ese territorio y de lo que contiene
    pub territory: Option<String>,
}

/// `GET /api/targets`
#[utoipa::path(get, path = "/api/targets", tag = "logros",
    summary = "Metas compartidas de los Logros: territorio, Logro, año, cobertura, quién y cuándo",
    params(TargetsQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_targets(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<TargetsQuery>,
) -> ApiResult<Json<Value>> {
    let list = p
        .act(&st, move |s, actor| {
            t::list(s, actor, q.territory.as_deref())
        })
        .await?;
    Ok(Json(json!({ "items": list })))
}

/// A target to set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    /// PY, DD o DDdd
    pub territory: String,
    pub logro: u8,
    pub year: i32,
    /// Cobertura a alcanzar, de 0 a 1
    pub coverage: f64,
}

/// `POST /api/targets`
#[utoipa::path(post, path = "/api/targets", tag = "logros",
    summary = "Definir (o reemplazar) la meta de un Logro en un territorio para un año",
    request_body = TargetBody,
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::TargetsSet.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn set_target(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<TargetBody>,
) -> ApiResult<Json<Value>> {
    let target = SetTarget {
        territory: b.territory,
        logro: b.logro,
        year: b.year,
        coverage: b.coverage,
    };
    p.act(&st, move |s, actor| t::set(s, actor, &target))
        .await?;
    Ok(Json(json!({ "ok": true })))
}
