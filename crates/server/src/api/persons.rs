//! The persons of the registry: search and one person, within the caller's territorial scope
//! and with the fields its role or its institution's data-sharing agreement allows; every read
//! is audited by `vamos_app::registry`.

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
        .routes(routes!(search_persons))
        .routes(routes!(get_person))
}

/// A search of persons.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonSearch {
    /// Palabras del nombre (todas deben aparecer)
    pub q: Option<String>,
    /// Cédula de identidad
    pub cedula: Option<i64>,
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Continúa después de este número (paginación por cursor: next_after de la página anterior)
    pub after: Option<i64>,
    /// Tamaño de página (1 a 200; 50 por defecto)
    pub limit: Option<i64>,
    /// Finalidad de la consulta (queda en el registro de auditoría)
    pub purpose: Option<String>,
}

impl From<PersonSearch> for registry::PersonSearch {
    fn from(q: PersonSearch) -> Self {
        registry::PersonSearch {
            q: q.q,
            cedula: q.cedula,
            territory: q.territory,
            after: q.after,
            limit: q.limit,
            purpose: q.purpose,
        }
    }
}

#[utoipa::path(get, path = "/api/persons", tag = "registro",
    summary = "Buscar personas por nombre, cédula o territorio, dentro del ámbito de la cuenta",
    params(PersonSearch),
    responses((status = 200, description = "Correcto", body = Page)),
    extensions(("x-vamos-permission" = json!(Permission::PersonsFind.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn search_persons(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<PersonSearch>,
) -> ApiResult<Json<Page>> {
    let q = registry::PersonSearch::from(q);
    let page = p
        .act(&st, move |s, actor| registry::search_persons(s, actor, &q))
        .await?;
    Ok(Json(page.into()))
}

/// `GET /api/persons/{id}`. The person is an open object: which fields it carries depends on
/// the caller's role or its institution's agreement (`vamos_domain::authz::FieldPolicy`).
#[utoipa::path(get, path = "/api/persons/{id}", tag = "registro",
    summary = "Una persona (campos según rol o acuerdo de intercambio)",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::PersonsFind.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_person(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::PersonId>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, move |s, actor| {
            registry::person(s, actor, id, &q.purpose)
        })
        .await?;
    Ok(Json(out))
}
