//! Budget programmes and execution: `GET /api/budget` (needed vs allocated vs executed per
//! source, cooperation, institution, service and strategic action) and `POST /api/budget` (a
//! CSV or XLSX of the Ministry of Finance as the body, read with the shipped — unverified —
//! column mapping). The rules are in `vamos_app::budget`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::budget::{self as b, BudgetQuery, Mapping};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_budget))
}

/// The import (its body is a file: the upload limit applies).
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_budget))
}

/// What to show.
#[derive(serde::Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BudgetParams {
    /// Año (por defecto, el más reciente con presupuesto)
    pub year: Option<i64>,
    /// PY o un departamento DD
    pub territory: Option<String>,
    /// Escenario de costeo guardado: su costo del año es la columna «necesario»
    pub scenario: Option<i64>,
}

/// `GET /api/budget`
#[utoipa::path(get, path = "/api/budget", tag = "planificación",
    summary = "Presupuesto de un año: necesario (un escenario guardado) vs vigente vs obligado y pagado, por fuente, cooperación, institución, servicio y acción estratégica",
    params(BudgetParams),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::PlansRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_budget(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<BudgetParams>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let bq = BudgetQuery {
        year: q.year,
        territory: q.territory,
        scenario: q.scenario,
    };
    Ok(Json(
        p.act(&st, move |s, actor| b::summary(s, actor, &cat, &bq))
            .await?,
    ))
}

/// A budget file of the Ministry of Finance: CSV, or an XLSX workbook (its first sheet).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // reason: describes the body; the handler reads it as bytes
pub struct BudgetFile(Vec<u8>);

/// `POST /api/budget`
#[utoipa::path(post, path = "/api/budget", tag = "planificación",
    summary = "Importar líneas de presupuesto (CSV o XLSX del Ministerio de Hacienda; mapeo de columnas NO VERIFICADO): todo o nada, reemplaza los años que trae",
    request_body(content((String = "text/csv"), (BudgetFile = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    responses(
        (status = 201, description = "Importado", body = Object),
        (status = 413, description = "Demasiado grande", body = crate::error::ErrorBody),
        (status = 422, description = "Rechazado: cada problema con archivo, fila, columna, valor y motivo; nada se guardó", body = Object),
    ),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn import_budget(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    p.act(&st, |_, actor| actor.require(Permission::PlansEdit))
        .await?;
    let xlsx = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("spreadsheetml"));
    let cat = st.catalogue.clone();
    let out = p
        .act(&st, move |s, actor| {
            let dir = tempfile::tempdir().map_err(vamos_app::Error::internal)?;
            let path = dir.path().join(if xlsx {
                "presupuesto.xlsx"
            } else {
                "presupuesto.csv"
            });
            std::fs::write(&path, &body).map_err(vamos_app::Error::internal)?;
            b::import(s, actor, &cat, &path, &Mapping::default_mh()?)
        })
        .await?;
    Ok(match out {
        Ok(i) => (StatusCode::CREATED, Json(json!(i))),
        Err(problems) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"imported": false, "problems": problems})),
        ),
    })
}
