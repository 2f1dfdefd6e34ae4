//! The units behind a figure: `GET /api/units` lists, page by page or as CSV, who a Logro card
//! or one of its service rows counts as not protected or without data in a district. The rules
//! (scope, agreement, audit) are in `vamos_app::units`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::units::{self as u, UnitsQuery};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_units))
}

/// Which figure, where, which page.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitsParams {
    /// Distrito (DDdd)
    pub territory: String,
    /// Número de Logro (1 a 10)
    pub logro: u8,
    /// Un servicio del paquete núcleo del Logro (su fila en lugar de la tarjeta)
    pub service: Option<String>,
    /// Una población de atención especial del Logro (ninos, mujeres, adultos_mayores, discapacidad, indigenas, pobreza, rural)
    pub population: Option<String>,
    /// desprotegidos (por defecto) o sin_dato
    pub state: Option<String>,
    /// Número de medición (por defecto, la última)
    pub measurement: Option<i64>,
    /// Página, desde 1
    pub page: Option<usize>,
    /// Filas por página (por defecto 50, como máximo 1000)
    pub limit: Option<usize>,
    /// Finalidad de la consulta (queda en la auditoría)
    pub purpose: Option<String>,
    /// csv: todas las unidades en un archivo
    pub format: Option<String>,
}

/// `GET /api/units`
#[utoipa::path(get, path = "/api/units", tag = "logros",
    summary = "Las unidades detrás de una cifra: quiénes cuenta un Logro (o uno de sus servicios) como sin protección o sin dato en un distrito, reclasificadas como está la cifra; format=csv para descargar",
    params(UnitsParams),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::RegistryRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_units(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<UnitsParams>,
) -> ApiResult<Response> {
    let cat = st.catalogue.clone();
    let csv = q.format.as_deref() == Some("csv");
    let uq = UnitsQuery {
        measurement: q.measurement,
        territory: q.territory,
        logro: q.logro,
        service: q.service,
        population: q.population,
        state: q.state,
        page: q.page,
        limit: q.limit,
        purpose: q.purpose,
    };
    if csv {
        let bytes = p
            .act(&st, move |s, actor| {
                u::csv(&u::export(s, actor, &cat, &uq)?)
            })
            .await?;
        return Ok(super::csv_download("unidades.csv", bytes));
    }
    let page = p
        .act(&st, move |s, actor| u::list(s, actor, &cat, &uq))
        .await?;
    Ok(Json(page.json()).into_response())
}
