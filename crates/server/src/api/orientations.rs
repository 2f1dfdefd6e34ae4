//! Orientations at the counter: `POST /api/orientations` records the orientation an orientador
//! gave a person, sent through the counter-referral intake as the UTGS's counter-referral of
//! ORIENTACIONES SPS (`vamos_app::orientations`), so it moves the person's status and the
//! Logros like any service delivered.

use super::counter_referrals::{ingest_as, single_status, IngestReport};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::orientations::{self as o, Orientation};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record_orientation))
}

/// The person guided and where.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrientationBody {
    /// Número interno de la persona
    pub person_id: i64,
    /// Dónde se la orientó (oficina, feria, visita), hasta 200 caracteres
    pub place: Option<String>,
}

/// `POST /api/orientations`
#[utoipa::path(post, path = "/api/orientations", tag = "orientaciones",
    summary = "Registrar la orientación dada hoy a una persona: contra-referencia de ORIENTACIONES SPS de la UTGS (201 registrada, 200 ya registrada hoy, 422 rechazada con los motivos)",
    request_body = OrientationBody,
    responses(
        (status = 201, description = "Registrada", body = IngestReport),
        (status = 200, description = "Ya registrada hoy", body = IngestReport),
        (status = 403, description = "Su rol no registra orientaciones", body = crate::error::ErrorBody),
        (status = 422, description = "Rechazada (persona fuera de su ámbito o inexistente)", body = IngestReport),
    ),
    extensions(("x-vamos-permission" = json!(Permission::OrientationsRecord.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn record_orientation(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<OrientationBody>,
) -> ApiResult<(StatusCode, Json<IngestReport>)> {
    let today = crate::auth::now().date_naive();
    let (utgs, events) = o::sender(
        &p.as_actor(),
        &Orientation {
            person_id: b.person_id,
            place: b.place,
        },
        today,
    )
    .map_err(ApiError::from)?;
    let sum = ingest_as(&st, utgs, events, "orientacion").await?;
    Ok((single_status(&sum), Json(IngestReport::from(sum))))
}
