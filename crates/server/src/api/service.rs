//! The service's own endpoints: liveness (public, saying nothing about the build), readiness
//! (the version, the state of the in-memory copies and of the counter-referral intake) and
//! Prometheus metrics, both for monitoring credentials only (`monitoreo:leer`): they reveal the
//! registry's size. The OpenAPI document is served by the `openapi` module, which reads every
//! module's annotations.

use crate::auth::MaybePrincipal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::atomic::Ordering::Relaxed;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// A caller with `monitoreo:leer` (401 without credentials, 403 without the permission). Not
/// counted against the account's request rate: a scraper polling every few seconds must not
/// use up its administrator's quota.
fn monitoring(p: MaybePrincipal) -> ApiResult<()> {
    p.0.ok_or_else(ApiError::unauthorized)?
        .require(Permission::Monitoring)
}

/// The process is alive (and nothing else: no version for whoever scans for one).
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Siempre `ok`
    pub status: &'static str,
}

#[utoipa::path(get, path = "/api/health", tag = "servicio",
    summary = "Estado del proceso (vivo)",
    responses((status = 200, description = "Correcto", body = Health)),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers and is initialised; how far the in-memory copies and the intake are.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// Siempre `ready`
    pub status: &'static str,
    /// Versión de Vamos
    pub version: &'static str,
    /// `sqlite` o `postgres`
    pub backend: Option<String>,
    /// The Logros updater's registry in memory: ready, loading or none.
    pub resident_registry: HeldCopy,
    /// Where every person lives, for counter-referral checks: ready, loading or none.
    pub person_places: HeldCopy,
    pub counter_referral_intake: Intake,
}

/// A copy held in memory: `ready`, `loading`, `none` or `off`, and how many persons it holds.
#[derive(Serialize, ToSchema)]
pub struct HeldCopy {
    pub state: &'static str,
    pub persons: u64,
}

/// The counter-referral writer: acknowledged events waiting in the intake log, the
/// fingerprints of received events and of referrals (ready or loading).
#[derive(Serialize, ToSchema)]
pub struct Intake {
    pub pending: u64,
    pub known: Known,
    /// The referrals an event may answer (unit, service), held to skip the lookup of those
    /// never made: ready or loading.
    pub referrals: Pairs,
}

#[derive(Serialize, ToSchema)]
pub struct Known {
    pub state: &'static str,
    pub events: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Pairs {
    pub state: &'static str,
    pub pairs: u64,
}

/// Not ready: why.
#[derive(Serialize, ToSchema)]
pub struct NotReady {
    /// Siempre `not_ready`
    pub status: &'static str,
    pub error: crate::error::ErrorDetail,
}

#[utoipa::path(get, path = "/api/ready", tag = "servicio",
    summary = "Preparado: la base de datos responde y está inicializada (y el estado del registro en memoria de los Logros)",
    responses(
        (status = 200, description = "Correcto", body = Ready),
        (status = 503, description = "Base de datos no disponible o no inicializada", body = NotReady),
    ),
    extensions(("x-vamos-permission" = json!(Permission::Monitoring.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn ready(State(st): State<AppState>, p: MaybePrincipal) -> ApiResult<Response> {
    monitoring(p)?;
    let checked = st
        .pool
        .run(|s| {
            if s.is_ready()? {
                Ok(())
            } else {
                Err(vamos_store::StoreError::NotInitialised.into())
            }
        })
        .await;
    if let Err(e) = checked {
        let body = NotReady {
            status: "not_ready",
            error: crate::error::ErrorDetail {
                code: e.code.to_string(),
                message: e.message,
            },
        };
        return Ok((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response());
    }
    let on = st.settings.resident_registry;
    let intake = &st.intake.status;
    let state = |ready: bool| if ready { "ready" } else { "loading" };
    Ok(Json(Ready {
        status: "ready",
        version: env!("CARGO_PKG_VERSION"),
        backend: st.settings.db.split(':').next().map(str::to_string),
        resident_registry: HeldCopy {
            state: if on { st.resident.state() } else { "off" },
            persons: st.resident.persons.load(Relaxed),
        },
        person_places: HeldCopy {
            state: if on { st.places.state() } else { "off" },
            persons: st.places.persons() as u64,
        },
        counter_referral_intake: Intake {
            pending: intake.pending.load(Relaxed),
            known: Known {
                state: state(intake.known_ready.load(Relaxed)),
                events: intake.known.load(Relaxed),
            },
            referrals: Pairs {
                state: state(intake.referrals_ready.load(Relaxed)),
                pairs: intake.referral_pairs.load(Relaxed),
            },
        },
    })
    .into_response())
}

#[utoipa::path(get, path = "/metrics", tag = "servicio",
    summary = "Métricas en formato de texto de Prometheus",
    responses((status = 200, description = "Correcto", body = String, content_type = "text/plain")),
    extensions(("x-vamos-permission" = json!(Permission::Monitoring.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn metrics(State(st): State<AppState>, p: MaybePrincipal) -> ApiResult<Response> {
    monitoring(p)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::render(&st),
    )
        .into_response())
}
