//! Public figures without personal data and without a credential: the published measurements,
//! and a territory's Logros from the latest published one (never the live figures the
//! counter-referral updater moves), with small cells suppressed
//! ([`vamos_app::suppression`]).

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_domain::TerritoryCode;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_measurements))
        .routes(routes!(public_logros))
}

/// A published measurement: its number, date, whether its data are synthetic and when it was
/// published.
#[derive(Serialize, ToSchema)]
pub struct PublicMeasurement {
    #[schema(value_type = i64)]
    pub id: Value,
    #[schema(value_type = String)]
    pub as_of: Value,
    #[schema(value_type = String)]
    pub catalogue_label: Value,
    #[schema(value_type = bool)]
    pub synthetic: Value,
    /// Cuándo la publicó un analista (RFC 3339)
    #[schema(value_type = String)]
    pub published_at: Value,
}

/// The published measurements.
#[derive(Serialize, ToSchema)]
pub struct PublicMeasurements {
    pub items: Vec<PublicMeasurement>,
}

/// `GET /api/public/measurements`: id, date, synthetic label and publication time of each
/// published measurement (the store's rows are JSON objects; a missing column answers `null`).
#[utoipa::path(get, path = "/api/public/measurements", tag = "público",
    summary = "Mediciones publicadas (solo las que un analista publicó)",
    responses(
        (status = 200, description = "Correcto", body = PublicMeasurements),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn public_measurements(
    State(st): State<AppState>,
) -> ApiResult<Json<PublicMeasurements>> {
    let rows = st
        .pool
        .run(|s| Ok(vamos_app::measurements::published(s)?))
        .await?;
    let field = |r: &Value, k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let items = rows
        .iter()
        .map(|r| PublicMeasurement {
            id: field(r, "id"),
            as_of: field(r, "as_of"),
            catalogue_label: field(r, "catalogue_label"),
            synthetic: field(r, "synthetic"),
            published_at: field(r, "published_at"),
        })
        .collect();
    Ok(Json(PublicMeasurements { items }))
}

/// Which public figures: a territory and a measurement.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicQuery {
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Número de una medición publicada (por defecto, la última publicada)
    pub measurement: Option<i64>,
}

/// `GET /api/public/logros`: built by [`vamos_app::suppression::PublicFigures`] from the
/// latest published measurement (or the published one asked for); its Logros carry breakdowns
/// and services that follow the catalogue, and suppressed cells are `null`: an open object.
#[utoipa::path(get, path = "/api/public/logros", tag = "público",
    summary = "Logros y cobertura por territorio de la última medición publicada, sin datos personales, con supresión de celdas pequeñas",
    params(PublicQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "Ninguna medición publicada (o no está publicada la pedida)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn public_logros(
    State(st): State<AppState>,
    Query(q): Query<PublicQuery>,
) -> ApiResult<Json<Value>> {
    let t = TerritoryCode::parse(q.territory.as_deref().unwrap_or("PY"))
        .map_err(|e| ApiError::bad_request(format!("territorio inválido: {e}")))?;
    let k = st.settings.public_min_cell;
    let out = st
        .pool
        .run(move |s| {
            let Some(p) = vamos_app::measurements::published_figures(s, q.measurement)? else {
                return Err(ApiError::not_found(match q.measurement {
                    Some(id) => format!("la medición {id} no está publicada: las cifras públicas salen solo de las mediciones que un analista publica"),
                    None => "todavía no hay cifras públicas: un analista debe publicar una medición («vamos measurements publish <N>» o POST /api/measurements/{id}/publish)".to_string(),
                }));
            };
            let figures = vamos_app::suppression::for_publication(&p, k);
            Ok(figures.json(t, &p.measurement, &p.published_at))
        })
        .await?;
    Ok(Json(out))
}
