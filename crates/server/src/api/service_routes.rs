//! A person's service route: the services of their package in order, those missing, where
//! and when to go, and their open referrals (`vamos_app::referrals::person_route`).

use super::{audit, out_of_scope, purpose_or, PurposeQuery};
use crate::auth::{now, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::referrals as acc;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(person_route))
}

/// `GET /api/persons/{id}/route`: the personal service route, as
/// `vamos_app::referrals::person_route` builds it (steps that follow the person's package in the
/// catalogue): an open object.
#[utoipa::path(get, path = "/api/persons/{id}/route", tag = "estatus",
    summary = "Ruta de servicios de una persona: los servicios de su paquete en orden, los que le faltan, dónde y cuándo ir, y sus referencias abiertas",
    params(("id" = i64, Path, description = "Número interno"), PurposeQuery),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::StatusRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn person_route(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::StatusRead)?;
    let purpose = purpose_or(&q.purpose, "orientación: ruta de servicios")?;
    let catalogue = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| {
            let located = s.locate(vamos_store::UnitKind::Person, id)?;
            let district =
                located.and_then(|(_, d)| vamos_domain::DistrictCode::from_number(d).ok());
            let allowed = district.is_some_and(|d| p.scope.contains(d));
            let outcome = match (located, allowed) {
                (None, _) => "no encontrado",
                (Some(_), false) => "denegado: fuera de su ámbito territorial",
                _ => "ok",
            };
            audit(
                s,
                Some(&p),
                "ruta de servicios",
                "persona",
                &located
                    .map(|(i, _)| i.to_string())
                    .unwrap_or_else(|| id.to_string()),
                &purpose,
                outcome,
            )?;
            let (Some((pid, _)), Some(d), true) = (located, district, allowed) else {
                return Err(out_of_scope(located.is_some(), "persona", id).into());
            };
            let today = now().date_naive();
            let (as_of, until) = match s.measurement(None)? {
                Some((m, _)) => (
                    chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")
                        .map_err(ApiError::internal)?,
                    vamos_app::measurements::figures_until(&m)?,
                ),
                None => (today, today),
            };
            Ok(acc::person_route(s, &catalogue, pid, d, as_of, until)?)
        })
        .await?;
    Ok(Json(out))
}
