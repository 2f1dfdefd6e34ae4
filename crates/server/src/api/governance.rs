//! Governance of the Modelo de Gestión: `/api/bodies` (the bodies and their members),
//! `/api/meetings` (meetings with their minutes, the minute as PDF) and
//! `/api/meeting-agreements` (agreements and next steps, their status). The rules — scope,
//! carry-over, overdue — are in `vamos_app::governance`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::governance::{self as g, AgreementQuery, AgreementUpdate, MeetingInput};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bodies))
        .routes(routes!(get_body))
        .routes(routes!(add_body_member))
        .routes(routes!(end_body_member))
        .routes(routes!(list_meetings, record_meeting))
        .routes(routes!(get_meeting))
        .routes(routes!(meeting_minutes_pdf))
        .routes(routes!(list_meeting_agreements))
        .routes(routes!(update_meeting_agreement))
        .routes(routes!(list_rollout))
        .routes(routes!(get_rollout))
        .routes(routes!(update_rollout))
        .routes(routes!(list_priorities))
        .routes(routes!(get_priorities))
        .routes(routes!(priorities_csv))
        .routes(routes!(link_priority))
}

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(crate::error::ApiError::internal)
}

/// `GET /api/bodies`
#[utoipa::path(get, path = "/api/bodies", tag = "gobernanza",
    summary = "Las instancias del Modelo de Gestión (Gabinete Social, Comité de Gestión, Mesas Técnicas, Mesas de Protección Social) con su territorio, fecha de instalación y fuente, miembros, reuniones y acuerdos abiertos y vencidos",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_bodies(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let list = p.act(&st, g::bodies).await?;
    Ok(Json(json!({ "items": to_json(&list)? })))
}

/// `GET /api/bodies/{code}`
#[utoipa::path(get, path = "/api/bodies/{code}", tag = "gobernanza",
    summary = "Una instancia: sus miembros, sus reuniones y sus acuerdos abiertos",
    params(("code" = String, Path, description = "Código de la instancia (p. ej. MPS-1116)")),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No existe", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_body(
    State(st): State<AppState>,
    p: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let b = p.act(&st, move |s, actor| g::body(s, actor, &code)).await?;
    Ok(Json(to_json(&b)?))
}

/// `POST /api/bodies/{code}/members`
#[utoipa::path(post, path = "/api/bodies/{code}/members", tag = "gobernanza",
    summary = "Agregar un miembro a una instancia: nombre, institución, rol y, si tiene, la cuenta de Vamos que recibe los avisos de acuerdos vencidos",
    params(("code" = String, Path, description = "Código de la instancia")),
    request_body = Object,
    responses((status = 201, description = "Creado", body = Object), (status = 403, description = "Fuera de su ámbito", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRecord.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn add_body_member(
    State(st): State<AppState>,
    p: Principal,
    Path(code): Path<String>,
    Json(m): Json<vamos_store::governance::Member>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = p
        .act(&st, move |s, actor| g::add_member(s, actor, &code, &m))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Which meetings.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeetingsQuery {
    /// Código de una instancia
    pub body: Option<String>,
}

/// `GET /api/meetings`
#[utoipa::path(get, path = "/api/meetings", tag = "gobernanza",
    summary = "Las reuniones, las más recientes primero (de una instancia con body)",
    params(MeetingsQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_meetings(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<MeetingsQuery>,
) -> ApiResult<Json<Value>> {
    let list = p
        .act(&st, move |s, actor| {
            g::meetings(s, actor, q.body.as_deref())
        })
        .await?;
    Ok(Json(json!({ "items": to_json(&list)? })))
}

/// `POST /api/meetings`
#[utoipa::path(post, path = "/api/meetings", tag = "gobernanza",
    summary = "Registrar una reunión con su minuta: instancia, título, fecha (dd/mm/aaaa), lugar, horas, objetivos, temas, desarrollo, anexos, asistencia y acuerdos (texto, responsable, cuenta del responsable, fecha, vínculo a un caso, meta, AE o solicitud de cambio)",
    request_body = Object,
    responses((status = 201, description = "Creada", body = Object), (status = 409, description = "Ya registrada", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRecord.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn record_meeting(
    State(st): State<AppState>,
    p: Principal,
    Json(m): Json<MeetingInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = p
        .act(&st, move |s, actor| g::record_meeting(s, actor, &m))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `GET /api/meetings/{id}`
#[utoipa::path(get, path = "/api/meetings/{id}", tag = "gobernanza",
    summary = "Una reunión: su minuta, sus acuerdos y los pendientes de reuniones anteriores de la misma instancia",
    params(("id" = i64, Path, description = "Número de la reunión")),
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No existe", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_meeting(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let m = p.act(&st, move |s, actor| g::meeting(s, actor, id)).await?;
    Ok(Json(to_json(&m)?))
}

/// `GET /api/meetings/{id}/minuta.pdf`
#[utoipa::path(get, path = "/api/meetings/{id}/minuta.pdf", tag = "gobernanza",
    summary = "La minuta de una reunión en PDF, con la estructura de las minutas del SPS (sin insignias oficiales)",
    params(("id" = i64, Path, description = "Número de la reunión")),
    responses((status = 200, description = "PDF", content_type = "application/pdf"), (status = 404, description = "No existe", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn meeting_minutes_pdf(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let pdf = p
        .act(&st, move |s, actor| g::minutes_pdf(s, actor, id))
        .await?;
    Ok(super::pdf_download(&format!("minuta-{id}.pdf"), pdf))
}

/// Which agreements.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgreementsQuery {
    /// Código de una instancia
    pub body: Option<String>,
    /// abiertos (por defecto), vencidos o todos
    pub state: Option<String>,
}

/// `GET /api/meeting-agreements`
#[utoipa::path(get, path = "/api/meeting-agreements", tag = "gobernanza",
    summary = "Acuerdos y siguientes pasos de las reuniones: abiertos (por defecto), vencidos o todos; con responsable, fecha, estado y si está vencido",
    params(AgreementsQuery),
    responses((status = 200, description = "Correcto", body = Object), (status = 400, description = "Estado desconocido", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_meeting_agreements(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<AgreementsQuery>,
) -> ApiResult<Json<Value>> {
    let q = AgreementQuery {
        body: q.body,
        state: q.state,
    };
    let list = p
        .act(&st, move |s, actor| g::agreements(s, actor, &q))
        .await?;
    Ok(Json(json!({ "items": to_json(&list)? })))
}

/// `PATCH /api/meeting-agreements/{id}`
#[utoipa::path(patch, path = "/api/meeting-agreements/{id}", tag = "gobernanza",
    summary = "Actualizar un acuerdo: estado (pendiente, en_curso, cumplido, cancelado) con una nota y, si hace falta, responsable, fecha o vínculo",
    params(("id" = i64, Path, description = "Número del acuerdo")),
    request_body = Object,
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No existe", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRecord.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn update_meeting_agreement(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(u): Json<AgreementUpdate>,
) -> ApiResult<Json<Value>> {
    let a = p
        .act(&st, move |s, actor| g::update_agreement(s, actor, id, &u))
        .await?;
    Ok(Json(to_json(&a)?))
}

/// Which territory.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TerritoryQuery {
    /// PY (por defecto), DD o DDdd
    pub territory: Option<String>,
}

/// `GET /api/rollout`
#[utoipa::path(get, path = "/api/rollout", tag = "gobernanza",
    summary = "Despliegue territorial: los seis procesos de cada distrito con actividad o Mesa instalada (estado, fechas, coordinador, documentos, Espacios SPS) y cuántos distritos completó cada proceso",
    params(TerritoryQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_rollout(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<TerritoryQuery>,
) -> ApiResult<Json<Value>> {
    let v = p
        .act(&st, move |s, actor| {
            vamos_app::rollout::national(s, actor, q.territory.as_deref())
        })
        .await?;
    Ok(Json(to_json(&v)?))
}

/// `GET /api/rollout/{district}`
#[utoipa::path(get, path = "/api/rollout/{district}", tag = "gobernanza",
    summary = "Los seis procesos del despliegue de un distrito y sus Espacios SPS",
    params(("district" = String, Path, description = "Distrito DDdd")),
    responses((status = 200, description = "Correcto", body = Object), (status = 400, description = "Distrito inválido", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_rollout(
    State(st): State<AppState>,
    p: Principal,
    Path(district): Path<String>,
) -> ApiResult<Json<Value>> {
    let v = p
        .act(&st, move |s, actor| {
            vamos_app::rollout::district(s, actor, &district)
        })
        .await?;
    Ok(Json(to_json(&v)?))
}

/// `PUT /api/rollout/{district}/{process}`
#[utoipa::path(put, path = "/api/rollout/{district}/{process}", tag = "gobernanza",
    summary = "Actualizar un proceso del despliegue de un distrito: estado (pendiente, en_curso, completado: con al menos un documento), fechas, coordinador, documento de evidencia, nota",
    params(("district" = String, Path, description = "Distrito DDdd"), ("process" = i64, Path, description = "Proceso, de 1 a 6")),
    request_body = Object,
    responses((status = 200, description = "Correcto", body = Object), (status = 403, description = "Fuera de su ámbito", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRecord.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn update_rollout(
    State(st): State<AppState>,
    p: Principal,
    Path((district, process)): Path<(String, i64)>,
    Json(b): Json<vamos_app::rollout::StepInput>,
) -> ApiResult<Json<Value>> {
    let v = p
        .act(&st, move |s, actor| {
            vamos_app::rollout::update(s, actor, &district, process, &b)
        })
        .await?;
    Ok(Json(to_json(&v)?))
}

/// `GET /api/priorities`
#[utoipa::path(get, path = "/api/priorities", tag = "gobernanza",
    summary = "Prioridades comunitarias (paso 1D) de cada distrito de un territorio: comunidades que ubicaron cada necesidad en 1.º, 2.º y 3.er lugar, participantes, puntaje ponderado y vínculos a AE o presupuesto",
    params(TerritoryQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_priorities(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<TerritoryQuery>,
) -> ApiResult<Json<Value>> {
    let v = p
        .act(&st, move |s, actor| {
            vamos_app::priorities::all(s, actor, q.territory.as_deref())
        })
        .await?;
    let items: Vec<Value> = v
        .into_iter()
        .map(|(code, name, list)| json!({"district": code, "name": name, "priorities": list}))
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/priorities/{district}`
#[utoipa::path(get, path = "/api/priorities/{district}", tag = "gobernanza",
    summary = "Las prioridades comunitarias de un distrito, las más pedidas primero, junto a su Logro de Entorno",
    params(("district" = String, Path, description = "Distrito DDdd")),
    responses((status = 200, description = "Correcto", body = Object), (status = 400, description = "Distrito inválido", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn get_priorities(
    State(st): State<AppState>,
    p: Principal,
    Path(district): Path<String>,
) -> ApiResult<Json<Value>> {
    let v = p
        .act(&st, move |s, actor| {
            vamos_app::priorities::district(s, actor, &district)
        })
        .await?;
    Ok(Json(to_json(&v)?))
}

/// `GET /api/priorities.csv`
#[utoipa::path(get, path = "/api/priorities.csv", tag = "gobernanza",
    summary = "Las prioridades comunitarias de cada distrito de un territorio en CSV (celdas neutralizadas)",
    params(TerritoryQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv")),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn priorities_csv(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<TerritoryQuery>,
) -> ApiResult<Response> {
    let csv = p
        .act(&st, move |s, actor| {
            vamos_app::priorities::csv(s, actor, q.territory.as_deref())
        })
        .await?;
    Ok(super::csv_download("prioridades-comunitarias.csv", csv))
}

/// `POST /api/priorities/links`
#[utoipa::path(post, path = "/api/priorities/links", tag = "gobernanza",
    summary = "Vincular una prioridad de un distrito a una acción estratégica (kind ae, su código) o a una línea presupuestaria (kind presupuesto, su número)",
    request_body = Object,
    responses((status = 200, description = "Correcto", body = Object), (status = 400, description = "No existe lo vinculado", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::PlansEdit.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn link_priority(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<vamos_app::priorities::LinkInput>,
) -> ApiResult<Json<Value>> {
    let new = p
        .act(&st, move |s, actor| {
            vamos_app::priorities::link(s, actor, &b)
        })
        .await?;
    Ok(Json(json!({ "new": new })))
}

/// When a membership ends.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EndMember {
    /// La fecha (dd/mm/aaaa o AAAA-MM-DD)
    pub until: String,
}

/// `POST /api/bodies/{code}/members/{id}/end`
#[utoipa::path(post, path = "/api/bodies/{code}/members/{id}/end", tag = "gobernanza",
    summary = "Terminar la membresía de un miembro: deja de recibir los avisos de los acuerdos vencidos de la instancia",
    params(("code" = String, Path, description = "Código de la instancia"), ("id" = i64, Path, description = "Número del miembro")),
    request_body = EndMember,
    responses((status = 200, description = "Correcto", body = Object), (status = 404, description = "No es un miembro vigente", body = crate::error::ErrorBody)),
    extensions(("x-vamos-permission" = json!(Permission::GovernanceRecord.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn end_body_member(
    State(st): State<AppState>,
    p: Principal,
    Path((code, id)): Path<(String, i64)>,
    Json(b): Json<EndMember>,
) -> ApiResult<Json<Value>> {
    let until = b.until.clone();
    p.act(&st, move |s, actor| {
        g::end_member(s, actor, &code, id, &b.until)
    })
    .await?;
    Ok(Json(json!({ "id": id, "until": until })))
}
