//! A person's service route: the services of their package in order, those missing, where
//! and when to go, and their open referrals (`vamos_app::referrals::work::person_route_for`).

use super::PurposeQuery;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(person_route))
}

/// `GET /api/persons/{id}/route`: the personal service route, as
/// `vamos_app::referrals::person_route` builds it (steps that follow the person's package in the
/// catalogue): an open object.
#[utoipa::path(get, path = "/api/persons/{id}/route", tag = "estatus",
    summary = "Ruta de servicios de una persona: los servicios de su paquete en orden, los que le faltan, dónde y cuándo ir, y sus referencias abiertas",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::StatusRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn person_route(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| {
            Ok(vamos_app::referrals::work::person_route_for(
                s, &actor, &catalogue, id, &q.purpose,
            )?)
        })
        .await?;
    Ok(Json(out))
}
