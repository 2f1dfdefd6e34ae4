//! Record linkage's clerical review queue: `GET /api/linkage/reviews` (pairs between the
//! model's thresholds, likeliest first), `GET /api/linkage/reviews/{id}` (both sides and the
//! waterfall), `POST /api/linkage/reviews/{id}/accept|reject`, and `GET /api/linkage/labels`
//! (decided pairs as CSV). Who may decide and what they see are rules of
//! `vamos_app::linkage::reviews`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::linkage::reviews;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews))
        .routes(routes!(get_review))
        .routes(routes!(accept_review))
        .routes(routes!(reject_review))
        .routes(routes!(get_labels))
}

/// Which pairs.
#[derive(serde::Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewParams {
    /// pendiente (por defecto), aceptado, rechazado, superado o todos
    pub estado: Option<String>,
    /// Página, desde 1 (25 pares por página)
    pub pagina: Option<i64>,
}

/// `GET /api/linkage/reviews`
#[utoipa::path(get, path = "/api/linkage/reviews", tag = "enlace de registros",
    summary = "Cola de revisión del enlace: pares de un registro administrativo y su persona más probable entre los dos umbrales del modelo, los más probables primero",
    params(ReviewParams),
    responses((status = 200, description = "Una página de pares", body = Object), (status = 400, description = "Estado desconocido", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::LinkageReview.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_reviews(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ReviewParams>,
) -> ApiResult<Json<reviews::Page>> {
    let state = match q.estado.as_deref().map(str::trim) {
        None | Some("") => Some("pendiente".to_string()),
        Some("todos") => None,
        Some(s) => Some(s.to_string()),
    };
    let page = q.pagina.unwrap_or(1);
    Ok(Json(
        p.act(&st, move |s, actor| {
            reviews::list(s, actor, state.as_deref(), page)
        })
        .await?,
    ))
}

/// `GET /api/linkage/reviews/{id}`
#[utoipa::path(get, path = "/api/linkage/reviews/{id}", tag = "enlace de registros",
    summary = "Un par de la cola de revisión: el registro y la persona lado a lado, y la cascada de su puntaje comparación por comparación",
    params(("id" = i64, Path, description = "Número del par")),
    responses((status = 200, description = "El par", body = Object), (status = 404, description = "No existe (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::LinkageReview.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_review(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<reviews::Item>> {
    Ok(Json(
        p.act(&st, move |s, actor| reviews::show(s, actor, id))
            .await?,
    ))
}

/// `POST /api/linkage/reviews/{id}/accept`
#[utoipa::path(post, path = "/api/linkage/reviews/{id}/accept", tag = "enlace de registros",
    summary = "Aceptar un par: el registro administrativo pasa a ser de esa persona (evidencia de su servicio); la decisión queda como etiqueta",
    params(("id" = i64, Path, description = "Número del par")),
    responses(
        (status = 200, description = "Aceptado", body = Object),
        (status = 404, description = "No existe (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "Ya decidido, o el registro ya tiene persona", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::LinkageReview.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn accept_review(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<reviews::Item>> {
    Ok(Json(
        p.act(&st, move |s, actor| reviews::decide(s, actor, id, true))
            .await?,
    ))
}

/// `POST /api/linkage/reviews/{id}/reject`
#[utoipa::path(post, path = "/api/linkage/reviews/{id}/reject", tag = "enlace de registros",
    summary = "Rechazar un par: no es la misma persona; no se vuelve a proponer y la decisión queda como etiqueta",
    params(("id" = i64, Path, description = "Número del par")),
    responses(
        (status = 200, description = "Rechazado", body = Object),
        (status = 404, description = "No existe (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "Ya decidido", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::LinkageReview.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn reject_review(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<reviews::Item>> {
    Ok(Json(
        p.act(&st, move |s, actor| reviews::decide(s, actor, id, false))
            .await?,
    ))
}

/// `GET /api/linkage/labels`
#[utoipa::path(get, path = "/api/linkage/labels", tag = "enlace de registros",
    summary = "Los pares decididos (etiquetas: registro, persona, probabilidad, decisión, modelo) como CSV, para evaluar el modelo y fijar sus umbrales",
    responses((status = 200, description = "CSV", content_type = "text/csv"), (status = 403, description = "Cuenta sin alcance nacional", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::LinkageReview.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_labels(State(st): State<AppState>, p: Principal) -> ApiResult<Response> {
    let csv = p
        .act(&st, move |s, actor| reviews::labels_csv(s, actor))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"etiquetas-enlace.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
