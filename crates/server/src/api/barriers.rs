//! Social innovation for access: the territorial view of barriers and facilitators, recording a
//! barrier of a district, removing it, designing a facilitator and following it up. The rules
//! (scope, the catalogue's barrier list, audit) are in `vamos_app::barriers`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::barriers::{self as b, NewBarrier, NewFacilitator};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(barriers_view, record_barrier))
        .routes(routes!(resolve_barrier))
        .routes(routes!(add_facilitator))
        .routes(routes!(follow_facilitator))
}

/// The territory of the view.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// PY, DD o DDdd (por defecto, todo el ámbito de la cuenta)
    pub territory: Option<String>,
}

/// `GET /api/barriers`
#[utoipa::path(get, path = "/api/barriers", tag = "casos",
    summary = "Vista territorial de las barreras de acceso: las que bloquean más casos, los registros del territorio y los facilitadores con su seguimiento",
    params(ViewQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn barriers_view(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ViewQuery>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| {
            b::view(s, actor, &cat, q.territory.as_deref())
        })
        .await?;
    Ok(Json(json!(v)))
}

/// A barrier found in a district.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BarrierBody {
    /// Distrito (DDdd)
    pub territory: String,
    /// Código de barrera de canal_verde.toml
    pub barrier: String,
    /// Servicio al que impide llegar (código del catálogo)
    pub service: Option<String>,
    pub description: String,
}

/// `POST /api/barriers`
#[utoipa::path(post, path = "/api/barriers", tag = "casos",
    summary = "Registrar una barrera de acceso encontrada en un distrito",
    request_body = BarrierBody,
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn record_barrier(
    State(st): State<AppState>,
    p: Principal,
    Json(x): Json<BarrierBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let id = p
        .act(&st, move |s, actor| {
            b::record(
                s,
                actor,
                &cat,
                &NewBarrier {
                    territory: x.territory,
                    barrier: x.barrier,
                    service: x.service,
                    description: x.description,
                },
            )
        })
        .await?;
    Ok(Json(json!({ "id": id })))
}

/// `POST /api/barriers/{id}/resolve`
#[utoipa::path(post, path = "/api/barriers/{id}/resolve", tag = "casos",
    summary = "Marcar como superada una barrera registrada",
    params(("id" = i64, Path, description = "Número de la barrera")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrada (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn resolve_barrier(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    p.act(&st, move |s, actor| b::resolve(s, actor, id)).await?;
    Ok(Json(json!({ "id": id })))
}

/// A facilitator designed against a barrier.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilitatorBody {
    /// Distrito (DDdd)
    pub territory: String,
    pub barrier: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Institución o persona responsable
    pub owner: String,
    /// Desde (AAAA-MM-DD o DD/MM/AAAA)
    pub starts_on: String,
    /// Hasta (AAAA-MM-DD o DD/MM/AAAA)
    pub ends_on: String,
}

/// `POST /api/barriers/facilitators`
#[utoipa::path(post, path = "/api/barriers/facilitators", tag = "casos",
    summary = "Diseñar un facilitador contra una barrera: responsable, período; empieza planificado",
    request_body = FacilitatorBody,
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn add_facilitator(
    State(st): State<AppState>,
    p: Principal,
    Json(x): Json<FacilitatorBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let id = p
        .act(&st, move |s, actor| {
            b::add_facilitator(
                s,
                actor,
                &cat,
                &NewFacilitator {
                    territory: x.territory,
                    barrier: x.barrier,
                    name: x.name,
                    description: x.description,
                    owner: x.owner,
                    starts_on: x.starts_on,
                    ends_on: x.ends_on,
                },
            )
        })
        .await?;
    Ok(Json(json!({ "id": id })))
}

/// A step of a facilitator's follow-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowBody {
    /// planificado, en_curso, cumplido o suspendido
    pub status: String,
    /// funciono o no_funciono (cuando termina)
    pub result: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// `POST /api/barriers/facilitators/{id}/follow`
#[utoipa::path(post, path = "/api/barriers/facilitators/{id}/follow", tag = "casos",
    summary = "Seguimiento de un facilitador: su estado, el resultado al terminar y una nota",
    params(("id" = i64, Path, description = "Número del facilitador")),
    request_body = FollowBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn follow_facilitator(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(x): Json<FollowBody>,
) -> ApiResult<Json<Value>> {
    p.act(&st, move |s, actor| {
        b::follow(s, actor, id, &x.status, x.result.as_deref(), &x.note)
    })
    .await?;
    Ok(Json(json!({ "id": id })))
}
