//! The communities of the registry: a territory's, a page at a time, one with its counts, and
//! its history (its surveys, each a version).

use super::{Page, PurposeQuery};
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_communities))
        .routes(routes!(get_community))
        .routes(routes!(get_community_history))
}

/// Territory and cursor of a list of communities (no personal data: no purpose asked).
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunityList {
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Continúa después de este número (paginación por cursor: next_after de la página anterior)
    pub after: Option<i64>,
    /// Tamaño de página (1 a 200; 50 por defecto)
    pub limit: Option<i64>,
}

impl From<CommunityList> for registry::ListQuery {
    fn from(q: CommunityList) -> Self {
        registry::ListQuery {
            territory: q.territory,
            after: q.after,
            limit: q.limit,
            purpose: None,
        }
    }
}

#[utoipa::path(get, path = "/api/communities", tag = "registro",
    summary = "Comunidades de un territorio",
    params(CommunityList),
    responses((status = 200, description = "Correcto", body = Page)),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_communities(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<CommunityList>,
) -> ApiResult<Json<Page>> {
    let q = registry::ListQuery::from(q);
    let page = p
        .act(&st, move |s, actor| registry::communities(s, actor, &q))
        .await?;
    Ok(Json(page.into()))
}

/// `GET /api/communities/{id}`: the community's row and its counts, as the store reads them
/// (an open object: the counts follow the questionnaire).
#[utoipa::path(get, path = "/api/communities/{id}", tag = "registro",
    summary = "Una comunidad con sus conteos",
    params(("id" = i64, Path, description = "Número interno")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_community(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::CommunityId>,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, move |s, actor| registry::community(s, actor, id))
        .await?;
    Ok(Json(out))
}

/// `GET /api/communities/{id}/history`: the community's surveys, oldest first, each a version
/// (valid from its survey date, known since its import finished) with what changed.
#[utoipa::path(get, path = "/api/communities/{id}/history", tag = "registro",
    summary = "Historial de una comunidad: sus relevamientos, con fechas (desde cuándo vale, cuándo se registró), procedencia y qué cambió",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_community_history(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::CommunityId>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, move |s, actor| {
            vamos_app::history::community_history(s, actor, id.get(), &q.purpose)
        })
        .await?;
    Ok(Json(out))
}
