//! The DCI envelope: the transport errors (the standard's `HttpErrorResponse`, for 401, 403,
//! 429 and 500 only), the request header checked field by field, the answer's header and
//! envelope (signed when the registry has a key), acknowledgements and rejected messages.

use super::*;

// ---------------------------------------------------------------- errors

/// A transport-level error: HTTP status and the standard's `HttpErrorResponse` body.
#[derive(Debug)]
pub struct DciError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl DciError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> DciError {
        DciError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<ApiError> for DciError {
    fn from(e: ApiError) -> DciError {
        let code = match e.status.as_u16() {
            400 => "err.request.bad",
            401 => "err.request.unauthorized",
            403 => "err.request.forbidden",
            404 => "err.request.not_found",
            408 => "err.request.timeout",
            429 => "err.request.too_many_requests",
            _ => "err.service.unavailable",
        };
        DciError::new(e.status, code, e.message)
    }
}

impl From<vamos_store::StoreError> for DciError {
    fn from(e: vamos_store::StoreError) -> DciError {
        ApiError::from(e).into()
    }
}

impl IntoResponse for DciError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"errors": [{"code": self.code, "message": self.message}]})),
        )
            .into_response()
    }
}

// ---------------------------------------------------------------- the envelope

/// A validated request header.
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub(super) message_id: String,
    pub(super) action: String,
    pub(super) sender_id: String,
    pub(super) sender_uri: Option<String>,
    pub(super) total_count: Option<i64>,
    pub(super) version: Option<String>,
}

/// Why a message is refused as a whole before any work: the standard's header reason code
/// (`rjct.*`, `MsgHeaderStatusReasonCode`) when it has one for the fault, the acknowledgement's
/// error code (`err.*`), and what to fix. A synchronous endpoint answers it in a rejected
/// header, an asynchronous one in an `ERR` acknowledgement: the standard keeps its HTTP error
/// body for 401, 403 and 500, so a sender always gets an envelope it can read.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) reason: Option<&'static str>,
    pub(super) error: &'static str,
    pub(super) message: String,
}

impl Refusal {
    /// A fault of the header the standard has a reason code for.
    pub(super) fn header(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            reason: Some(reason),
            error: "err.request.bad",
            message: message.into(),
        }
    }
    /// A message that cannot be read (not JSON, no header or message, a field missing): the
    /// standard has no header reason code for it, so the message says what is wrong.
    pub(super) fn unreadable(message: impl Into<String>) -> Refusal {
        Refusal {
            reason: None,
            error: "err.request.bad",
            message: message.into(),
        }
    }
    /// A fault the standard names only with a transport code (`err.receiver_id.invalid`, …).
    pub(super) fn transport(error: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            reason: None,
            error,
            message: message.into(),
        }
    }
}

/// Text field `k` of the header, or why not.
pub(super) fn text_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, String> {
    match m.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 999 => Ok(s),
        Some(_) => Err(format!("header.{k} debe ser un texto no vacío")),
        None => Err(format!("falta header.{k}")),
    }
}

pub(super) fn rfc3339(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// The header checked field by field; a fault carries the standard's reason code where it has
/// one (`message_ts`, `action`, `total_count`).
pub(super) fn parse_header(h: &Map<String, Value>, registry_id: &str) -> Result<Header, Refusal> {
    let message_id = text_field(h, "message_id")
        .map_err(Refusal::unreadable)?
        .to_string();
    let ts =
        text_field(h, "message_ts").map_err(|m| Refusal::header("rjct.message_ts.invalid", m))?;
    if rfc3339(ts).is_none() {
        return Err(Refusal::header(
            "rjct.message_ts.invalid",
            format!(
                "header.message_ts «{}» no es una fecha-hora ISO 8601 con zona",
                vamos_domain::limits::echo(ts)
            ),
        ));
    }
    let action = text_field(h, "action")
        .map_err(|m| Refusal::header("rjct.action.invalid", m))?
        .to_string();
    let sender_id = text_field(h, "sender_id")
        .map_err(|m| Refusal::transport("err.sender_id.invalid", m))?
        .to_string();
    let total_count = match h.get("total_count") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            Refusal::header(
                "rjct.total_count.invalid",
                "header.total_count debe ser un entero",
            )
        })?),
    };
    if let Some(r) = h.get("receiver_id").and_then(Value::as_str) {
        if r != registry_id {
            return Err(Refusal::transport(
                "err.receiver_id.invalid",
                format!(
                    "receiver_id «{}» no es este registro ({registry_id})",
                    vamos_domain::limits::echo(r)
                ),
            ));
        }
    }
    if h.get("is_msg_encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(Refusal::transport(
            "err.encryption.invalid",
            "los mensajes cifrados (JWE) no se admiten: envíe el mensaje en claro sobre TLS",
        ));
    }
    let sender_uri = match h.get("sender_uri") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Refusal::transport(
                "err.sender_uri.invalid",
                "header.sender_uri debe ser un texto (URL)",
            ))
        }
    };
    let version = h.get("version").and_then(Value::as_str).map(str::to_string);
    Ok(Header {
        message_id,
        action,
        sender_id,
        sender_uri,
        total_count,
        version,
    })
}

/// A new correlation or message id.
pub(super) fn new_id() -> Result<String, DciError> {
    auth::random_hex(12).map_err(|e| ApiError::internal(e).into())
}

pub(super) fn now_ts() -> String {
    auth::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The header of an answer (sync response or callback).
pub(super) fn answer_header(
    st: &AppState,
    action: &str,
    status: &str,
    reason: Option<(&str, &str)>,
    receiver: &str,
    total: usize,
) -> Result<Value, DciError> {
    let mut h = json!({
        "version": VERSION,
        "message_id": new_id()?,
        "message_ts": now_ts(),
        "action": action,
        "status": status,
        "total_count": total,
        "completed_count": total,
        "sender_id": st.settings.dci_registry_id,
        "receiver_id": receiver,
        "is_msg_encrypted": false,
    });
    if let (Some((code, msg)), Some(o)) = (reason, h.as_object_mut()) {
        o.insert("status_reason_code".into(), code.into());
        o.insert("status_reason_message".into(), msg.into());
    }
    Ok(h)
}

/// `{signature?, header, message?}`, signed with this registry's key when it has one.
pub(super) fn envelope(st: &AppState, header: Value, message: Option<Value>) -> Value {
    let mut env = Map::new();
    if let (Some(key), Some(m)) = (&st.dci_key, &message) {
        env.insert(
            "signature".into(),
            sign(
                key,
                &st.settings.dci_registry_id,
                "1",
                &header,
                m,
                auth::now().timestamp(),
                3600,
            )
            .into(),
        );
    }
    env.insert("header".into(), header);
    if let Some(m) = message {
        env.insert("message".into(), m);
    }
    Value::Object(env)
}

/// The standard's acknowledgement.
pub(super) fn ack(status: &str, correlation_id: &str, error: Option<(&str, String)>) -> Response {
    let mut m =
        json!({"ack_status": status, "timestamp": now_ts(), "correlation_id": correlation_id});
    if let (Some((code, message)), Some(o)) = (error, m.as_object_mut()) {
        o.insert("error".into(), json!({"code": code, "message": message}));
    }
    Json(json!({"message": m})).into_response()
}

/// Adds the reason of a rejected answer to its header: the standard's code when there is one,
/// and always the message, so the sender learns what to fix.
pub(super) fn set_reason(header: &mut Value, code: Option<&str>, message: &str) {
    if let Some(o) = header.as_object_mut() {
        if let Some(c) = code {
            o.insert("status_reason_code".into(), c.into());
        }
        o.insert("status_reason_message".into(), message.into());
    }
}

/// A message refused as a whole (see [`Refusal`]): a sync endpoint answers with the rejected
/// header, an async one with an `ERR` acknowledgement. `receiver` is the sender the message
/// names, empty when it names none.
pub(super) fn reject_message(
    st: &AppState,
    kind: Kind,
    receiver: &str,
    refusal: Refusal,
) -> Result<Response, DciError> {
    if kind.is_sync() {
        let mut h = answer_header(st, kind.answer().0, "rjct", None, receiver, 0)?;
        set_reason(&mut h, refusal.reason, &refusal.message);
        if receiver.is_empty() {
            if let Some(o) = h.as_object_mut() {
                o.remove("receiver_id");
            }
        }
        Ok(Json(envelope(st, h, None)).into_response())
    } else {
        let message = match refusal.reason {
            Some(code) => format!("{code}: {}", refusal.message),
            None => refusal.message,
        };
        Ok(ack("ERR", &new_id()?, Some((refusal.error, message))))
    }
}
