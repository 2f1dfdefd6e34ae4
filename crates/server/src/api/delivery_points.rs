//! Where services are delivered: every delivery point, or those serving a district.

use super::Items;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_domain::{Permission, TerritoryCode};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(delivery_points))
}

/// Which delivery points.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointsQuery {
    /// Distrito DDdd
    pub district: Option<String>,
}

/// A place where a service is delivered.
#[derive(Serialize, ToSchema)]
pub struct DeliveryPoint {
    pub institution: String,
    pub service: String,
    /// distrito, departamento, nacional o remoto
    pub level: String,
    /// DDdd, DD o PY
    pub territory: String,
    pub name: String,
    pub address: Option<String>,
    pub hours: Option<String>,
    pub contact: Option<String>,
    /// Espacio SPS: los servicios que alberga
    pub hosted_services: Option<String>,
    /// Espacio SPS: el código de la Mesa de Protección Social que se reúne allí
    pub mesa_body: Option<String>,
}

impl From<vamos_app::referrals::DeliveryPoint> for DeliveryPoint {
    fn from(d: vamos_app::referrals::DeliveryPoint) -> Self {
        DeliveryPoint {
            institution: d.institution,
            service: d.service,
            level: d.level,
            territory: d.territory,
            name: d.name,
            address: d.address,
            hours: d.hours,
            contact: d.contact,
            hosted_services: d.hosted_services,
            mesa_body: d.mesa_body,
        }
    }
}

#[utoipa::path(get, path = "/api/delivery-points", tag = "catálogo",
    summary = "Puntos de atención de los servicios (todos, o los que sirven a un distrito)",
    params(PointsQuery),
    responses((status = 200, description = "Correcto", body = Items<DeliveryPoint>)),
    extensions(("x-vamos-permission" = json!(Permission::CatalogueRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn delivery_points(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<PointsQuery>,
) -> ApiResult<Json<Items<DeliveryPoint>>> {
    // Checked here too: a caller without the permission is refused before its district is read.
    p.require(Permission::CatalogueRead)?;
    let district = match q.district.as_deref() {
        None => None,
        Some(d) => match TerritoryCode::parse(d) {
            Ok(TerritoryCode::District(x)) => Some(x.to_string()),
            _ => {
                return Err(ApiError::bad_request(
                    "district debe ser un código de distrito DDdd",
                ))
            }
        },
    };
    let items = p
        .act(&st, move |s, actor| {
            vamos_app::referrals::delivery_points(s, actor, district.as_deref())
        })
        .await?;
    Ok(Json(Items {
        items: items.into_iter().map(DeliveryPoint::from).collect(),
    }))
}
