//! The households of the registry: a territory's, a page at a time, one household with its
//! members, and its history (every version, dated and with provenance), within the caller's
//! scope (audited by `vamos_app::registry` and `vamos_app::history`).

use super::{ListQuery, Page, PurposeQuery};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::registry;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_households))
        .routes(routes!(get_household))
        .routes(routes!(get_household_history))
        .routes(routes!(get_household_ipm))
}

#[utoipa::path(get, path = "/api/households", tag = "registro",
    summary = "Hogares de un territorio, dentro del ámbito de la cuenta",
    params(ListQuery),
    responses((status = 200, description = "Correcto", body = Page)),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_households(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page>> {
    let q = registry::ListQuery::from(q);
    let page = p
        .act(&st, move |s, actor| registry::households(s, actor, &q))
        .await?;
    Ok(Json(page.into()))
}

/// `GET /api/households/{id}`: an open object, since its members carry the person fields the
/// caller may see.
#[utoipa::path(get, path = "/api/households/{id}", tag = "registro",
    summary = "Un hogar y sus miembros",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_household(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::HouseholdId>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, move |s, actor| {
            registry::household(s, actor, id, &q.purpose)
        })
        .await?;
    Ok(Json(out))
}

/// `GET /api/households/{id}/ipm`
#[utoipa::path(get, path = "/api/households/{id}/ipm", tag = "registro",
    summary = "El perfil de privaciones de un hogar (IPM oficial): cada indicador con su explicación y los miembros detrás, el puntaje y si es pobre; sólo si el acuerdo de intercambio de datos incluye la pobreza",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 403, description = "El acuerdo no incluye la pobreza (clase sensible)", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_household_ipm(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::HouseholdId>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, move |s, actor| {
            vamos_app::ipm::household_profile(s, actor, id, &q.purpose)
        })
        .await?;
    Ok(Json(out))
}

/// `GET /api/households/{id}/history`: every version of the household and of each person ever
/// in it, oldest first, with the person fields the caller may see (also in the differences).
#[utoipa::path(get, path = "/api/households/{id}/history", tag = "registro",
    summary = "Historial de un hogar: sus versiones y las de sus miembros, con fechas (desde cuándo vale, cuándo se registró), procedencia y qué cambió",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_household_history(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::HouseholdId>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, move |s, actor| {
            vamos_app::history::household_history(s, actor, id, &q.purpose)
        })
        .await?;
    Ok(Json(out))
}
