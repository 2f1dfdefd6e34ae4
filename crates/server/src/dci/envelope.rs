//! The DCI envelope: the transport errors (the standard's `HttpErrorResponse`), the request
//! header checked field by field, the answer's header and envelope (signed when the registry has
//! a key), acknowledgements and rejected messages.

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
    pub(super) fn bad(message: impl Into<String>) -> DciError {
        DciError::new(StatusCode::BAD_REQUEST, "err.request.bad", message)
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

pub(super) fn text_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, DciError> {
    match m.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 999 => Ok(s),
        Some(_) => Err(DciError::bad(format!(
            "header.{k} debe ser un texto no vacío"
        ))),
        None => Err(DciError::bad(format!("falta header.{k}"))),
    }
}

pub(super) fn rfc3339(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

pub(super) fn parse_header(h: &Map<String, Value>, registry_id: &str) -> Result<Header, DciError> {
    let message_id = text_field(h, "message_id")?.to_string();
    let ts = text_field(h, "message_ts")?;
    if rfc3339(ts).is_none() {
        return Err(DciError::bad(format!(
            "header.message_ts «{}» no es una fecha-hora ISO 8601 con zona",
            vamos_domain::limits::echo(ts)
        )));
    }
    let action = text_field(h, "action")?.to_string();
    let sender_id = text_field(h, "sender_id")?.to_string();
    let total_count = match h.get("total_count") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| DciError::bad("header.total_count debe ser un entero"))?,
        ),
    };
    if let Some(r) = h.get("receiver_id").and_then(Value::as_str) {
        if r != registry_id {
            return Err(DciError::new(
                StatusCode::BAD_REQUEST,
                "err.receiver_id.invalid",
                format!(
                    "receiver_id «{}» no es este registro ({registry_id})",
                    vamos_domain::limits::echo(r)
                ),
            ));
        }
    }
    if h.get("is_msg_encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(DciError::new(
            StatusCode::BAD_REQUEST,
            "err.encryption.invalid",
            "los mensajes cifrados (JWE) no se admiten: envíe el mensaje en claro sobre TLS",
        ));
    }
    let sender_uri = match h.get("sender_uri") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(DciError::bad("header.sender_uri debe ser un texto (URL)")),
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

/// A message refused as a whole (header-level `rjct.*`): a sync endpoint answers with the
/// rejected header, an async one with an `ERR` acknowledgement.
pub(super) fn reject_message(
    st: &AppState,
    kind: Kind,
    receiver: &str,
    code: &str,
    message: String,
) -> Result<Response, DciError> {
    if kind.is_sync() {
        let h = answer_header(
            st,
            kind.answer().0,
            "rjct",
            Some((code, &message)),
            receiver,
            0,
        )?;
        Ok(Json(envelope(st, h, None)).into_response())
    } else {
        Ok(ack(
            "ERR",
            &new_id()?,
            Some(("err.request.bad", format!("{code}: {message}"))),
        ))
    }
}
