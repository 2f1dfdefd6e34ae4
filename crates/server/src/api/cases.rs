//! Canal Verde cases: the candidates of a territory, the cases within the account's scope, one
//! case with its plan and timeline, and every step of following it — open, assign, check the
//! plan against a classification, record a protocol step or a barrier, note a visit, close,
//! approve another person's ending, reopen. The rules are in `vamos_app::cases`.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::cases::{self as c, TaskAction};
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cases, open_case))
        .routes(routes!(case_candidates))
        .routes(routes!(show_case))
        .routes(routes!(check_case))
        .routes(routes!(assign_case))
        .routes(routes!(case_task))
        .routes(routes!(case_note))
        .routes(routes!(close_case))
        .routes(routes!(approve_case_ending))
        .routes(routes!(reopen_case))
        .routes(routes!(accept_case))
        .routes(routes!(case_notifications))
        .routes(routes!(case_figures))
}

/// The territory of a candidates list.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidatesQuery {
    /// PY, DD o DDdd (por defecto, todo el ámbito de la cuenta)
    pub territory: Option<String>,
    /// A lo sumo cuántas (por defecto y como máximo 5000), mayor prioridad primero
    pub limit: Option<i64>,
}

/// `GET /api/cases/candidates`
#[utoipa::path(get, path = "/api/cases/candidates", tag = "casos",
    summary = "Candidatas a Canal Verde: unidades que cumplen los criterios del catálogo, prioridad alta primero, con sus motivos",
    params(CandidatesQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn case_candidates(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<CandidatesQuery>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let (items, total) = p
        .act(&st, move |s, actor| {
            c::candidates_page(s, actor, &cat, q.territory.as_deref(), q.limit)
        })
        .await?;
    Ok(Json(json!({ "total": total, "items": items })))
}

/// Which cases to list.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Distrito (DDdd)
    pub territory: Option<String>,
    /// abierto, en_seguimiento, plan_completo, cierre_pendiente o cerrado
    pub status: Option<String>,
    /// También los cerrados
    pub all: Option<bool>,
    /// Hasta cuántos (200 por defecto)
    pub limit: Option<i64>,
}

/// `GET /api/cases`
#[utoipa::path(get, path = "/api/cases", tag = "casos",
    summary = "Casos dentro del ámbito de la cuenta (abiertos, salvo all o status), prioridad primero",
    params(ListParams),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_cases(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let q = c::ListQuery {
        territory: q.territory,
        status: q.status,
        all: q.all,
        limit: q.limit,
    };
    let out = p.act(&st, move |s, actor| c::list(s, actor, &q)).await?;
    Ok(Json(json!({ "items": out })))
}

/// A case to open.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// persona, hogar o comunidad
    pub unit_kind: String,
    /// Número interno de la unidad
    pub unit_id: i64,
    /// Por qué se abre
    pub reason: String,
    /// candidato, referencia, mesa (predeterminado), alerta_comunitaria, orientacion o reclamo
    pub origin: Option<String>,
    /// Ruta de protocolo de emergencia del catálogo de Canal Verde
    pub protocol: Option<String>,
}

/// `POST /api/cases`
#[utoipa::path(post, path = "/api/cases", tag = "casos",
    summary = "Abrir un caso: su plan es una tarea por servicio sin proteger (con su referencia) más los pasos del protocolo",
    request_body = OpenBody,
    responses(
        (status = 200, description = "Abierto", body = Object),
        (status = 404, description = "Unidad no encontrada (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "La unidad ya tiene un caso abierto", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesOpen.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn open_case(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<OpenBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let o = c::OpenCase {
        unit_kind: b.unit_kind,
        unit_id: b.unit_id,
        reason: b.reason,
        origin: b.origin,
        protocol: b.protocol,
    };
    let id = p
        .act(&st, move |s, actor| c::open(s, actor, &cat, &o))
        .await?;
    Ok(Json(json!({ "id": id })))
}

/// `GET /api/cases/{id}`
#[utoipa::path(get, path = "/api/cases/{id}", tag = "casos",
    summary = "Un caso: su plan (tareas con institución, plazo y estado) y su historia",
    params(("id" = i64, Path, description = "Número del caso")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn show_case(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| c::show(s, actor, &cat, id))
        .await?;
    Ok(Json(v))
}

/// `POST /api/cases/{id}/check`
#[utoipa::path(post, path = "/api/cases/{id}/check", tag = "casos",
    summary = "Verificar el plan contra la clasificación de hoy: qué servicios ya están protegidos y si el plan está completo",
    params(("id" = i64, Path, description = "Número del caso")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn check_case(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| c::check(s, actor, &cat, id))
        .await?;
    Ok(Json(v))
}

/// To whom a case is assigned.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// Cuenta responsable (miembro de la Mesa)
    pub to: Option<String>,
    /// Institución responsable (código del catálogo)
    pub institution: Option<String>,
}

/// `POST /api/cases/{id}/assign`
#[utoipa::path(post, path = "/api/cases/{id}/assign", tag = "casos",
    summary = "Asignar el caso a un miembro de la Mesa y/o a una institución",
    params(("id" = i64, Path, description = "Número del caso")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "El caso está cerrado o cambió mientras tanto", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn assign_case(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<AssignBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| {
            c::assign(
                s,
                actor,
                &cat,
                id,
                b.to.as_deref(),
                b.institution.as_deref(),
            )?;
            c::show(s, actor, &cat, id)
        })
        .await?;
    Ok(Json(v))
}

/// Progress on one task.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    /// Un paso de protocolo cumplido
    #[serde(default)]
    pub done: bool,
    /// Una barrera de acceso: documentos, distancia, idioma, costo, accesibilidad, rechazo_institucional, informacion u otra
    pub barrier: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// `POST /api/cases/{id}/tasks/{task}`
#[utoipa::path(post, path = "/api/cases/{id}/tasks/{task}", tag = "casos",
    summary = "Registrar un paso de protocolo cumplido o una barrera de acceso en una tarea",
    params(("id" = i64, Path, description = "Número del caso"), ("task" = i64, Path, description = "Número de la tarea")),
    request_body = TaskBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 400, description = "Una tarea de servicio se cumple con la contra-referencia, no a mano", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn case_task(
    State(st): State<AppState>,
    p: Principal,
    Path((id, task)): Path<(i64, i64)>,
    Json(b): Json<TaskBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let action = match (b.done, b.barrier) {
        (true, _) => TaskAction::Done { note: b.note },
        (false, Some(code)) => TaskAction::Barrier { code, note: b.note },
        _ => {
            return Err(crate::error::ApiError::bad_request(
                "indique done: true o una barrera",
            ))
        }
    };
    let v = p
        .act(&st, move |s, actor| {
            c::task(s, actor, &cat, id, task, &action)?;
            c::show(s, actor, &cat, id)
        })
        .await?;
    Ok(Json(v))
}

/// A visit, a contact or a note.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// visita, contacto o nota
    pub kind: Option<String>,
    pub text: String,
}

/// `POST /api/cases/{id}/notes`
#[utoipa::path(post, path = "/api/cases/{id}/notes", tag = "casos",
    summary = "Anotar una visita, un contacto o una nota en la historia del caso",
    params(("id" = i64, Path, description = "Número del caso")),
    request_body = NoteBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn case_note(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<NoteBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| {
            c::note(s, actor, id, b.kind.as_deref().unwrap_or("nota"), &b.text)?;
            c::show(s, actor, &cat, id)
        })
        .await?;
    Ok(Json(v))
}

/// How a case ends.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// protegido (predeterminado: lo verifica la clasificación), mudanza, fallecimiento, rechazo o sin_contacto
    pub ending: Option<String>,
    /// Motivo (obligatorio salvo protegido)
    pub reason: Option<String>,
}

/// `POST /api/cases/{id}/close`
#[utoipa::path(post, path = "/api/cases/{id}/close", tag = "casos",
    summary = "Cerrar: como protegido solo si la clasificación de hoy verifica cada servicio del plan; otro cierre espera la aprobación de otra persona",
    params(("id" = i64, Path, description = "Número del caso")),
    request_body = CloseBody,
    responses(
        (status = 200, description = "Cerrado o pendiente de aprobación", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "Falta verificar servicios del plan (los enumera)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn close_case(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<CloseBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let st2 = p
        .act(&st, move |s, actor| {
            c::close(s, actor, &cat, id, b.ending.as_deref(), b.reason.as_deref())
        })
        .await?;
    Ok(Json(
        json!({ "id": id, "status": st2.code(), "status_label": st2.label() }),
    ))
}

/// A decision on another person's ending.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// false: rechazar el cierre (el caso vuelve a seguimiento)
    pub accept: Option<bool>,
    pub reason: Option<String>,
}

/// `POST /api/cases/{id}/approve`
#[utoipa::path(post, path = "/api/cases/{id}/approve", tag = "casos",
    summary = "Aprobar o rechazar el cierre que pidió otra persona (nunca el propio)",
    params(("id" = i64, Path, description = "Número del caso")),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 403, description = "Quien pidió el cierre no puede aprobarlo", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesApprove.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn approve_case_ending(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<ApproveBody>,
) -> ApiResult<Json<Value>> {
    let st2 = p
        .act(&st, move |s, actor| {
            c::approve(s, actor, id, b.accept.unwrap_or(true), b.reason.as_deref())
        })
        .await?;
    Ok(Json(
        json!({ "id": id, "status": st2.code(), "status_label": st2.label() }),
    ))
}

/// Why a case is reopened.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    pub reason: String,
}

/// `POST /api/cases/{id}/reopen`
#[utoipa::path(post, path = "/api/cases/{id}/reopen", tag = "casos",
    summary = "Reabrir un caso cerrado (su historia se conserva)",
    params(("id" = i64, Path, description = "Número del caso")),
    request_body = ReopenBody,
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "No está cerrado, o la unidad tiene otro caso abierto", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn reopen_case(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<ReopenBody>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| {
            c::reopen(s, actor, id, &b.reason)?;
            c::show(s, actor, &cat, id)
        })
        .await?;
    Ok(Json(v))
}

/// `POST /api/cases/{id}/accept`
#[utoipa::path(post, path = "/api/cases/{id}/accept", tag = "casos",
    summary = "Aceptar un caso ofrecido al distrito de la cuenta (el hogar se mudó a él)",
    params(("id" = i64, Path, description = "Número del caso")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 403, description = "El caso se ofreció a otro distrito", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "El caso no fue ofrecido, o está cerrado", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CasesWork.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn accept_case(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let cat = st.catalogue.clone();
    let v = p
        .act(&st, move |s, actor| {
            c::accept(s, actor, id)?;
            c::show(s, actor, &cat, id)
        })
        .await?;
    Ok(Json(v))
}

/// `GET /api/cases/notifications`
#[utoipa::path(get, path = "/api/cases/notifications", tag = "casos",
    summary = "Avisos de la cuenta: tareas vencidas, casos sin responsable, planes atendidos o completos, cierres por aprobar, casos ofrecidos",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn case_notifications(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Value>> {
    let out = p
        .act(&st, |s, actor| {
            actor.require(Permission::CasesRead)?;
            c::notifications(s, actor)
        })
        .await?;
    Ok(Json(json!({ "total": out.len(), "items": out })))
}

/// The territory of the figures.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiguresQuery {
    /// PY, DD o DDdd (por defecto, todo el ámbito de la cuenta)
    pub territory: Option<String>,
}

/// `GET /api/cases/figures`
#[utoipa::path(get, path = "/api/cases/figures", tag = "casos",
    summary = "Cifras de los casos: abiertos, cerrados, con protección verificada, mediana de días hasta la protección, por tipo de unidad",
    params(FiguresQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::CasesRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn case_figures(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<Json<Value>> {
    let f = p
        .act(&st, move |s, actor| {
            c::figures(s, actor, q.territory.as_deref())
        })
        .await?;
    Ok(Json(json!(f)))
}
