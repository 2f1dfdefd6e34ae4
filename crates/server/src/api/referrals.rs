//! Referrals: the report the caller may see (JSON page, or a CSV/XLSX download), the funnel,
//! generation from a measurement, acknowledgement and the life cycle of one referral. The work
//! is in `vamos_app::referrals::work`, shared with the command line.
//!
//! Who sees what: an institution operator only its institution's referrals, in its territories,
//! with the person fields of its data-sharing agreement; a Mesa member every institution's in
//! its territories with its fixed identification fields; analysts everything.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::referrals::work;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_referrals))
        .routes(routes!(funnel))
        .routes(routes!(generate))
        .routes(routes!(acknowledge))
        .routes(routes!(change_status))
}

/// Which referrals.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    /// Institución (código del catálogo)
    pub institution: Option<String>,
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Servicio (código del catálogo)
    pub service: Option<String>,
    /// emitida, recibida, contactada, atendida, rechazada, vencida, cerrada o abierta
    pub status: Option<String>,
    /// Prioridad mínima
    pub min_priority: Option<i64>,
    /// Solo las referencias de este hogar y sus miembros
    pub household: Option<i64>,
    /// Tamaño de página (1 a 1000; 100 por defecto; sin límite al descargar)
    pub limit: Option<i64>,
    /// Desplazamiento
    pub offset: Option<i64>,
    /// json (por defecto), csv o xlsx
    pub format: Option<String>,
    /// Finalidad de la consulta (queda en el registro de auditoría)
    pub purpose: Option<String>,
    /// prioridad (por defecto) o privacion: primero el hogar con más privaciones (IPM); sólo
    /// con la pobreza en el acuerdo de intercambio de datos
    pub order: Option<String>,
}

impl From<ReferralQuery> for work::ReferralQuery {
    fn from(q: ReferralQuery) -> Self {
        work::ReferralQuery {
            institution: q.institution,
            territory: q.territory,
            service: q.service,
            status: q.status,
            min_priority: q.min_priority,
            household: q.household.map(vamos_domain::HouseholdId),
            limit: q.limit,
            offset: q.offset,
            format: q.format,
            purpose: q.purpose,
            order: q.order,
        }
    }
}

/// A page of referrals.
#[derive(Serialize, ToSchema)]
pub struct ReferralPage {
    /// Referencias con los campos personales que el llamador puede ver
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub total: u64,
    pub limit: Option<i64>,
    pub offset: i64,
    /// Datos sintéticos (de prueba)
    pub synthetic: bool,
}

impl From<work::Listing> for ReferralPage {
    fn from(l: work::Listing) -> Self {
        ReferralPage {
            items: l.items,
            total: l.total,
            limit: l.limit,
            offset: l.offset,
            synthetic: l.synthetic,
        }
    }
}

/// `GET /api/referrals`: the referrals the caller may see (JSON page, or a CSV/XLSX download).
#[utoipa::path(get, path = "/api/referrals", tag = "referencias",
    summary = "Reporte de referencias por prioridad (operador: las de su institución; Mesa: las de su territorio), con los campos personales permitidos; format=csv|xlsx para descargar",
    params(ReferralQuery),
    responses((status = 200, description = "Correcto", body = ReferralPage)),
    extensions(("x-vamos-permission" = json!(Permission::ReferralsRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_referrals(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ReferralQuery>,
) -> ApiResult<Response> {
    let catalogue = st.catalogue.clone();
    let q = work::ReferralQuery::from(q);
    let listing = p
        .act(&st, move |s, actor| work::list(s, actor, &catalogue, &q))
        .await?;
    Ok(match listing.download()? {
        Some((bytes, content_type, name)) => (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => Json(ReferralPage::from(listing)).into_response(),
    })
}

/// Which funnel.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// Institución
    pub institution: Option<String>,
    /// PY (nación), DD (departamento) o DDdd (distrito), códigos del INE
    pub territory: Option<String>,
    /// Servicio
    pub service: Option<String>,
}

impl From<FunnelQuery> for work::FunnelQuery {
    fn from(q: FunnelQuery) -> Self {
        work::FunnelQuery {
            institution: q.institution,
            territory: q.territory,
            service: q.service,
        }
    }
}

/// `GET /api/referrals/funnel`: referred → received → contacted → served, rejected, expired;
/// days to service; served without referral. Aggregates only, grouped by institution, service
/// and district as `vamos_app::referrals::work::funnel` builds them: an open object.
#[utoipa::path(get, path = "/api/referrals/funnel", tag = "referencias",
    summary = "Embudo y oportunidad por institución, servicio y distrito: referidas, recibidas, contactadas, atendidas, rechazadas, vencidas; días hasta la atención (mediana, p90); atendidas sin referencia",
    params(FunnelQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::LogrosRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn funnel(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<FunnelQuery>,
) -> ApiResult<Json<Value>> {
    let q = work::FunnelQuery::from(q);
    let out = p
        .act(&st, move |s, actor| work::funnel(s, actor, &q))
        .await?;
    Ok(Json(out))
}

/// Which measurement to generate referrals from.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateReferrals {
    /// Número de medición (por defecto, la última)
    pub measurement: Option<i64>,
    /// PY, DD o DDdd
    pub territory: Option<String>,
}

impl From<GenerateReferrals> for work::Generate {
    fn from(b: GenerateReferrals) -> Self {
        work::Generate {
            measurement: b.measurement,
            territory: b.territory,
        }
    }
}

/// `POST /api/referrals/generate`: referrals from a measurement (UTGS analysts). Answers the
/// counts of `vamos_app::referrals::Generated` (an open object).
#[utoipa::path(post, path = "/api/referrals/generate", tag = "referencias",
    summary = "Generar las referencias de una medición (UTGS): una por unidad y servicio desprotegido; cierra las que perdieron su necesidad",
    request_body = GenerateReferrals,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 409, description = "Transición de estado no permitida o catálogo distinto", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ReferralsWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn generate(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<GenerateReferrals>,
) -> ApiResult<Json<Value>> {
    let catalogue = st.catalogue.clone();
    let b = work::Generate::from(b);
    let out = p
        .act(&st, move |s, actor| {
            work::generate_for(s, actor, &catalogue, &b)
        })
        .await?;
    Ok(Json(out))
}

/// An institution's acknowledgement that it received its list.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// PY, DD o DDdd (por defecto, todo el ámbito de la cuenta)
    pub territory: Option<String>,
    /// Institución (administradores y analistas; un operador, la suya)
    pub institution: Option<String>,
}

impl From<Acknowledge> for work::Acknowledge {
    fn from(b: Acknowledge) -> Self {
        work::Acknowledge {
            territory: b.territory,
            institution: b.institution,
        }
    }
}

/// `POST /api/referrals/acknowledge`: every `emitida` referral of the institution in the
/// territory becomes `recibida`; answers how many (an open object).
#[utoipa::path(post, path = "/api/referrals/acknowledge", tag = "referencias",
    summary = "Acusar recibo: las referencias emitidas de la institución en el territorio pasan a recibidas",
    request_body = Acknowledge,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 409, description = "Transición de estado no permitida o catálogo distinto", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ReferralsWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn acknowledge(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<Acknowledge>,
) -> ApiResult<Json<Value>> {
    let b = work::Acknowledge::from(b);
    let out = p
        .act(&st, move |s, actor| work::acknowledge(s, actor, &b))
        .await?;
    Ok(Json(out))
}

/// A change of a referral's status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    #[schema(schema_with = settable_status)]
    pub status: String,
    /// Obligatorio al rechazar (texto libre: `vamos_domain::limits::FREE_TEXT`)
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// The statuses an institution sets by hand (`atendida` comes with a counter-referral; the
/// rest are set by the system), as `vamos_domain::ReferralStatus` spells them.
fn settable_status() -> ObjectBuilder {
    use vamos_domain::ReferralStatus as S;
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            [S::Recibida, S::Contactada, S::Rechazada].map(|s| s.code()),
        ))
}

impl From<StatusChange> for work::StatusChange {
    fn from(b: StatusChange) -> Self {
        work::StatusChange {
            status: b.status,
            reason: b.reason,
        }
    }
}

/// `POST /api/referrals/{id}/status`: acknowledge, mark contacted, or reject with a reason;
/// answers the referral and its history (an open object: the referral carries the person
/// fields the caller may see).
#[utoipa::path(post, path = "/api/referrals/{id}/status", tag = "referencias",
    summary = "Cambiar el estado de una referencia: recibida, contactada o rechazada (con motivo)",
    params(("id" = i64, Path, description = "Número interno")),
    request_body = StatusChange,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "Transición de estado no permitida o catálogo distinto", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ReferralsWork.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn change_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<vamos_domain::ReferralId>,
    Json(b): Json<StatusChange>,
) -> ApiResult<Json<Value>> {
    let b = work::StatusChange::from(b);
    let out = p
        .act(&st, move |s, actor| work::change_status(s, actor, id, &b))
        .await?;
    Ok(Json(out))
}
