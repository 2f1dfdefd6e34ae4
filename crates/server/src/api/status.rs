//! Protection status of a person, a household or a community, by service, with the evidence
//! behind every decision (computed by `vamos_app::registry::unit_status`, audited there).

use super::PurposeQuery;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::registry;
use vamos_domain::Permission;
use vamos_store::UnitKind;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(person_status))
        .routes(routes!(household_status))
        .routes(routes!(community_status))
}

/// The reference date of a status and why it is read.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Fecha de referencia AAAA-MM-DD (por defecto, la de la última medición)
    pub as_of: Option<String>,
    /// Finalidad de la consulta (queda en el registro de auditoría)
    pub purpose: Option<String>,
}

/// The status is an explanation tree (categories, services, evidence and the reason of each
/// decision) whose branches follow the catalogue: answered as an open object.
async fn unit_status(
    st: AppState,
    p: Principal,
    kind: UnitKind,
    id: i64,
    q: StatusQuery,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let purpose = PurposeQuery { purpose: q.purpose };
    let out = st
        .pool
        .run(move |s| {
            Ok(registry::unit_status(
                s,
                &actor,
                &catalogue,
                kind,
                id,
                q.as_of.as_deref(),
                &purpose.purpose,
            )?)
        })
        .await?;
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/persons/{id}/status", tag = "estatus",
    summary = "Estatus de protección de una persona, por servicio, con la evidencia",
    params(("id" = i64, Path, description = "Número interno"), StatusQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::StatusRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn person_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Value>> {
    unit_status(st, p, UnitKind::Person, id, q).await
}

#[utoipa::path(get, path = "/api/households/{id}/status", tag = "estatus",
    summary = "Estatus de protección de un hogar",
    params(("id" = i64, Path, description = "Número interno"), StatusQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::StatusRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn household_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Value>> {
    unit_status(st, p, UnitKind::Household, id, q).await
}

#[utoipa::path(get, path = "/api/communities/{id}/status", tag = "estatus",
    summary = "Estatus de protección de una comunidad (Entorno)",
    params(("id" = i64, Path, description = "Número interno"), StatusQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::StatusRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn community_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Value>> {
    unit_status(st, p, UnitKind::Community, id, q).await
}
