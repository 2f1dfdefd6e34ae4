//! The DCI Social Registry API (`standards/dci/social_api_v1.0.0.yaml`), served under
//! a configurable base path (default `/dci`): synchronous and asynchronous search (results
//! POSTed back to the sender's callback URL), transaction status, subscribe / unsubscribe and
//! notifications of new registrations, with the standard's envelope, query types, pagination,
//! error codes and status reason codes.
//!
//! Who may call: an API token with the `dci` scope whose account is registered as the
//! `sender_id` of the message (`vamos dci sender add`); the sender's territorial scope and its
//! institution's data-sharing agreement apply exactly as in the REST API, and every disclosure is
//! in the audit chain. Messages of a sender with a registered ed25519 key must be signed (see
//! [`signing_string`]); callbacks go only under the sender's registered callback URL.
//!
//! Nothing personal is stored by this module: transactions keep statuses and counts.
//!
//! Here: the endpoints ([`Kind`]), the router, the call's life (authenticate, check the
//! envelope, do the work, answer or call back) and the operations' part of the OpenAPI document.
//! The envelope and its errors are in [`envelope`]; the work of each kind in [`search`],
//! [`subscriptions`] (and the notifications) and [`txn`]: each reads its part of the message
//! and answers it, and leaves the senders, transactions, searches and subscriptions — with
//! their audit records — to the use cases of `vamos_app::dci`.

mod envelope;
mod search;
mod subscriptions;
mod txn;

pub use envelope::DciError;
use envelope::*;
use search::*;
pub use search::{member_record, parse_query, ATTRIBUTES};
use subscriptions::*;
pub use subscriptions::{notifier, notify_once};
use txn::*;

use crate::api::filter_person;
use crate::auth::{self, Credential, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use vamos_app::dci::{self as app, callback_url, Sender, Subscription, Transaction};
use vamos_domain::Permission;
use vamos_store::views::{Filter, Op, PersonColumn};
use vamos_store::Store;

/// Version of the messaging protocol this implementation speaks.
pub const VERSION: &str = "1.0.0";
/// `reg_type` of this registry.
pub const REG_TYPE: &str = "ns:org:RegistryType:Social";
/// Largest page a search may ask for.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// Most requests in one message (`header.total_count`).
pub const MAX_REQUESTS: usize = 100;

/// The endpoints this registry implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SyncSearch,
    Search,
    Subscribe,
    Unsubscribe,
    TxnStatus,
    SyncTxnStatus,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::SyncSearch,
        Kind::Search,
        Kind::Subscribe,
        Kind::Unsubscribe,
        Kind::TxnStatus,
        Kind::SyncTxnStatus,
    ];

    /// Path under the base path.
    pub fn path(self) -> &'static str {
        match self {
            Kind::SyncSearch => "/registry/sync/search",
            Kind::Search => "/registry/search",
            Kind::Subscribe => "/registry/subscribe",
            Kind::Unsubscribe => "/registry/unsubscribe",
            Kind::TxnStatus => "/registry/txn/status",
            Kind::SyncTxnStatus => "/registry/sync/txn/status",
        }
    }

    /// `header.action` of the request.
    pub fn action(self) -> &'static str {
        match self {
            Kind::SyncSearch | Kind::Search => "search",
            Kind::Subscribe => "subscribe",
            Kind::Unsubscribe => "unsubscribe",
            Kind::TxnStatus | Kind::SyncTxnStatus => "txn-status",
        }
    }

    /// `header.action` of the answer, and the sender's callback path for it.
    pub fn answer(self) -> (&'static str, &'static str) {
        match self {
            Kind::SyncSearch | Kind::Search => ("on-search", "/registry/on-search"),
            Kind::Subscribe => ("on-subscribe", "/registry/on-subscribe"),
            Kind::Unsubscribe => ("on-unsubscribe", "/registry/on-unsubscribe"),
            Kind::TxnStatus | Kind::SyncTxnStatus => ("txn-on-status", "/registry/txn/on-status"),
        }
    }

    pub fn is_sync(self) -> bool {
        matches!(self, Kind::SyncSearch | Kind::SyncTxnStatus)
    }

    pub fn summary(self) -> &'static str {
        match self {
            Kind::SyncSearch => {
                "DCI: búsqueda síncrona en el Registro Social (idtype-value, expression, predicate)"
            }
            Kind::Search => {
                "DCI: búsqueda asíncrona; el resultado se envía a /registry/on-search del emisor"
            }
            Kind::Subscribe => "DCI: suscribirse a nuevos registros (REGISTER, NewHouseHoldMember)",
            Kind::Unsubscribe => "DCI: cancelar suscripciones por código",
            Kind::TxnStatus => {
                "DCI: estado de una transacción; respuesta a /registry/txn/on-status del emisor"
            }
            Kind::SyncTxnStatus => "DCI: estado de una transacción, síncrono",
        }
    }
}

// ---------------------------------------------------------------- signatures

pub use vamos_app::dci_signing::{
    canonical_json, check_public_key, keygen, read_signing_key, sign, signing_string, verify,
};

// ---------------------------------------------------------------- handlers

pub fn router() -> Router<AppState> {
    Kind::ALL.iter().fold(Router::new(), |r, &k| {
        r.route(
            k.path(),
            post(move |st: State<AppState>, req: Request| async move {
                match handle(st.0, k, req).await {
                    Ok(r) => r,
                    Err(e) => e.into_response(),
                }
            }),
        )
    })
}

/// What a validated request carries into the blocking work.
struct Call {
    p: Principal,
    sender: Sender,
    header: Header,
    message: Value,
    correlation_id: String,
}

#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
async fn handle(st: AppState, kind: Kind, req: Request) -> Result<Response, DciError> {
    let (parts, body) = req.into_parts();
    let p = auth::authenticate_limited(&parts, &st)
        .await?
        .ok_or_else(|| {
            DciError::new(
                StatusCode::UNAUTHORIZED,
                "err.request.unauthorized",
                "falta el token de API (Authorization: Bearer vamos_…)",
            )
        })?;
    if !matches!(p.credential, Credential::Token { .. }) {
        return Err(DciError::new(
            StatusCode::UNAUTHORIZED,
            "err.request.unauthorized",
            "la API DCI se usa con un token de API, no con la sesión del navegador",
        ));
    }
    if !p.can(Permission::Dci) {
        return Err(DciError::new(
            StatusCode::FORBIDDEN,
            "err.request.forbidden",
            "el token no tiene el alcance dci o el rol no lo permite",
        ));
    }
    // From here on a fault of the message is answered in the standard's envelope (a rejected
    // header, or an `ERR` acknowledgement), never with the HTTP error body.
    let Ok(bytes) = axum::body::to_bytes(body, st.settings.body_limit).await else {
        return reject_message(
            &st,
            kind,
            "",
            Refusal::unreadable("cuerpo ilegible o demasiado grande"),
        );
    };
    let env: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return reject_message(
                &st,
                kind,
                "",
                Refusal::unreadable(format!(
                    "el cuerpo no es JSON válido (línea {}, columna {})",
                    e.line(),
                    e.column()
                )),
            )
        }
    };
    // The sender the message names, unverified: only to address the rejection.
    let named = env
        .get("header")
        .and_then(|h| h.get("sender_id"))
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 999)
        .unwrap_or_default()
        .to_string();
    let (Some(header_map), Some(message)) = (
        env.get("header").and_then(Value::as_object),
        env.get("message").filter(|m| m.is_object()),
    ) else {
        let what = if env.get("header").is_some_and(Value::is_object) {
            "falta message (objeto)"
        } else {
            "falta header (objeto)"
        };
        return reject_message(&st, kind, &named, Refusal::unreadable(what));
    };
    let header_v = Value::Object(header_map.clone());
    let message = message.clone();
    let header = match parse_header(header_map, &st.settings.dci_registry_id) {
        Ok(h) => h,
        Err(refusal) => return reject_message(&st, kind, &named, refusal),
    };
    if message.get("ciphertext").is_some() {
        return reject_message(
            &st,
            kind,
            &named,
            Refusal::transport(
                "err.encryption.invalid",
                "los mensajes cifrados (JWE) no se admiten: envíe el mensaje en claro sobre TLS",
            ),
        );
    }
    let sid = header.sender_id.clone();
    let username = p.user.username.clone();
    let sender = p
        .act(&st, move |s, actor| {
            app::sender_of(s, actor, &sid, &username)
        })
        .await?;
    let sender = match sender {
        Some(s) => s,
        None => {
            return Err(DciError::new(
                StatusCode::FORBIDDEN,
                "err.sender_id.invalid",
                format!(
                    "sender_id «{}» no está registrado para esta cuenta (vamos dci sender add)",
                    vamos_domain::limits::echo(&header.sender_id)
                ),
            ))
        }
    };
    if let Some(key) = &sender.public_key {
        let sig = env
            .get("signature")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                DciError::new(
                    StatusCode::UNAUTHORIZED,
                    "err.signature.missing",
                    "este emisor firma sus mensajes: falta signature",
                )
            })?;
        verify(
            sig,
            key,
            &sender.sender_id,
            &header_v,
            &message,
            auth::now().timestamp(),
        )
        .map_err(|m| DciError::new(StatusCode::UNAUTHORIZED, "err.signature.invalid", m))?;
    }
    let receiver = sender.sender_id.clone();
    // Header-level checks with the standard's reason codes.
    if header.version.as_deref().is_some_and(|v| v != VERSION) {
        return reject_message(
            &st,
            kind,
            &receiver,
            Refusal::header(
                "rjct.version.invalid",
                format!("versión no admitida: use {VERSION}"),
            ),
        );
    }
    if header.action != kind.action() {
        return reject_message(
            &st,
            kind,
            &receiver,
            Refusal::header(
                "rjct.action.invalid",
                format!(
                    "header.action «{}» no corresponde a {} (use «{}»)",
                    vamos_domain::limits::echo(&header.action),
                    kind.path(),
                    kind.action()
                ),
            ),
        );
    }
    let requests = match kind {
        Kind::SyncSearch | Kind::Search => message
            .get("search_request")
            .and_then(Value::as_array)
            .map(Vec::len),
        Kind::Subscribe => message
            .get("subscribe_request")
            .and_then(Value::as_array)
            .map(Vec::len),
        Kind::Unsubscribe => message
            .get("subscription_codes")
            .and_then(Value::as_array)
            .map(Vec::len),
        Kind::TxnStatus | Kind::SyncTxnStatus => Some(1),
    };
    let Some(requests) = requests else {
        return reject_message(
            &st,
            kind,
            &receiver,
            Refusal::unreadable(format!(
                "el mensaje no tiene la lista que {} requiere",
                kind.path()
            )),
        );
    };
    if requests > MAX_REQUESTS {
        return reject_message(
            &st,
            kind,
            &receiver,
            Refusal::header(
                "rjct.total_count.limit_exceeded",
                format!("un mensaje admite hasta {MAX_REQUESTS} solicitudes"),
            ),
        );
    }
    if let Some(n) = header.total_count {
        if n != requests as i64 && !matches!(kind, Kind::TxnStatus | Kind::SyncTxnStatus) {
            return reject_message(
                &st,
                kind,
                &receiver,
                Refusal::header(
                    "rjct.total_count.invalid",
                    format!("header.total_count = {n}, pero el mensaje trae {requests}"),
                ),
            );
        }
    }
    if !kind.is_sync() {
        if let Err(why) = callback_url(&sender, header.sender_uri.as_deref(), kind.answer().1) {
            return Ok(ack(
                "ERR",
                &new_id()?,
                Some(("err.sender_uri.invalid", why)),
            ));
        }
    }
    let Some(transaction_id) = message
        .get("transaction_id")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 99)
        .map(str::to_string)
    else {
        return reject_message(
            &st,
            kind,
            &receiver,
            Refusal::unreadable("falta message.transaction_id (texto de hasta 99 caracteres)"),
        );
    };
    let call = Call {
        p,
        sender,
        header,
        message,
        correlation_id: new_id()?,
    };
    // Record the transaction first: a replayed message_id is refused before any work.
    let now = now_ts();
    let txn = Transaction {
        sender_id: call.sender.sender_id.clone(),
        message_id: call.header.message_id.clone(),
        transaction_id,
        correlation_id: call.correlation_id.clone(),
        action: kind.action().into(),
        status: "pdng".into(),
        summary: "[]".into(),
        callback: None,
        created_at: now.clone(),
        updated_at: now,
    };
    let fresh = st
        .pool
        .run(move |s| Ok(app::open_transaction(s, &txn)?))
        .await?;
    if !fresh {
        return reject_message(
            &st,
            kind,
            &receiver,
            Refusal::header(
                "rjct.message_id.duplicate",
                format!(
                    "message_id «{}» ya fue recibido de {receiver}",
                    vamos_domain::limits::echo(&call.header.message_id)
                ),
            ),
        );
    }
    if kind.is_sync() {
        let answer = process(&st, kind, &call).await?;
        let mut h = answer_header(
            &st,
            kind.answer().0,
            &answer.status,
            None,
            &receiver,
            requests,
        )?;
        if let Some(note) = &answer.note {
            set_reason(&mut h, None, note);
        }
        return Ok(Json(envelope(&st, h, Some(answer.msg))).into_response());
    }
    let correlation_id = call.correlation_id.clone();
    let st2 = st.clone();
    tokio::spawn(async move {
        let answer = match process(&st2, kind, &call).await {
            Ok(answer) => answer,
            // The sender still hears back, in an answer it can match to its request.
            Err(e) => failed(kind, &call, &e),
        };
        if let Err(why) = deliver(&st2, kind, &call, answer, requests).await {
            // No personal data: the reason is a transport or validation message.
            tracing::warn!(correlation_id = %call.correlation_id, reason = %why, "respuesta DCI no entregada");
        }
    });
    Ok(ack("ACK", &correlation_id, None))
}

/// What a call answers: the message, the header's status and, when there is something to
/// explain, the header's reason (the standard's code if it has one for it, and the text).
struct Answer {
    msg: Value,
    status: String,
    note: Option<String>,
    /// Set when the work failed: the transaction ends rejected with this reason.
    failure: Option<(Option<&'static str>, String)>,
}

impl Answer {
    fn of(msg: Value, status: String) -> Answer {
        Answer {
            msg,
            status,
            note: None,
            failure: None,
        }
    }
}

/// Cuts `text` to the standard's 999 characters for a reason message.
fn reason_text(text: &str) -> String {
    text.chars().take(999).collect()
}

/// The answer to a call whose work failed with `e`: the standard's message for the kind with the
/// request's `transaction_id` and the acknowledged `correlation_id` — each request of the
/// message rejected with the reason, so the sender can match it to what it asked — and a
/// rejected header with the reason. A refusal (403: the account may not do this, e.g. its
/// institution has no data-sharing agreement in force) is the standard's
/// `rjct.action.not_supported`; the standard has no header code for a failure of the service.
fn failed(kind: Kind, call: &Call, e: &DciError) -> Answer {
    let why = reason_text(&e.message);
    let request = &call.message;
    let rejected_each = |list: &str| -> Vec<Value> {
        request
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|it| {
                let rid = it
                    .get("reference_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                json!({"reference_id": rid, "timestamp": now_ts(), "status": "rjct", "status_reason_message": why})
            })
            .collect()
    };
    let mut msg = json!({
        "transaction_id": request.get("transaction_id").cloned().unwrap_or_else(|| "".into()),
        "correlation_id": call.correlation_id,
    });
    let part = match kind {
        Kind::SyncSearch | Kind::Search => {
            vec![(
                "search_response",
                Value::Array(rejected_each("search_request")),
            )]
        }
        Kind::Subscribe => vec![(
            "subscribe_response",
            Value::Array(rejected_each("subscribe_request")),
        )],
        Kind::Unsubscribe => vec![
            ("timestamp", now_ts().into()),
            ("status", "rjct".into()),
            ("status_reason_message", why.clone().into()),
            ("subscription_status", json!([])),
        ],
        Kind::TxnStatus | Kind::SyncTxnStatus => {
            let r = request.get("txnstatus_request");
            vec![(
                "txnstatus_response",
                status_failed(
                    r.and_then(|r| r.get("txn_type")).and_then(Value::as_str),
                    r.and_then(|r| r.get("reference_id"))
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    None,
                    &why,
                ),
            )]
        }
    };
    if let Some(o) = msg.as_object_mut() {
        for (k, v) in part {
            o.insert(k.into(), v);
        }
    }
    let code = (e.status == StatusCode::FORBIDDEN).then_some("rjct.action.not_supported");
    Answer {
        msg,
        status: "rjct".into(),
        note: None,
        failure: Some((code, why)),
    }
}

/// POSTs a signed answer to the sender and records the outcome on the transaction.
async fn deliver(
    st: &AppState,
    kind: Kind,
    call: &Call,
    answer: Answer,
    total: usize,
) -> Result<(), String> {
    let url = callback_url(
        &call.sender,
        call.header.sender_uri.as_deref(),
        kind.answer().1,
    )?;
    let mut h = answer_header(
        st,
        kind.answer().0,
        &answer.status,
        None,
        &call.sender.sender_id,
        total,
    )
    .map_err(|e| e.message)?;
    if let Some((code, why)) = &answer.failure {
        set_reason(&mut h, *code, why);
    } else if let Some(note) = &answer.note {
        set_reason(&mut h, None, note);
    }
    let body = envelope(st, h, Some(answer.msg));
    let result = post_json(url.clone(), body).await;
    let note = match &result {
        Ok(code) => format!("entregado a {url}: HTTP {code}"),
        Err(e) => format!("no entregado a {url}: {e}"),
    };
    let cid = call.correlation_id.clone();
    // A failed call was never finished by `process`: it ends rejected here.
    let failed = answer.failure.map(|(_, r)| {
        json!([{"reference_id": "", "timestamp": now_ts(), "status": "rjct", "status_reason_message": r}])
            .to_string()
    });
    st.pool
        .run(move |s| {
            match failed {
                Some(summary) => app::finish_transaction(s, &cid, "rjct", &summary, Some(&note))?,
                None => app::note_callback(s, &cid, &note)?,
            }
            Ok(())
        })
        .await
        .map_err(|e| e.message)?;
    result.map(|_| ())
}

/// POSTs JSON on a blocking thread; `Ok(status)` for 2xx.
async fn post_json(url: String, body: Value) -> Result<u16, String> {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(15)))
            .http_status_as_error(false)
            .build()
            .into();
        match agent.post(&url).send_json(&body) {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Does the work of a call on a pooled connection: the answer's message, the header status
/// and the header's note, if any.
async fn process(st: &AppState, kind: Kind, call: &Call) -> Result<Answer, DciError> {
    let p = call.p.clone();
    let sender = call.sender.clone();
    let message = call.message.clone();
    let cid = call.correlation_id.clone();
    st.pool
        .run(move |s| {
            let (msg, summary, status, note) = match kind {
                Kind::SyncSearch | Kind::Search => with_no_note(search(s, &p, &message, &cid)?),
                Kind::Subscribe => with_no_note(subscribe(s, &p, &sender, &message, &cid)?),
                Kind::Unsubscribe => with_no_note(unsubscribe(s, &p, &sender, &message, &cid)?),
                Kind::TxnStatus | Kind::SyncTxnStatus => txn_status(s, &sender, &message, &cid)?,
            };
            app::finish_transaction(s, &cid, &status, &summary.to_string(), None)?;
            let mut answer = Answer::of(msg, status);
            answer.note = note;
            Ok(answer)
        })
        .await
        .map_err(DciError::from)
}

fn with_no_note((msg, summary, status): Outcome) -> (Value, Value, String, Option<String>) {
    (msg, summary, status, None)
}

/// Header status of an answer from its item statuses: `rjct` when all were rejected.
fn overall(items: &[Value]) -> String {
    if !items.is_empty() && items.iter().all(|i| i["status"] == "rjct") {
        "rjct".into()
    } else {
        "succ".into()
    }
}

fn rejected(reference_id: &str, code: &str, message: &str) -> Value {
    json!({
        "reference_id": reference_id,
        "timestamp": now_ts(),
        "status": "rjct",
        "status_reason_code": code,
        "status_reason_message": message,
    })
}

/// The `reference_id` of one request of a batch, after checking it and the request's
/// `timestamp`; `Err` is the item's rejection.
fn request_reference(it: &Value) -> Result<&str, Value> {
    let rid = it
        .get("reference_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if rid.is_empty() || rid.len() > 99 {
        return Err(rejected(
            rid,
            "rjct.reference_id.invalid",
            "falta reference_id (hasta 99 caracteres)",
        ));
    }
    if it
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(rfc3339)
        .is_none()
    {
        return Err(rejected(
            rid,
            "rjct.timestamp.invalid",
            "timestamp debe ser fecha-hora ISO 8601 con zona",
        ));
    }
    Ok(rid)
}

/// The summary kept for `txn/status`: each item without its data.
fn summarise(items: &[Value]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| {
                let mut o = i.as_object().cloned().unwrap_or_default();
                o.remove("data");
                o.remove("subscriptions");
                Value::Object(o)
            })
            .collect(),
    )
}

// ---------------------------------------------------------------- the OpenAPI document

/// The DCI envelope schemas (`standards/dci/social_api_v1.0.0.yaml`, the parts Vamos reads
/// and answers): the DCI standard defines them, so they are written as the standard has them
/// rather than derived from Rust types (the handlers read the envelope as JSON to answer each
/// malformed part with its DCI error code).
pub fn schemas() -> Value {
    json!({
        "DciRequest": {"type": "object", "required": ["header", "message"], "description": "Sobre DCI {signature, header, message} (social_api_v1.0.0.yaml)", "properties": {
            "signature": {"type": "string", "description": "Signature: … algorithm=\"ed25519\" … signature=\"base64\" (obligatoria si el emisor registró una clave)"},
            "header": {"type": "object", "required": ["message_id", "message_ts", "action", "sender_id", "total_count"], "properties": {
                "version": {"type": "string", "default": VERSION}, "message_id": {"type": "string"}, "message_ts": {"type": "string", "format": "date-time"},
                "action": {"type": "string"}, "sender_id": {"type": "string"}, "sender_uri": {"type": "string", "format": "uri"},
                "receiver_id": {"type": "string"}, "total_count": {"type": "integer"}, "is_msg_encrypted": {"type": "boolean"}}},
            "message": {"type": "object"}}},
        "DciAck": {"type": "object", "properties": {"message": {"type": "object", "required": ["ack_status", "timestamp", "correlation_id"], "properties": {
            "ack_status": {"type": "string", "enum": ["ACK", "NACK", "ERR"]}, "timestamp": {"type": "string", "format": "date-time"},
            "correlation_id": {"type": "string"}, "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}},
        "DciResponse": {"type": "object", "required": ["header"], "properties": {
            "signature": {"type": "string"}, "header": {"type": "object"}, "message": {"type": "object"}}},
        "DciErrors": {"type": "object", "properties": {"errors": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}}}}
    })
}

/// The DCI operations under `base`.
pub fn paths(base: &str, paths: &mut Map<String, Value>) {
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciErrors"}}}});
    for k in Kind::ALL {
        let ok = if k.is_sync() {
            json!({"description": "Respuesta DCI (header.status succ o rjct; un sobre ilegible o mal formado también se responde así, con status_reason_message)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciResponse"}}}})
        } else {
            json!({"description": "Acuse (ACK; la respuesta va al callback del emisor, siempre con message) o ERR (sobre ilegible o mal formado: error.code err.*)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciAck"}}}})
        };
        let op = json!({
            "operationId": format!("dci_{}", k.path().trim_start_matches('/').replace('/', "_")),
            "summary": k.summary(),
            "tags": ["dci"],
            "security": [{"bearer": []}],
            "x-vamos-permission": vamos_domain::Permission::Dci.code(),
            "x-vamos-personal-data": matches!(k, Kind::Search | Kind::SyncSearch),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciRequest"}}}},
            "responses": {
                "200": ok,
                "401": err("err.request.unauthorized, err.signature.missing, err.signature.invalid"),
                "403": err("err.request.forbidden, err.sender_id.invalid"),
                "429": err("err.request.too_many_requests"),
                "500": err("err.service.unavailable"),
            },
        });
        paths.insert(format!("{base}{}", k.path()), json!({"post": op}));
    }
}
