//! Change requests (`/api/change-requests`): create (JSON, or multipart with documents), list
//! within the caller's territories (JSON or CSV), one with its before/after preview, approve,
//! reject, and download a document. The rules, scope and audit are `vamos_app::changes`'.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::changes as ch;
use vamos_domain::Permission;

/// Every route but the creation (which takes documents: the upload limit).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests))
        .routes(routes!(get_request))
        .routes(routes!(approve_request))
        .routes(routes!(reject_request))
        .routes(routes!(get_attachment))
}

/// The creation, with documents up to 10 MB each (the upload body limit).
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_request))
}

/// A change request: type, units, new values, effect, reason.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[allow(dead_code)] // reason: documents the body; the handler reads it as vamos_app's input
pub struct NewChangeRequest {
    /// Tipo (agregar_miembro, retirar_miembro, trasladar_miembro, cambiar_jefe, mudar_hogar,
    /// corregir_persona, marcar_fallecimiento, dividir_hogar, fusionar_personas,
    /// fusionar_hogares)
    pub tipo: String,
    /// Números de las unidades, en el orden del tipo (p. ej. duplicado y luego sobreviviente)
    pub unidades: Vec<i64>,
    /// Valores nuevos (campo → valor)
    #[schema(value_type = Object)]
    pub valores: Option<Value>,
    /// correccion o cambio
    pub efecto: String,
    /// Fecha desde la que vale un cambio (AAAA-MM-DD o dd/mm/aaaa)
    pub desde: Option<String>,
    /// Motivo; hasta 2000 caracteres
    #[schema(max_length = 2000)]
    pub motivo: String,
    /// Reclamo que origina la solicitud, si alguno
    pub reclamo: Option<i64>,
}

/// The multipart form: `solicitud` (the JSON of [`NewChangeRequest`]), then pairs of
/// `documento` (a document kind: cedula, certificado_nacimiento, certificado_defuncion,
/// declaracion, otro) and `adjunto` (the file: PDF, JPEG or PNG, up to 10 MB).
#[derive(ToSchema)]
#[allow(dead_code)] // reason: describes the body; the handler reads it part by part
pub struct NewChangeRequestForm {
    pub solicitud: String,
    pub documento: Vec<String>,
    #[schema(value_type = Vec<String>, format = Binary)]
    pub adjunto: Vec<Vec<u8>>,
}

/// Reads a multipart request form (`solicitud`, `documento`, `adjunto`…) into the use case's
/// input; shared with the web form.
pub(crate) async fn read_form(
    mut form: Multipart,
    json_part: &str,
) -> Result<(Option<ch::RequestInput>, Vec<(String, String)>), ApiError> {
    let mut input: Option<ch::RequestInput> = None;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut kinds: Vec<String> = Vec::new();
    let mut files: Vec<ch::AttachmentInput> = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(unreadable(&e)),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "adjunto" {
            let file_name = field.file_name().unwrap_or("documento").to_string();
            let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
            if bytes.is_empty() {
                continue;
            }
            if bytes.len() > ch::MAX_ATTACHMENT {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "adjunto_muy_grande",
                    format!(
                        "el documento «{}» pesa más de 10 MB",
                        vamos_domain::limits::echo(&file_name)
                    ),
                ));
            }
            files.push(ch::AttachmentInput {
                document_kind: String::new(),
                file_name,
                content: bytes.to_vec(),
            });
            continue;
        }
        let text = field.text().await.unwrap_or_default();
        if name == json_part {
            input = Some(serde_json::from_str(&text).map_err(|e| {
                ApiError::bad_request(format!(
                    "«{json_part}» no es una solicitud válida: {}",
                    invalid_json(&e)
                ))
            })?);
        } else if name == "documento" {
            kinds.push(text.trim().to_string());
        } else if fields.len() < 64 {
            fields.push((name, text));
        }
    }
    for (i, f) in files.iter_mut().enumerate() {
        f.document_kind = kinds
            .get(i)
            .or(kinds.first())
            .cloned()
            .unwrap_or_else(|| "otro".into());
    }
    let input = match input {
        Some(mut i) => {
            i.adjuntos = files;
            Some(i)
        }
        None if !files.is_empty() => Some(ch::RequestInput {
            adjuntos: files,
            ..Default::default()
        }),
        None => None,
    };
    Ok((input, fields))
}

/// `POST /api/change-requests`: JSON (no documents) or multipart (with documents).
#[utoipa::path(post, path = "/api/change-requests", tag = "solicitudes de cambio",
    summary = "Solicitar un cambio al registro (queda pendiente de aprobación por otra cuenta); con documentos, como multipart",
    request_body(content(
        (NewChangeRequest = "application/json"),
        (NewChangeRequestForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "Creada, con su vista previa", body = Object),
        (status = 404, description = "Unidad no encontrada (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "Ya hay una solicitud abierta sobre la misma unidad y campo", body = crate::error::ErrorBody),
        (status = 413, description = "Documento de más de 10 MB", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ChangesRequest.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn create_request(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let input: ch::RequestInput = if ctype.starts_with("multipart/form-data") {
        let form = <Multipart as axum::extract::FromRequest<AppState>>::from_request(body, &st)
            .await
            .map_err(|e| {
                ApiError::new(
                    e.status(),
                    "envio_ilegible",
                    "el envío no es un formulario multipart válido",
                )
            })?;
        read_form(form, "solicitud")
            .await?
            .0
            .ok_or_else(|| ApiError::bad_request("falta la parte «solicitud» (JSON)"))?
    } else {
        // Reading fails when the body passes the limit (or the client goes away meanwhile).
        let bytes = axum::body::to_bytes(body.into_body(), ch::MAX_ATTACHMENT)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "envio_muy_grande",
                    "la solicitud supera 10 MB",
                )
            })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("solicitud inválida: {}", invalid_json(&e)))
        })?
    };
    let out = p
        .act(&st, move |s, actor| ch::request(s, actor, &input))
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Filters of the list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeListQuery {
    /// pendiente, aplicada o rechazada
    pub estado: Option<String>,
    /// Un tipo de solicitud
    pub tipo: Option<String>,
    /// Solicitudes con número menor (página siguiente)
    pub antes: Option<i64>,
    /// Cuántas (hasta 500)
    pub limite: Option<i64>,
    /// `csv` para descargar la lista como CSV
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/api/change-requests", tag = "solicitudes de cambio",
    summary = "Solicitudes de cambio del ámbito de la cuenta, las más nuevas primero (JSON o CSV)",
    params(ChangeListQuery),
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(Permission::ChangesRequest.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn list_requests(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ChangeListQuery>,
) -> ApiResult<Response> {
    let csv = q.format.as_deref() == Some("csv");
    let query = ch::ListQuery {
        estado: q.estado,
        tipo: q.tipo,
        antes: q.antes,
        limite: q.limite,
    };
    if csv {
        let text = p
            .act(&st, move |s, actor| ch::export_csv(s, actor, &query))
            .await?;
        return Ok(super::csv_download("solicitudes-de-cambio.csv", text));
    }
    let rows = p
        .act(&st, move |s, actor| ch::list(s, actor, &query))
        .await?;
    Ok(Json(serde_json::json!({ "items": rows })).into_response())
}

#[utoipa::path(get, path = "/api/change-requests/{id}", tag = "solicitudes de cambio",
    summary = "Una solicitud con sus aprobaciones, documentos y la vista previa (antes/después de cada versión que escribe)",
    params(("id" = i64, Path, description = "Número de la solicitud")),
    responses(
        (status = 200, description = "Correcto", body = Object),
        (status = 404, description = "No encontrada (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ChangesRequest.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_request(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        p.act(&st, move |s, actor| ch::show(s, actor, id)).await?,
    ))
}

#[utoipa::path(post, path = "/api/change-requests/{id}/approve", tag = "solicitudes de cambio",
    summary = "Aprobar una solicitud (nunca la propia); la última aprobación requerida la aplica como versiones nuevas",
    params(("id" = i64, Path, description = "Número de la solicitud")),
    responses(
        (status = 200, description = "Aprobada (o aplicada)", body = Object),
        (status = 403, description = "Su propia solicitud, o un rol que no aprueba este tipo", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrada (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
        (status = 409, description = "La unidad cambió desde la solicitud, o ya fue decidida", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ChangesApprove.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn approve_request(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (slot, catalogue) = (st.resident.clone(), st.catalogue.clone());
    let v = p
        .act(&st, move |s, actor| {
            approve_following(&slot, &catalogue, s, actor, id)
        })
        .await?;
    st.access_wake.notify_one();
    Ok(Json(v))
}

/// Approves request `id` with the server's catalogue and in-memory registry, so that an
/// applied change reaches the latest measurement's Logros at once; the copy it drops is read
/// again by the Logros updater (wake it afterwards), as after an import.
pub(crate) fn approve_following(
    slot: &crate::state::ResidentSlot,
    catalogue: &vamos_catalogue::Catalogue,
    s: &mut dyn vamos_store::Store,
    actor: &vamos_app::Actor,
    id: i64,
) -> Result<Value, vamos_app::Error> {
    let mut copy = slot.copy.lock().ok().and_then(|mut c| c.take());
    let had = copy.is_some();
    let out = ch::approve(
        s,
        actor,
        id,
        ch::Follow {
            catalogue,
            resident: &mut copy,
        },
    );
    match copy {
        Some(c) => {
            if let Ok(mut g) = slot.copy.lock() {
                *g = Some(c);
            }
        }
        None if had => slot.persons.store(0, std::sync::atomic::Ordering::Relaxed),
        None => {}
    }
    out
}

/// The reason of a rejection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Rejection {
    /// Motivo del rechazo; hasta 2000 caracteres
    #[schema(max_length = 2000)]
    pub motivo: String,
}

#[utoipa::path(post, path = "/api/change-requests/{id}/reject", tag = "solicitudes de cambio",
    summary = "Rechazar una solicitud con un motivo (nunca la propia)",
    params(("id" = i64, Path, description = "Número de la solicitud")),
    request_body = Rejection,
    responses(
        (status = 200, description = "Rechazada", body = Object),
        (status = 403, description = "Su propia solicitud, o un rol que no decide este tipo", body = crate::error::ErrorBody),
        (status = 404, description = "No encontrada (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ChangesApprove.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn reject_request(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(r): Json<Rejection>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        p.act(&st, move |s, actor| ch::reject(s, actor, id, &r.motivo))
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/change-requests/{id}/attachments/{n}", tag = "solicitudes de cambio",
    summary = "Descargar un documento de una solicitud (auditado como dato personal)",
    params(("id" = i64, Path, description = "Número de la solicitud"), ("n" = i64, Path, description = "Número del documento (1, 2, …)")),
    responses(
        (status = 200, description = "El documento (PDF, JPEG o PNG)", content_type = "application/octet-stream"),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::ChangesRequest.code())), ("x-vamos-personal-data" = json!(true))))]
pub async fn get_attachment(
    State(st): State<AppState>,
    p: Principal,
    Path((id, n)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let d = p
        .act(&st, move |s, actor| ch::attachment(s, actor, id, n))
        .await?;
    Ok(attachment_response(id, n, d))
}

/// A request's document as a download (API and web page alike): its type, a file name with
/// the extension of that type, and `nosniff` so no browser reads it as anything else.
pub(crate) fn attachment_response(id: i64, n: i64, d: ch::Download) -> Response {
    let ext = match d.media_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    (
        [
            (header::CONTENT_TYPE, d.media_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"solicitud-{id}-documento-{n}.{ext}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        d.content,
    )
        .into_response()
}

/// A multipart body that could not be read, in Spanish, with the status axum gives it (413 past
/// the limit).
fn unreadable(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "envio_muy_grande",
            "el envío supera el tamaño permitido (documentos de hasta 10 MB)",
        )
    } else {
        ApiError::new(
            e.status(),
            "envio_ilegible",
            "el envío no se pudo leer: el formulario está incompleto o mal armado",
        )
    }
}

/// What is wrong with a JSON body, in Spanish.
fn invalid_json(e: &serde_json::Error) -> String {
    crate::error::serde_detail(&e.to_string()).unwrap_or_else(|| "el JSON no es válido".into())
}
