//! Interinstitutional management agreements: `GET/POST /api/management-agreements`,
//! `GET/PUT /api/management-agreements/{id}`. The rules are in
//! `vamos_app::management_agreements`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::management_agreements::{self as m, AgreementInput};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            list_management_agreements,
            create_management_agreement
        ))
        .routes(routes!(
            get_management_agreement,
            update_management_agreement
        ))
}

/// `GET /api/management-agreements`
#[utoipa::path(get, path = "/api/management-agreements", tag = "planificación",
    summary = "Acuerdos de gestión interinstitucionales de su ámbito: título, territorio, partes, período y estado (borrador, firmado, vigente, vencido)",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_management_agreements(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Value>> {
    let list = p.act(&st, m::list).await?;
    Ok(Json(json!({ "items": list })))
}

/// `POST /api/management-agreements`
#[utoipa::path(post, path = "/api/management-agreements", tag = "planificación",
    summary = "Crear un acuerdo de gestión: partes (instituciones), territorio, período (dd/mm/aaaa), firma, arreglos internos, compromisos funcionales/operativos/internos y metas de gestión tomadas de las metas compartidas",
    request_body = Object,
    responses((status = 201, description = "Creado", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn create_management_agreement(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<AgreementInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let cat = st.catalogue.clone();
    let id = p
        .act(&st, move |s, actor| m::save(s, actor, &cat, None, &b))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `GET /api/management-agreements/{id}`
#[utoipa::path(get, path = "/api/management-agreements/{id}", tag = "planificación",
    summary = "Un acuerdo de gestión con cada meta de gestión: la meta compartida, el valor de la última medición, la brecha y si la tendencia la alcanza",
    params(("id" = i64, Path, description = "Número del acuerdo")),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No existe o fuera de su ámbito", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_management_agreement(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    Ok(Json(
        p.act(&st, move |s, actor| m::view(s, actor, &cat, id))
            .await?,
    ))
}

/// `PUT /api/management-agreements/{id}`
#[utoipa::path(put, path = "/api/management-agreements/{id}", tag = "planificación",
    summary = "Reemplazar un acuerdo de gestión (sus compromisos y metas con él)",
    params(("id" = i64, Path, description = "Número del acuerdo")),
    request_body = Object,
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn update_management_agreement(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<AgreementInput>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    p.act(&st, move |s, actor| m::save(s, actor, &cat, Some(id), &b))
        .await?;
    Ok(Json(json!({ "id": id })))
}
