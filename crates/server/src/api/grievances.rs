//! Grievances (*reclamos*): lodging by an account (an orientador, an institution's system),
//! the staff's list (JSON or CSV), one grievance and its handling — assign, comment, resolve —
//! and, without a credential, tracking and appeal by the holder of a tracking code, limited per
//! client address like the public forms. The rules are in `vamos_app::grievances`.

use crate::auth::{self, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::net::SocketAddr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::grievances::{self as g, Handling};
use vamos_domain::grievance::Outcome;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lodge, list))
        .routes(routes!(show))
        .routes(routes!(assign))
        .routes(routes!(comment))
        .routes(routes!(resolve))
        .routes(routes!(track))
        .routes(routes!(appeal))
}

/// A grievance as lodged (the public form's fields).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LodgeBody {
    /// registro_datos_incorrectos, registro_no_figuro, registro_cambio_hogar, estado_proteccion, servicio_no_recibido, servicio_mala_atencion o sistema
    pub categoria: String,
    /// Qué pasó (hasta 2000 caracteres)
    pub descripcion: String,
    /// Cédula (obligatoria salvo en reclamos sobre un servicio o el sistema)
    pub cedula: Option<String>,
    /// AAAA-MM-DD o dd/mm/aaaa
    pub fecha_nacimiento: Option<String>,
    pub nombres: Option<String>,
    pub apellidos: Option<String>,
    /// Teléfono o correo
    pub contacto: Option<String>,
    /// Distrito (DDdd)
    pub distrito: Option<String>,
    /// Institución que presta el servicio (código del catálogo)
    pub institucion: Option<String>,
}

impl From<LodgeBody> for g::Form {
    fn from(b: LodgeBody) -> Self {
        g::Form {
            categoria: b.categoria,
            descripcion: b.descripcion,
            cedula: b.cedula,
            fecha_nacimiento: b.fecha_nacimiento,
            nombres: b.nombres,
            apellidos: b.apellidos,
            contacto: b.contacto,
            distrito: b.distrito,
            institucion: b.institucion,
        }
    }
}

/// `POST /api/grievances`: the number and the tracking code (shown once) of a new grievance.
#[utoipa::path(post, path = "/api/grievances", tag = "reclamos",
    summary = "Presentar un reclamo en nombre de una persona (orientador, institución); responde el código de seguimiento, que no se vuelve a mostrar",
    request_body = LodgeBody,
    responses(
        (status = 201, description = "Presentado", body = Object),
        (status = 400, description = "Algún campo no es válido: cada uno con su motivo", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::GrievancesLodge.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn lodge(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<LodgeBody>,
) -> ApiResult<Response> {
    let now = auth::now();
    let l = g::validate(&g::Form::from(b), now.date_naive()).map_err(|e| g::invalid_form(&e))?;
    let out = p
        .act(&st, move |s, actor| g::lodge(s, actor, &l, now))
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Which grievances.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrievanceQuery {
    /// recibido, asignado, escalado, apelado, resuelto, no_corresponde o abierto
    pub state: Option<String>,
    /// Categoría
    pub category: Option<String>,
    /// Solo los abiertos con el plazo vencido
    pub overdue: Option<bool>,
    /// json (por defecto) o csv
    pub format: Option<String>,
}

impl From<&GrievanceQuery> for g::ListQuery {
    fn from(q: &GrievanceQuery) -> Self {
        g::ListQuery {
            state: q.state.clone(),
            category: q.category.clone(),
            overdue: q.overdue.unwrap_or(false),
        }
    }
}

/// `GET /api/grievances`: the grievances within the caller's scope (an open array of
/// `vamos_app::grievances::Summary`), or the CSV export.
#[utoipa::path(get, path = "/api/grievances", tag = "reclamos",
    summary = "Reclamos dentro del ámbito de la cuenta (operador: los de su institución), por plazo; format=csv para descargar",
    params(GrievanceQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::GrievancesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<GrievanceQuery>,
) -> ApiResult<Response> {
    let now = auth::now();
    let lq = g::ListQuery::from(&q);
    match q.format.as_deref() {
        Some("csv") => {
            let bytes = p
                .act(&st, move |s, actor| g::export_csv(s, actor, &lq, now))
                .await?;
            Ok(super::csv_download("reclamos.csv", bytes))
        }
        None | Some("json") => {
            let rows = p
                .act(&st, move |s, actor| g::list(s, actor, &lq, now))
                .await?;
            Ok(Json(serde_json::json!({ "items": rows })).into_response())
        }
        Some(_) => Err(ApiError::bad_request("format: json o csv")),
    }
}

/// `GET /api/grievances/{id}`
#[utoipa::path(get, path = "/api/grievances/{id}", tag = "reclamos",
    summary = "Un reclamo con sus pasos; la identificación de la persona y si coincide con el registro, para quien puede leer el registro",
    params(("id" = i64, Path, description = "Número del reclamo")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::GrievancesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn show(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<g::Detail>> {
    let now = auth::now();
    let d = p
        .act(&st, move |s, actor| g::show(s, actor, id, now))
        .await?;
    Ok(Json(d))
}

async fn act(st: &AppState, p: &Principal, id: i64, h: Handling) -> ApiResult<Json<g::Detail>> {
    let now = auth::now();
    let d = p
        .act(st, move |s, actor| g::handle(s, actor, id, &h, now))
        .await?;
    Ok(Json(d))
}

/// To whom a grievance is assigned.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// Cuenta (nombre de usuario)
    pub account: Option<String>,
    /// Institución (código del catálogo)
    pub institution: Option<String>,
}

/// `POST /api/grievances/{id}/assign`
#[utoipa::path(post, path = "/api/grievances/{id}/assign", tag = "reclamos",
    summary = "Asignar un reclamo a una cuenta o a una institución",
    params(("id" = i64, Path, description = "Número del reclamo")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "El reclamo está cerrado", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::GrievancesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn assign(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<AssignBody>,
) -> ApiResult<Json<g::Detail>> {
    act(
        &st,
        &p,
        id,
        Handling::Assign {
            account: b.account,
            institution: b.institution,
        },
    )
    .await
}

/// An internal note.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    pub text: String,
}

/// `POST /api/grievances/{id}/comment`
#[utoipa::path(post, path = "/api/grievances/{id}/comment", tag = "reclamos",
    summary = "Agregar una nota interna (la persona no la ve)",
    params(("id" = i64, Path, description = "Número del reclamo")),
    request_body = CommentBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::GrievancesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn comment(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<CommentBody>,
) -> ApiResult<Json<g::Detail>> {
    act(&st, &p, id, Handling::Comment { text: b.text }).await
}

/// How a grievance is closed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// resuelto o no_corresponde
    pub outcome: String,
    /// Motivo (interno)
    pub reason: String,
    /// Respuesta que la persona lee con su código
    pub public_text: String,
    /// Solicitud de cambio que corrige el registro (solo con outcome «resuelto»): se crea
    /// asociada al reclamo y queda pendiente de aprobación por otra cuenta
    #[schema(value_type = Option<crate::api::change_requests::NewChangeRequest>)]
    pub change_request: Option<vamos_app::changes::RequestInput>,
}

/// `POST /api/grievances/{id}/resolve`
#[utoipa::path(post, path = "/api/grievances/{id}/resolve", tag = "reclamos",
    summary = "Cerrar un reclamo: resuelto o no_corresponde, con el motivo y la respuesta a la persona",
    params(("id" = i64, Path, description = "Número del reclamo")),
    request_body = ResolveBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "Ya estaba cerrado", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::GrievancesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn resolve(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<ResolveBody>,
) -> ApiResult<Json<g::Detail>> {
    let outcome = Outcome::parse(&b.outcome)
        .ok_or_else(|| ApiError::bad_request("outcome: resuelto o no_corresponde"))?;
    let Some(change) = b.change_request else {
        return act(
            &st,
            &p,
            id,
            Handling::Resolve {
                outcome,
                reason: b.reason,
                public_text: b.public_text,
            },
        )
        .await;
    };
    let now = auth::now();
    let d = p
        .act(&st, move |s, actor| {
            vamos_app::changes::resolve_grievance(
                s,
                actor,
                id,
                outcome,
                &b.reason,
                &b.public_text,
                &change,
                now,
            )
        })
        .await?;
    Ok(Json(d))
}

/// Refuses a client address past its tracking quota.
pub fn track_limit(st: &AppState, addr: &SocketAddr) -> ApiResult<()> {
    st.grievance_track_limiter
        .check_key(&addr.ip())
        .map_err(|_| ApiError::too_many("demasiadas consultas de reclamos: espere unos minutos"))
}

/// `GET /api/grievances/track/{code}`: what the holder of a tracking code may see — state,
/// dates, category, the public answer; never personal data. A wrong code answers like a
/// missing one.
#[utoipa::path(get, path = "/api/grievances/track/{code}", tag = "reclamos",
    summary = "Seguimiento de un reclamo con su código, sin cuenta: estado, fechas, categoría y respuesta (sin datos personales); consultas limitadas por cliente",
    params(("code" = String, Path, description = "Código de seguimiento (XXXX-XXXX-XXXX-XXXX-XXXX)")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No hay reclamo con ese código", body = crate::error::ErrorBody),
        (status = 429, description = "Demasiadas consultas desde esta dirección", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn track(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
) -> ApiResult<Json<g::Tracking>> {
    track_limit(&st, &addr)?;
    let now = auth::now();
    let t = st.pool.run(move |s| Ok(g::track(s, &code, now)?)).await?;
    Ok(Json(t))
}

/// Why the person appeals.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealBody {
    /// Por qué no está de acuerdo con la respuesta
    pub reason: String,
}

/// `POST /api/grievances/track/{code}/appeal`
#[utoipa::path(post, path = "/api/grievances/track/{code}/appeal", tag = "reclamos",
    summary = "Apelar la respuesta de un reclamo con su código (una vez, dentro de los 15 días): se reabre en el nivel siguiente con un plazo nuevo",
    params(("code" = String, Path, description = "Código de seguimiento")),
    request_body = AppealBody,
    responses(
        (status = 200, description = "Apelado", body = Object),
        (status = 404, description = "No hay reclamo con ese código", body = crate::error::ErrorBody),
        (status = 409, description = "Abierto todavía, ya apelado o fuera de plazo", body = crate::error::ErrorBody),
        (status = 429, description = "Demasiadas consultas desde esta dirección", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn appeal(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
    Json(b): Json<AppealBody>,
) -> ApiResult<Json<Value>> {
    track_limit(&st, &addr)?;
    let now = auth::now();
    let t = st
        .pool
        .run(move |s| Ok(g::appeal(s, &code, &b.reason, now)?))
        .await?;
    Ok(Json(serde_json::to_value(t).map_err(ApiError::internal)?))
}
