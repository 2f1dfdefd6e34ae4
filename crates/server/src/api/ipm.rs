//! Multidimensional poverty: `GET /api/ipm` (a territory's official index at a measurement,
//! with headcounts, contributions, areas, populations, the territories below, robustness over
//! k and the change from another measurement) and `GET /api/ipm/territories` (every territory).
//! Aggregates, read like the Logros; the rules are in `vamos_app::ipm`.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::ipm::{self, Ask};
use vamos_domain::{Permission, TerritoryCode};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ipm))
        .routes(routes!(get_territories))
}

/// What to compute.
#[derive(serde::Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IpmParams {
    /// Medición (por defecto, la última)
    pub measurement: Option<i64>,
    /// PY (por defecto), un departamento DD o un distrito DDdd
    pub territory: Option<String>,
    /// Corte de pobreza como fracción (0.26 = 26 %); por defecto, el del método
    pub k: Option<f64>,
    /// Cortes de la tabla de robustez, separados por comas (por defecto 0.2,0.26,0.33,0.4,0.5)
    pub k_list: Option<String>,
    /// Otra medición con la cual comparar
    pub compare: Option<i64>,
}

/// `GET /api/ipm`
#[utoipa::path(get, path = "/api/ipm", tag = "mediciones",
    summary = "Pobreza multidimensional (IPM oficial del INE, Alkire–Foster) de un territorio en una medición: H, A, M0 sobre personas y hogares, tasas censuradas y sin censurar, contribuciones, áreas, poblaciones, territorios de abajo, robustez y cambio",
    params(IpmParams),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No hay esa medición", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_ipm(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<IpmParams>,
) -> ApiResult<Json<Value>> {
    let territory = match q
        .territory
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => Some(TerritoryCode::parse(t).map_err(|e| ApiError::bad_request(e.to_string()))?),
    };
    let ks: Vec<f64> = match q.k_list.as_deref() {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|x| {
                x.trim().parse::<f64>().map_err(|_| {
                    ApiError::bad_request(format!("k_list: «{}» no es un número", x.trim()))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    if ks.len() > 20 {
        return Err(ApiError::bad_request("k_list: a lo sumo 20 cortes"));
    }
    let ask = Ask {
        measurement: q.measurement,
        territory,
        k: q.k,
        ks,
        compare: q.compare,
        readers: 2,
    };
    Ok(Json(
        p.act(&st, move |s, actor| ipm::report(s, actor, &ask))
            .await?,
    ))
}

/// `GET /api/ipm/territories`
#[utoipa::path(get, path = "/api/ipm/territories", tag = "mediciones",
    summary = "El IPM de cada territorio (nación, departamentos, distritos) en una medición: personas y hogares, urbano y rural",
    params(IpmParams),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_territories(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<IpmParams>,
) -> ApiResult<Json<Value>> {
    let (m, k) = (q.measurement, q.k);
    let (m, rows) = p
        .act(&st, move |s, actor| {
            ipm::territories_table(s, actor, m, k, 2)
        })
        .await?;
    Ok(Json(json!({
        "measurement": {"id": m.id, "as_of": m.as_of, "synthetic": m.synthetic},
        "territories": rows,
    })))
}
