//! Saved measurements, publishing one (its figures, frozen, become the public figures), and the
//! ten Logros of a territory without suppression — within the caller's territorial scope only
//! (internal use; the public figures are in [`super::public`]).

use super::{parse_territory, Items};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::measurements as status;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_measurements))
        .routes(routes!(get_measurement))
        .routes(routes!(publish_measurement))
        .routes(routes!(logros))
}

/// `GET /api/measurements`: each row as the store lists it (id, as_of, catalogue_version,
/// catalogue_label, territory, synthetic, created_at, published_at, published_by, known_at).
#[utoipa::path(get, path = "/api/measurements", tag = "logros",
    summary = "Mediciones guardadas",
    responses(
        (status = 200, description = "Correcto", body = Items<Object>),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_measurements(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Items<Value>>> {
    let items = p.act(&st, status::list).await?;
    Ok(Json(Items { items }))
}

/// One measurement with its sources.
#[derive(Serialize, ToSchema)]
pub struct Measurement {
    pub id: i64,
    pub as_of: String,
    pub catalogue_version: String,
    pub catalogue_label: String,
    pub territory: String,
    pub synthetic: bool,
    pub created_at: String,
    /// Fuentes y parámetros de la medición, tal como se guardaron
    #[schema(value_type = Object)]
    pub details: Value,
    /// Cuántos distritos midió
    pub districts: usize,
    /// Momento del registro que leyó (UTC, RFC 3339): las versiones registradas después no
    /// cuentan; `null` en mediciones anteriores a las versiones
    pub known_at: Option<String>,
}

#[utoipa::path(get, path = "/api/measurements/{id}", tag = "logros",
    summary = "Una medición con sus fuentes",
    params(("id" = i64, Path, description = "Número interno")),
    responses(
        (status = 200, description = "Correcto", body = Measurement),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_measurement(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Measurement>> {
    p.require(Permission::LogrosRead)?;
    let (m, districts) = st
        .pool
        .run(move |s| s.measurement(Some(id)).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("medición {id} no encontrada")))?;
    Ok(Json(Measurement {
        id: m.id,
        as_of: m.as_of,
        catalogue_version: m.catalogue_version,
        catalogue_label: m.catalogue_label,
        territory: m.territory,
        synthetic: m.synthetic,
        created_at: m.created_at,
        details: m.details,
        districts: districts.len(),
        known_at: m.known_at,
    }))
}

/// A measurement published: which, when and by whom.
#[derive(Serialize, ToSchema)]
pub struct Publication {
    pub measurement: i64,
    /// RFC 3339
    pub published_at: String,
    pub published_by: String,
}

/// `POST /api/measurements/{id}/publish`: the measurement's figures as they stand now become
/// the public figures (`/api/public/…`, the public dashboard) until a measurement is published
/// again (`vamos_app::measurements::publish`, audited).
#[utoipa::path(post, path = "/api/measurements/{id}/publish", tag = "logros",
    summary = "Publicar una medición: sus cifras de este momento pasan a ser las cifras públicas",
    params(("id" = i64, Path, description = "Número interno")),
    responses(
        (status = 200, description = "Correcto", body = Publication),
        (status = 403, description = "Su rol o su token no permite publicar mediciones", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrado", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::MeasurementsPublish.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn publish_measurement(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Publication>> {
    let r = p.act(&st, move |s, a| status::publish(s, a, id)).await?;
    Ok(Json(Publication {
        measurement: r.measurement_id,
        published_at: r.published_at,
        published_by: r.published_by,
    }))
}

/// Which Logros: a territory and a measurement.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogrosQuery {
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Número de medición (por defecto, la última)
    pub measurement: Option<i64>,
}

/// `GET /api/logros`: the table built by `vamos_app::measurements::logros_json` (one entry per
/// Logro with its breakdowns and services, which follow the catalogue): an open object. Only
/// for a territory within the caller's scope (`vamos_app::measurements::logros_in_scope`):
/// outside it, 403 — the public figures are at `/api/public/logros`.
#[utoipa::path(get, path = "/api/logros", tag = "logros",
    summary = "Los diez Logros de un territorio de su ámbito, sin supresión (uso interno)",
    params(LogrosQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 403, description = "Territorio fuera del ámbito de la cuenta (use /api/public/logros)", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrado", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn logros(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogrosQuery>,
) -> ApiResult<Json<Value>> {
    let t = parse_territory(q.territory.as_deref())?;
    let found = p
        .act(&st, move |s, a| {
            status::logros_in_scope(s, a, q.measurement, t)
        })
        .await?;
    let Some((m, table)) = found else {
        return Err(ApiError::not_found(
            "no hay mediciones: ejecute «vamos classify»",
        ));
    };
    Ok(Json(status::logros_json(&m, t, &table)))
}
