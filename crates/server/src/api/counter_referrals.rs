//! Counter-referrals: a service delivered, reported by an institution — one event, a JSON
//! batch or a file (CSV in any encoding and separator, or XLSX). Checked in parallel on the
//! pool, stored by the single writer of `vamos_app::counter_referrals::intake`; idempotent by
//! event id. The batch and file routes ([`uploads`]) take the upload body limit.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::counter_referrals::intake::{self, Checking};
use vamos_app::counter_referrals::{self as cr};
use vamos_domain::Permission;
use vamos_ingest::counter_referrals::{parse_json, EventInput, Located};

/// One event (the request body limit).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_one))
}

/// Batches and files (the upload body limit).
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_batch))
        .routes(routes!(post_file))
}

/// A service delivered. The person: `person_id` (SIIS) or `cedula`. Idempotent by
/// (institution, `event_id`). The Spanish column names of the files are accepted as aliases.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterReferral {
    /// Id del evento en el sistema de la institución
    #[serde(alias = "id_evento")]
    #[schema(max_length = 100)]
    pub event_id: Option<String>,
    /// Código de la institución (por defecto, la de la cuenta)
    #[serde(default, alias = "institucion")]
    #[schema(max_length = 100)]
    pub institution: Option<String>,
    /// Número de persona del SIIS
    #[serde(default, alias = "persona_id")]
    #[schema(schema_with = text_or_number)]
    pub person_id: Option<Value>,
    /// Cédula de identidad
    #[serde(default)]
    #[schema(schema_with = text_or_number)]
    pub cedula: Option<Value>,
    /// Código del servicio prestado (ej. control_prenatal)
    #[serde(alias = "servicio")]
    #[schema(max_length = 100)]
    pub service: Option<String>,
    /// Fecha de entrega: AAAA-MM-DD o dd/mm/aaaa
    #[serde(alias = "fecha_entrega")]
    pub delivered_on: Option<String>,
    /// Lugar (establecimiento); hasta 200 caracteres (`vamos_domain::limits::PLACE`)
    #[serde(default, alias = "lugar")]
    #[schema(max_length = 200)]
    pub place: Option<String>,
    /// Distrito del lugar (DDdd)
    #[serde(default, alias = "distrito_lugar")]
    #[schema(schema_with = text_or_number)]
    pub place_district: Option<Value>,
}

/// Numbers and text are both accepted where institutions' systems differ (ids, cédulas,
/// district codes); they are read as text, as in files.
fn text_or_number() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([
        Type::String,
        Type::Integer,
        Type::Null,
    ]))
}

/// As `vamos_ingest` reads a JSON event: a number becomes its text, `null` nothing.
fn text(v: Option<Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    }
}

impl From<CounterReferral> for EventInput {
    fn from(e: CounterReferral) -> Self {
        EventInput {
            event_id: e.event_id,
            institution: e.institution,
            person_id: text(e.person_id),
            cedula: text(e.cedula),
            service: e.service,
            delivered_on: e.delivered_on,
            place: e.place,
            place_district: text(e.place_district),
        }
    }
}

/// A batch: `{"events": [...]}` or the list alone. Documents the body that
/// `vamos_ingest::counter_referrals::parse_json` reads (it names the event that does not
/// parse, so the body is taken as bytes rather than through this type).
#[derive(ToSchema)]
#[allow(dead_code)] // reason: describes the body; the handler reads it with parse_json
pub struct CounterReferralBatch {
    pub events: Vec<CounterReferral>,
}

/// A CSV file: columns id_evento, institucion, persona_id o cedula, servicio, fecha_entrega,
/// lugar, distrito_lugar.
#[derive(ToSchema)]
#[allow(dead_code)] // reason: describes the body; the handler reads it as bytes
pub struct CounterReferralFile(String);

/// An XLSX workbook with the columns of [`CounterReferralFile`].
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // reason: describes the body; the handler reads it as bytes
pub struct CounterReferralWorkbook(Vec<u8>);

/// One rejected event: where, which field, which value, why.
#[derive(Serialize, ToSchema)]
pub struct EventError {
    pub file: String,
    pub row: u64,
    pub event_id: Option<String>,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl From<cr::EventError> for EventError {
    fn from(e: cr::EventError) -> Self {
        EventError {
            file: e.file,
            row: e.row,
            event_id: e.event_id,
            column: e.column,
            value: e.value,
            reason: e.reason,
        }
    }
}

/// The outcome of one event.
#[derive(Serialize, ToSchema)]
pub struct EventResult {
    pub row: u64,
    pub event_id: Option<String>,
    /// aceptado, duplicado o rechazado
    pub status: &'static str,
    pub counter_referral_id: Option<i64>,
    /// La referencia que este evento respondió, si alguna
    pub referral_id: Option<i64>,
}

impl From<cr::EventResult> for EventResult {
    fn from(r: cr::EventResult) -> Self {
        EventResult {
            row: r.row,
            event_id: r.event_id,
            status: r.status,
            counter_referral_id: r.counter_referral_id,
            referral_id: r.referral_id,
        }
    }
}

/// What a batch or a file did.
#[derive(Serialize, ToSchema)]
pub struct IngestReport {
    pub received: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Aceptados que respondieron una referencia abierta (o vencida)
    pub answered_referrals: u64,
    /// Aceptados de personas sin referencia abierta (búsqueda activa)
    pub without_referral: u64,
    /// Aceptados guardados en el registro de entrada: durables, se aplican enseguida (su
    /// referral_id no se conoce en esta respuesta)
    pub deferred: u64,
    pub errors: Vec<EventError>,
    pub results: Vec<EventResult>,
}

impl From<cr::IngestSummary> for IngestReport {
    fn from(s: cr::IngestSummary) -> Self {
        IngestReport {
            received: s.received,
            accepted: s.accepted,
            duplicates: s.duplicates,
            rejected: s.rejected,
            answered_referrals: s.answered_referrals,
            without_referral: s.without_referral,
            deferred: s.deferred,
            errors: s.errors.into_iter().map(EventError::from).collect(),
            results: s.results.into_iter().map(EventResult::from).collect(),
        }
    }
}

/// The answer to one event: its result and, if rejected, the reasons.
#[derive(Serialize, ToSchema)]
pub struct EventAnswer {
    pub result: Option<EventResult>,
    pub errors: Vec<EventError>,
}

/// Checks and stores counter-referrals from `p` (the API's three routes and the inbox page):
/// checked in parallel on the pool (reads only), stored by the single writer, which groups
/// concurrent submissions into one durable commit (`vamos_app::counter_referrals::intake`).
pub(crate) async fn ingest(
    st: &AppState,
    p: Principal,
    events: Vec<Located>,
    channel: &'static str,
) -> ApiResult<cr::IngestSummary> {
    ingest_as(st, p.as_actor(), events, channel).await
}

/// [`ingest`] on behalf of `actor` (an orientation is sent as the UTGS's counter-referral by an
/// actor derived from the orientador's account: `vamos_app::orientations::sender`).
pub(crate) async fn ingest_as(
    st: &AppState,
    actor: vamos_app::Actor,
    events: Vec<Located>,
    channel: &'static str,
) -> ApiResult<cr::IngestSummary> {
    let catalogue = st.catalogue.clone();
    let gate = st.intake.gate();
    let places = st.places.get();
    let checking = st
        .pool
        .run(move |s| {
            Ok(intake::check_submission(
                s,
                &actor,
                &catalogue,
                &gate,
                events,
                channel,
                places.as_deref(),
            )?)
        })
        .await?;
    let summary = match checking {
        Checking::Done(sum) => sum,
        Checking::ToStore(pending) => {
            let (checked, entry) = *pending;
            st.intake.submit(checked, entry).await?
        }
    };
    if summary.accepted > 0 {
        st.access_wake.notify_one();
    }
    Ok(summary)
}

/// The answer to a submission of one event: 201 stored, 200 already received, 422 refused.
pub(crate) fn single_status(sum: &cr::IngestSummary) -> StatusCode {
    if sum.accepted == 1 {
        StatusCode::CREATED
    } else if sum.duplicates == 1 {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// `POST /api/counter-referrals`: one event. 201 accepted, 200 already received (idempotent),
/// 422 rejected with the reasons.
#[utoipa::path(post, path = "/api/counter-referrals", tag = "contra-referencias",
    summary = "Informar un servicio prestado (contra-referencia); idempotente por id de evento: 201 aceptada, 200 ya recibida, 422 rechazada con los motivos",
    request_body = CounterReferral,
    responses(
        (status = 201, description = "Correcto", body = EventAnswer),
        (status = 200, description = "Ya recibida", body = EventAnswer),
        (status = 413, description = "Demasiado grande: divida el envío", body = crate::error::ErrorBody),
        (status = 422, description = "Evento rechazado (los motivos en errors)", body = EventAnswer),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CounterReferralsWrite.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn post_one(
    State(st): State<AppState>,
    p: Principal,
    Json(e): Json<CounterReferral>,
) -> ApiResult<(StatusCode, Json<EventAnswer>)> {
    let events = vec![Located {
        file: "solicitud".into(),
        row: 1,
        event: e.into(),
    }];
    let sum = ingest(&st, p, events, "api").await?;
    let status = single_status(&sum);
    let result = sum.results.first().cloned().map(EventResult::from);
    let errors = sum.errors.into_iter().map(EventError::from).collect();
    Ok((status, Json(EventAnswer { result, errors })))
}

/// `POST /api/counter-referrals/batch`: a JSON list of events (or `{"events": [...]}`); the
/// valid ones are committed together, each invalid one is reported.
#[utoipa::path(post, path = "/api/counter-referrals/batch", tag = "contra-referencias",
    summary = "Lote de contra-referencias: se guardan juntas las válidas y se informa cada inválida (fila, columna, valor, motivo); un lote de más de 256 eventos pasa por el registro de entrada: aceptado y durable, su referencia se responde al aplicarlo, enseguida (`deferred` los cuenta)",
    request_body = CounterReferralBatch,
    responses(
        (status = 200, description = "Correcto", body = IngestReport),
        (status = 413, description = "Demasiado grande: divida el envío", body = crate::error::ErrorBody),
        (status = 422, description = "Evento rechazado (los motivos en errors)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CounterReferralsWrite.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn post_batch(
    State(st): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    let events = parse_json("lote", &body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(ingest(&st, p, events, "lote").await?.into()))
}

/// `POST /api/counter-referrals/file`: a CSV (any encoding, `,` or `;`) or XLSX file as the
/// body (`Content-Type: text/csv` or the XLSX type).
#[utoipa::path(post, path = "/api/counter-referrals/file", tag = "contra-referencias",
    summary = "Archivo de contra-referencias (CSV en cualquier codificación y separador, o XLSX) como cuerpo de la solicitud",
    request_body(content(
        (CounterReferralFile = "text/csv"),
        (CounterReferralWorkbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )),
    responses(
        (status = 200, description = "Correcto", body = IngestReport),
        (status = 413, description = "Demasiado grande: divida el envío", body = crate::error::ErrorBody),
        (status = 422, description = "Evento rechazado (los motivos en errors)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::CounterReferralsWrite.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn post_file(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ext = if ct.contains("spreadsheetml") {
        "xlsx"
    } else if ct.contains("json") {
        "json"
    } else {
        "csv"
    };
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join(format!("contrarreferencias.{ext}"));
    std::fs::write(&path, &body).map_err(ApiError::internal)?;
    let events = tokio::task::spawn_blocking(move || vamos_ingest::counter_referrals::read(&path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(ingest(&st, p, events, "archivo").await?.into()))
}
