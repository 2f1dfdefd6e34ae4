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

use crate::api::{audit, filter_person, visible_fields};
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
use vamos_domain::Permission;
use vamos_store::dci::{self as store, Sender, Subscription, Transaction};
use vamos_store::views::{self, Filter, Op, PersonColumn};
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

// ---------------------------------------------------------------- errors

/// A transport-level error: HTTP status and the standard's `HttpErrorResponse` body.
#[derive(Debug)]
pub struct DciError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl DciError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> DciError {
        DciError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> DciError {
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

// ---------------------------------------------------------------- signatures

pub use vamos_app::dci_signing::{
    canonical_json, check_public_key, keygen, read_signing_key, sign, signing_string, verify,
};

// ---------------------------------------------------------------- queries

/// A query value as a bound parameter of `col`: integers for id columns, ISO dates, and DCI's
/// `male`/`female` as the registry's `hombre`/`mujer`.
fn db_value(col: PersonColumn, v: &Value) -> Result<vamos_store::sql::Param, String> {
    if col.is_integer() {
        return match v {
            Value::Number(n) => n
                .as_i64()
                .map(Into::into)
                .ok_or_else(|| format!("{n} no es un número entero")),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Into::into)
                .map_err(|_| format!("«{s}» no es un número entero")),
            other => Err(format!("{other} no es un número entero")),
        };
    }
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("{other} no es un texto")),
    };
    if col == PersonColumn::Sex {
        return match text.to_lowercase().as_str() {
            "male" | "m" | "hombre" => Ok("hombre".into()),
            "female" | "f" | "mujer" => Ok("mujer".into()),
            _ => Err(format!("sexo «{text}» desconocido: use male o female")),
        };
    }
    if col == PersonColumn::BirthDate {
        // A date-time is compared by its date part.
        let day = text.get(..10).unwrap_or(&text);
        if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
            return Err(format!("fecha «{text}» inválida: use AAAA-MM-DD"));
        }
        return Ok(day.into());
    }
    Ok(text.into())
}

/// An attribute of a query: a column, or a derived one.
enum Attr {
    Col(PersonColumn),
    /// Year of birth.
    Yob,
    /// Department code (its districts).
    Department,
}

/// The queryable attributes (names compared case-insensitively).
pub const ATTRIBUTES: &[(&str, &str)] = &[
    ("UIN, id", "número SIIS de la persona"),
    (
        "NationalID, national_id, CI, NID, cedula",
        "cédula de identidad",
    ),
    ("household_id, group_id", "número SIIS del hogar"),
    (
        "district_code, district, location",
        "distrito (código INE DDdd)",
    ),
    (
        "department_code, department",
        "departamento (código INE DD)",
    ),
    (
        "given_name, given_names",
        "nombres (eq: igual; contains: contiene)",
    ),
    ("surname, family_names", "apellidos"),
    ("birth_date, DOB", "fecha de nacimiento AAAA-MM-DD"),
    ("YOB", "año de nacimiento"),
    ("sex", "male o female"),
];

fn attr(name: &str) -> Option<Attr> {
    Some(match name.trim().to_lowercase().as_str() {
        "uin" | "id" | "siis_id" => Attr::Col(PersonColumn::Id),
        "nationalid" | "national_id" | "ci" | "nid" | "cedula" => {
            Attr::Col(PersonColumn::NationalId)
        }
        "household_id" | "group_id" | "groupid" => Attr::Col(PersonColumn::HouseholdId),
        "district_code" | "district" | "location" => Attr::Col(PersonColumn::District),
        "department_code" | "department" => Attr::Department,
        "given_name" | "given_names" => Attr::Col(PersonColumn::GivenNames),
        "surname" | "family_names" | "family_name" => Attr::Col(PersonColumn::FamilyNames),
        "birth_date" | "dob" => Attr::Col(PersonColumn::BirthDate),
        "yob" => Attr::Yob,
        "sex" | "gender" => Attr::Col(PersonColumn::Sex),
        _ => return None,
    })
}

/// One comparison of a query.
fn condition(name: &str, op: &str, value: &Value) -> Result<Filter, String> {
    let a = attr(name).ok_or_else(|| {
        format!(
            "atributo «{name}» desconocido; admitidos: {}",
            ATTRIBUTES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let op = match op.trim_start_matches('$').to_lowercase().as_str() {
        "eq" => Op::Eq,
        "lt" => Op::Lt,
        "le" | "lte" => Op::Le,
        "gt" => Op::Gt,
        "ge" | "gte" => Op::Ge,
        "contains" | "like" => Op::Contains,
        "in" => {
            // A list, or (as the standard's attribute_value cannot be an array) a text of
            // comma-separated values.
            let items: Vec<Value> = match value {
                Value::Array(items) => items.clone(),
                Value::String(t) => t
                    .split(',')
                    .map(|x| Value::String(x.trim().into()))
                    .collect(),
                _ => {
                    return Err(format!(
                        "«in» de {name} necesita una lista o valores separados por comas"
                    ))
                }
            };
            if items.len() > 1000 {
                return Err("una lista «in» admite hasta 1000 valores".into());
            }
            return Ok(Filter::Or(
                items
                    .iter()
                    .map(|v| condition(name, "eq", v))
                    .collect::<Result<_, _>>()?,
            ));
        }
        other => return Err(format!("operador «{other}» desconocido")),
    };
    match a {
        Attr::Col(c) => {
            if op == Op::Contains && c.is_integer() {
                return Err(format!("«contains» no aplica a {name}"));
            }
            Ok(Filter::Cmp(c, op, db_value(c, value)?))
        }
        Attr::Yob | Attr::Department => {
            let n = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("{name}: {value} no es un número"))?;
            let (col, lo, hi): (
                PersonColumn,
                vamos_store::sql::Param,
                vamos_store::sql::Param,
            ) = match a {
                Attr::Yob => (
                    PersonColumn::BirthDate,
                    format!("{n:04}-01-01").into(),
                    format!("{n:04}-12-31").into(),
                ),
                _ => (
                    PersonColumn::District,
                    (n * 100).into(),
                    (n * 100 + 99).into(),
                ),
            };
            Ok(match op {
                Op::Eq => Filter::And(vec![
                    Filter::Cmp(col, Op::Ge, lo),
                    Filter::Cmp(col, Op::Le, hi),
                ]),
                Op::Lt => Filter::Cmp(col, Op::Lt, lo),
                Op::Ge => Filter::Cmp(col, Op::Ge, lo),
                Op::Gt => Filter::Cmp(col, Op::Gt, hi),
                Op::Le => Filter::Cmp(col, Op::Le, hi),
                Op::Contains => return Err(format!("«contains» no aplica a {name}")),
            })
        }
    }
}

/// Nesting limit of expressions.
const MAX_DEPTH: usize = 8;

/// A MongoDB-style expression: `{"$and": [...]}`, `{"$or": [...]}`, `{"$not": {...}}`,
/// `{"attr": {"$lt": 5}}`, `{"attr": "value"}` (equality).
fn expression(v: &Value, depth: usize) -> Result<Filter, String> {
    if depth > MAX_DEPTH {
        return Err("expresión demasiado anidada".into());
    }
    let Value::Object(m) = v else {
        return Err("cada expresión debe ser un objeto".into());
    };
    if m.is_empty() {
        return Err("expresión vacía".into());
    }
    let mut parts = Vec::new();
    for (k, x) in m {
        let f = match k.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = x else {
                    return Err(format!("{k} necesita una lista"));
                };
                let fs = items
                    .iter()
                    .map(|i| expression(i, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                if k == "$and" {
                    Filter::And(fs)
                } else {
                    Filter::Or(fs)
                }
            }
            "$not" => Filter::Not(Box::new(expression(x, depth + 1)?)),
            name => match x {
                Value::Object(ops) if ops.keys().all(|o| o.starts_with('$')) && !ops.is_empty() => {
                    all_of(
                        ops.iter()
                            .map(|(o, val)| condition(name, o, val))
                            .collect::<Result<_, _>>()?,
                    )
                }
                other => condition(name, "eq", other)?,
            },
        };
        parts.push(f);
    }
    Ok(all_of(parts))
}

/// AND of `parts` (the part itself when there is one).
fn all_of(mut parts: Vec<Filter>) -> Filter {
    if parts.len() == 1 {
        if let Some(f) = parts.pop() {
            return f;
        }
    }
    Filter::And(parts)
}

/// The standard's predicate list: items in `seq_num` order, each
/// `expression1 [condition expression2]`, all items combined with AND
/// (`not`: expression1 AND NOT expression2).
fn predicate(v: &Value) -> Result<Filter, String> {
    let Value::Array(items) = v else {
        return Err("predicate necesita una lista de expresiones".into());
    };
    if items.is_empty() || items.len() > 50 {
        return Err("predicate admite de 1 a 50 expresiones".into());
    }
    let mut sorted: Vec<&Value> = items.iter().collect();
    sorted.sort_by(|a, b| {
        let n = |v: &Value| v.get("seq_num").and_then(Value::as_f64).unwrap_or(0.0);
        n(a).total_cmp(&n(b))
    });
    let one = |e: Option<&Value>| -> Result<Filter, String> {
        let e = e
            .and_then(Value::as_object)
            .ok_or("falta expression1 (objeto)")?;
        let name = e
            .get("attribute_name")
            .and_then(Value::as_str)
            .ok_or("falta attribute_name")?;
        let op = e
            .get("operator")
            .and_then(Value::as_str)
            .ok_or("falta operator")?;
        let value = e.get("attribute_value").ok_or("falta attribute_value")?;
        condition(name, op, value)
    };
    let mut all = Vec::new();
    for it in sorted {
        let first = one(it.get("expression1"))?;
        let cond = it.get("condition").and_then(Value::as_str);
        let second = match it.get("expression2") {
            Some(Value::Null) | None => None,
            Some(e) => Some(one(Some(e))?),
        };
        all.push(match (cond, second) {
            (None, None) => first,
            (Some("not"), None) => Filter::Not(Box::new(first)),
            (Some("and") | None, Some(s)) => Filter::And(vec![first, s]),
            (Some("or"), Some(s)) => Filter::Or(vec![first, s]),
            (Some("not"), Some(s)) => Filter::And(vec![first, Filter::Not(Box::new(s))]),
            (Some(c), _) => return Err(format!("condition «{c}» desconocida: and, or o not")),
        });
    }
    Ok(Filter::And(all))
}

/// A query or filter of one of the standard's types, as a filter over persons.
pub fn parse_query(query_type: &str, query: &Value) -> Result<Filter, String> {
    match query_type.rsplit(':').next().unwrap_or(query_type) {
        "idtype-value" => {
            let t = query
                .get("type")
                .and_then(Value::as_str)
                .ok_or("idtype-value necesita type")?;
            let v = query.get("value").ok_or("idtype-value necesita value")?;
            condition(t, "eq", v)
        }
        "expression" => {
            // {type, value: {expression: {collection, query}}} or {expression: …} or the query.
            let e = query
                .get("value")
                .and_then(|v| v.get("expression"))
                .or_else(|| query.get("expression"))
                .unwrap_or(query);
            if let Some(c) = e.get("collection").and_then(Value::as_str) {
                if !matches!(c.to_lowercase().as_str(), "member" | "person" | "persons") {
                    return Err(format!("colección «{c}» no admitida: use Member"));
                }
            }
            expression(e.get("query").unwrap_or(e), 0)
        }
        "predicate" => predicate(query),
        other => Err(format!(
            "query_type «{other}» no admitido: idtype-value, expression o predicate"
        )),
    }
}

// ---------------------------------------------------------------- records

/// A person row as a DCI `Member` record, with only the fields `fields` allows.
pub fn member_record(row: Map<String, Value>, fields: &Option<BTreeSet<String>>) -> Value {
    let row = filter_person(row, fields);
    let s = |k: &str| row.get(k).filter(|v| !v.is_null());
    let mut rec = Map::new();
    rec.insert("@type".into(), "Member".into());
    if let Some(id) = s("id") {
        rec.insert(
            "member_identifier".into(),
            json!([{"@type": "Identifier", "identifier_type": "UIN", "identifier_value": id.to_string()}]),
        );
    }
    let mut demo = Map::new();
    demo.insert("@type".into(), "SRPerson".into());
    if let Some(c) = s("national_id") {
        demo.insert(
            "identifier".into(),
            json!([{"@type": "Identifier", "identifier_type": "NationalID", "identifier_value": c.to_string()}]),
        );
    }
    if s("given_names").is_some() || s("family_names").is_some() {
        let mut name = Map::new();
        name.insert("@type".into(), "Name".into());
        if let Some(v) = s("given_names") {
            name.insert("given_name".into(), v.clone());
        }
        if let Some(v) = s("family_names") {
            name.insert("surname".into(), v.clone());
        }
        demo.insert("name".into(), Value::Object(name));
    }
    if let Some(v) = s("sex").and_then(Value::as_str) {
        demo.insert(
            "sex".into(),
            match v {
                "hombre" => "male",
                "mujer" => "female",
                other => other,
            }
            .into(),
        );
    }
    if let Some(v) = s("birth_date") {
        demo.insert("birth_date".into(), v.clone());
    }
    if let Some(d) = s("district_code").and_then(Value::as_i64) {
        demo.insert(
            "address".into(),
            json!({"@type": "Address", "region": format!("{:02}", d / 100), "city": format!("{d:04}"), "country": "PY"}),
        );
    }
    rec.insert("demographic_info".into(), Value::Object(demo));
    if let Some(h) = s("household_id") {
        rec.insert(
            "group_identifier".into(),
            json!([{"@type": "Identifier", "identifier_type": "HouseholdID", "identifier_value": h.to_string()}]),
        );
    }
    const MAPPED: &[&str] = &[
        "id",
        "national_id",
        "given_names",
        "family_names",
        "sex",
        "birth_date",
        "district_code",
        "household_id",
    ];
    let extra: Vec<Value> = row
        .iter()
        .filter(|(k, v)| !MAPPED.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    if !extra.is_empty() {
        rec.insert("additional_attributes".into(), Value::Array(extra));
    }
    Value::Object(rec)
}

// ---------------------------------------------------------------- the envelope

/// A validated request header.
#[derive(Debug, Clone)]
struct Header {
    message_id: String,
    action: String,
    sender_id: String,
    sender_uri: Option<String>,
    total_count: Option<i64>,
    version: Option<String>,
}

fn text_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, DciError> {
    match m.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 999 => Ok(s),
        Some(_) => Err(DciError::bad(format!(
            "header.{k} debe ser un texto no vacío"
        ))),
        None => Err(DciError::bad(format!("falta header.{k}"))),
    }
}

fn rfc3339(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

fn parse_header(h: &Map<String, Value>, registry_id: &str) -> Result<Header, DciError> {
    let message_id = text_field(h, "message_id")?.to_string();
    let ts = text_field(h, "message_ts")?;
    if rfc3339(ts).is_none() {
        return Err(DciError::bad(format!(
            "header.message_ts «{ts}» no es una fecha-hora ISO 8601 con zona"
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
                format!("receiver_id «{r}» no es este registro ({registry_id})"),
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
fn new_id() -> Result<String, DciError> {
    auth::random_hex(12).map_err(|e| ApiError::internal(e).into())
}

fn now_ts() -> String {
    auth::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The header of an answer (sync response or callback).
fn answer_header(
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
fn envelope(st: &AppState, header: Value, message: Option<Value>) -> Value {
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
fn ack(status: &str, correlation_id: &str, error: Option<(&str, String)>) -> Response {
    let mut m =
        json!({"ack_status": status, "timestamp": now_ts(), "correlation_id": correlation_id});
    if let (Some((code, message)), Some(o)) = (error, m.as_object_mut()) {
        o.insert("error".into(), json!({"code": code, "message": message}));
    }
    Json(json!({"message": m})).into_response()
}

/// A message refused as a whole (header-level `rjct.*`): a sync endpoint answers with the
/// rejected header, an async one with an `ERR` acknowledgement.
fn reject_message(
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
    let bytes = axum::body::to_bytes(body, st.settings.body_limit)
        .await
        .map_err(|_| DciError::bad("cuerpo ilegible o demasiado grande"))?;
    let env: Value =
        serde_json::from_slice(&bytes).map_err(|e| DciError::bad(format!("JSON inválido: {e}")))?;
    let header_v = env
        .get("header")
        .filter(|h| h.is_object())
        .ok_or_else(|| DciError::bad("falta header (objeto)"))?
        .clone();
    let message = env
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| DciError::bad("falta message (objeto)"))?
        .clone();
    let header_map = header_v.as_object().cloned().unwrap_or_default();
    let header = parse_header(&header_map, &st.settings.dci_registry_id)?;
    if message.get("ciphertext").is_some() {
        return Err(DciError::new(
            StatusCode::BAD_REQUEST,
            "err.encryption.invalid",
            "los mensajes cifrados (JWE) no se admiten: envíe el mensaje en claro sobre TLS",
        ));
    }
    let sid = header.sender_id.clone();
    let sender = st
        .pool
        .run(move |s| Ok(store::sender_by_id(s.sql(), &sid)?))
        .await?;
    let sender = match sender {
        Some(s) if s.active && s.username == p.user.username => s,
        _ => {
            return Err(DciError::new(
                StatusCode::FORBIDDEN,
                "err.sender_id.invalid",
                format!(
                    "sender_id «{}» no está registrado para esta cuenta (vamos dci sender add)",
                    header.sender_id
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
            "rjct.version.invalid",
            format!("versión no admitida: use {VERSION}"),
        );
    }
    if header.action != kind.action() {
        return reject_message(
            &st,
            kind,
            &receiver,
            "rjct.action.invalid",
            format!(
                "header.action «{}» no corresponde a {} (use «{}»)",
                header.action,
                kind.path(),
                kind.action()
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
        return Err(DciError::bad(format!(
            "el mensaje no tiene la lista que {} requiere",
            kind.path()
        )));
    };
    if requests > MAX_REQUESTS {
        return reject_message(
            &st,
            kind,
            &receiver,
            "rjct.total_count.limit_exceeded",
            format!("un mensaje admite hasta {MAX_REQUESTS} solicitudes"),
        );
    }
    if let Some(n) = header.total_count {
        if n != requests as i64 && !matches!(kind, Kind::TxnStatus | Kind::SyncTxnStatus) {
            return reject_message(
                &st,
                kind,
                &receiver,
                "rjct.total_count.invalid",
                format!("header.total_count = {n}, pero el mensaje trae {requests}"),
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
    let transaction_id = message
        .get("transaction_id")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 99)
        .ok_or_else(|| {
            DciError::bad("falta message.transaction_id (texto de hasta 99 caracteres)")
        })?
        .to_string();
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
        .run(move |s| Ok(store::insert_transaction(s.sql(), &txn)?))
        .await?;
    if !fresh {
        return reject_message(
            &st,
            kind,
            &receiver,
            "rjct.message_id.duplicate",
            format!(
                "message_id «{}» ya fue recibido de {receiver}",
                call.header.message_id
            ),
        );
    }
    if kind.is_sync() {
        let (msg, status) = process(&st, kind, &call).await?;
        let h = answer_header(&st, kind.answer().0, &status, None, &receiver, requests)?;
        return Ok(Json(envelope(&st, h, Some(msg))).into_response());
    }
    let correlation_id = call.correlation_id.clone();
    let st2 = st.clone();
    tokio::spawn(async move {
        let outcome = match process(&st2, kind, &call).await {
            Ok((msg, status)) => {
                deliver(&st2, kind, &call, Some(msg), &status, None, requests).await
            }
            // The sender still hears back: a rejected header carrying the reason.
            Err(e) => deliver(&st2, kind, &call, None, "rjct", Some(&e.message), requests).await,
        };
        if let Err(why) = outcome {
            // No personal data: the reason is a transport or validation message.
            tracing::warn!(correlation_id = %call.correlation_id, reason = %why, "respuesta DCI no entregada");
        }
    });
    Ok(ack("ACK", &correlation_id, None))
}

/// Where the answer to `call` goes: `header.sender_uri` when it lies under the sender's
/// registered callback URL, else that URL + `path`.
fn callback_url(sender: &Sender, sender_uri: Option<&str>, path: &str) -> Result<String, String> {
    let Some(base) = sender.callback_base.as_deref() else {
        return Err(format!(
            "el emisor {} no tiene URL de retorno registrada: use los endpoints /sync o registre --callback-base",
            sender.sender_id
        ));
    };
    match sender_uri {
        Some(u) if u.starts_with(base) && !u.contains("..") => Ok(u.to_string()),
        Some(u) => Err(format!(
            "sender_uri «{u}» no está bajo la URL de retorno registrada del emisor"
        )),
        None => Ok(format!("{}{path}", base.trim_end_matches('/'))),
    }
}

/// POSTs a signed answer to the sender and records the outcome on the transaction.
async fn deliver(
    st: &AppState,
    kind: Kind,
    call: &Call,
    msg: Option<Value>,
    status: &str,
    reason: Option<&str>,
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
        status,
        None,
        &call.sender.sender_id,
        total,
    )
    .map_err(|e| e.message)?;
    if let (Some(r), Some(o)) = (reason, h.as_object_mut()) {
        o.insert("status_reason_message".into(), r.into());
    }
    let body = envelope(st, h, msg);
    let result = post_json(url.clone(), body).await;
    let note = match &result {
        Ok(code) => format!("entregado a {url}: HTTP {code}"),
        Err(e) => format!("no entregado a {url}: {e}"),
    };
    let cid = call.correlation_id.clone();
    let now = now_ts();
    // A failed call was never finished by `process`: it ends rejected here.
    let failed = reason.map(|r| {
        json!([{"reference_id": "", "timestamp": now_ts(), "status": "rjct", "status_reason_message": r}])
            .to_string()
    });
    st.pool
        .run(move |s| {
            let sql = s.sql();
            match failed {
                Some(summary) => {
                    store::finish_transaction(sql, &cid, "rjct", &summary, Some(&note), &now)?
                }
                None => store::note_callback(sql, &cid, &note, &now)?,
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

/// Does the work of a call on a pooled connection: the answer message and the header status.
async fn process(st: &AppState, kind: Kind, call: &Call) -> Result<(Value, String), DciError> {
    let p = call.p.clone();
    let sender = call.sender.clone();
    let message = call.message.clone();
    let cid = call.correlation_id.clone();
    st.pool
        .run(move |s| {
            let (msg, summary, status) = match kind {
                Kind::SyncSearch | Kind::Search => search(s, &p, &message, &cid)?,
                Kind::Subscribe => subscribe(s, &p, &sender, &message, &cid)?,
                Kind::Unsubscribe => unsubscribe(s, &p, &sender, &message, &cid)?,
                Kind::TxnStatus | Kind::SyncTxnStatus => txn_status(s, &sender, &message, &cid)?,
            };
            store::finish_transaction(
                s.sql(),
                &cid,
                &status,
                &summary.to_string(),
                None,
                &now_ts(),
            )?;
            Ok((msg, status))
        })
        .await
        .map_err(DciError::from)
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

type Outcome = (Value, Value, String);

#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
fn search(
    s: &mut dyn Store,
    p: &Principal,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let fields = visible_fields(s, p)?;
    let scope = p.scope.district_ranges();
    let mut items = Vec::new();
    let mut disclosed: Vec<String> = Vec::new();
    let mut purpose = String::from("búsqueda DCI");
    for it in message["search_request"].as_array().into_iter().flatten() {
        let rid = match request_reference(it) {
            Ok(r) => r,
            Err(rejection) => {
                items.push(rejection);
                continue;
            }
        };
        let Some(c) = it.get("search_criteria").and_then(Value::as_object) else {
            items.push(rejected(
                rid,
                "rjct.search_criteria.invalid",
                "falta search_criteria",
            ));
            continue;
        };
        if let Some(t) = c
            .get("consent")
            .or_else(|| c.get("authorize"))
            .and_then(|x| x.get("purpose"))
            .and_then(|x| x.get("text"))
            .and_then(Value::as_str)
        {
            purpose = format!("búsqueda DCI: {}", t.chars().take(150).collect::<String>());
        }
        let entity = c
            .get("response_entity")
            .or_else(|| c.get("reg_record_type"))
            .and_then(Value::as_str)
            .unwrap_or("Member");
        if !matches!(
            entity.rsplit(':').next(),
            Some("Member" | "SRPerson" | "Person")
        ) {
            items.push(rejected(
                rid,
                "rjct.search_criteria.invalid",
                &format!("response_entity «{entity}» no admitido: este registro responde Member"),
            ));
            continue;
        }
        let (Some(qt), Some(q)) = (c.get("query_type").and_then(Value::as_str), c.get("query"))
        else {
            items.push(rejected(
                rid,
                "rjct.search_criteria.invalid",
                "faltan query_type y query",
            ));
            continue;
        };
        let filter = match parse_query(qt, q) {
            Ok(f) => f,
            Err(e) => {
                let code = if qt.ends_with("idtype-value")
                    || qt.ends_with("expression")
                    || qt.ends_with("predicate")
                {
                    "rjct.filter.invalid"
                } else {
                    "rjct.search_criteria.invalid"
                };
                items.push(rejected(rid, code, &e));
                continue;
            }
        };
        let mut sort = Vec::new();
        let mut sort_error = None;
        for x in c
            .get("sort")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = x
                .get("attribute_name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let desc = match x.get("sort_order").and_then(Value::as_str) {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(o) => {
                    sort_error = Some(format!("sort_order «{o}»: use asc o desc"));
                    break;
                }
            };
            match attr(name) {
                Some(Attr::Col(col)) => sort.push((col, desc)),
                _ => {
                    sort_error = Some(format!("no se puede ordenar por «{name}»"));
                    break;
                }
            }
        }
        if let Some(e) = sort_error {
            items.push(rejected(rid, "rjct.sort.invalid", &e));
            continue;
        }
        let pg = c.get("pagination");
        let size = pg.and_then(|x| x.get("page_size")).map(|v| v.as_f64());
        let number = pg.and_then(|x| x.get("page_number")).map(|v| v.as_f64());
        let size = match size {
            None => Some(100.0),
            Some(v) => v,
        };
        let number = match number {
            None => Some(1.0),
            Some(v) => v,
        };
        let (Some(size), Some(number)) = (size, number) else {
            items.push(rejected(
                rid,
                "rjct.pagination.invalid",
                "page_size y page_number deben ser números",
            ));
            continue;
        };
        if size.fract() != 0.0
            || number.fract() != 0.0
            || !(1.0..=MAX_PAGE_SIZE as f64).contains(&size)
            || !(1.0..=1.0e6).contains(&number)
        {
            items.push(rejected(
                rid,
                "rjct.pagination.invalid",
                &format!("page_size de 1 a {MAX_PAGE_SIZE} y page_number desde 1"),
            ));
            continue;
        }
        let (size, number) = (size as i64, number as i64);
        let total = views::count_persons(s.sql(), &filter, &scope)?;
        let rows = if (number - 1) * size < total {
            views::search_persons_offset(
                s.sql(),
                &filter,
                &scope,
                &sort,
                (number - 1) * size,
                size,
            )?
        } else {
            Vec::new()
        };
        disclosed.extend(
            rows.iter()
                .filter_map(|r| r.get("id").and_then(Value::as_i64))
                .map(|i| i.to_string()),
        );
        let records: Vec<Value> = rows
            .into_iter()
            .map(|r| member_record(r, &fields))
            .collect();
        items.push(json!({
            "reference_id": rid,
            "timestamp": now_ts(),
            "status": "succ",
            "data": {
                "version": VERSION,
                "reg_type": REG_TYPE,
                "reg_record_type": "Member",
                "reg_records": records,
            },
            "pagination": {"page_size": size, "page_number": number, "total_count": total},
            "locale": "spa",
        }));
    }
    audit(
        s,
        Some(p),
        "buscar personas (DCI)",
        "persona",
        &disclosed.join(","),
        &purpose,
        &format!("ok: {} registros, correlación {cid}", disclosed.len()),
    )?;
    let status = overall(&items);
    let summary = summarise(&items);
    Ok((
        json!({
            "transaction_id": message["transaction_id"],
            "correlation_id": cid,
            "search_response": items,
        }),
        summary,
        status,
    ))
}

/// Event types a subscription may watch.
fn event_type(t: &str) -> Option<&'static str> {
    match t.rsplit(':').next().unwrap_or(t) {
        "REGISTER" | "Register" | "register" => Some("REGISTER"),
        "NewHouseHoldMember" | "NewHouseholdMember" => Some("NewHouseHoldMember"),
        _ => None,
    }
}

fn subscribe(
    s: &mut dyn Store,
    p: &Principal,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    visible_fields(s, p)?;
    let existing = store::active_subscriptions(s.sql(), Some(&sender.sender_id))?;
    let (last_p, last_h) = store::registry_watermarks(s.sql())?;
    let mut items = Vec::new();
    let mut codes = Vec::new();
    for it in message["subscribe_request"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let rid = match request_reference(it) {
            Ok(r) => r,
            Err(rejection) => {
                items.push(rejection);
                continue;
            }
        };
        let c = it.get("subscribe_criteria").cloned().unwrap_or(Value::Null);
        let Some(ev) = c
            .get("reg_event_type")
            .and_then(Value::as_str)
            .and_then(event_type)
        else {
            items.push(rejected(
                rid,
                "rjct.notify_types.invalid",
                "reg_event_type debe ser REGISTER o NewHouseHoldMember",
            ));
            continue;
        };
        let ft = c
            .get("filter_type")
            .and_then(Value::as_str)
            .unwrap_or("expression");
        let filter = c.get("filter").cloned().unwrap_or(Value::Null);
        if let Err(e) = parse_query(ft, &filter) {
            items.push(rejected(rid, "rjct.notify_details.invalid", &e));
            continue;
        }
        let record_type = c
            .get("notify_record_type")
            .and_then(Value::as_str)
            .unwrap_or("Member");
        if !matches!(
            record_type.rsplit(':').next(),
            Some("Member" | "SRPerson" | "Person")
        ) {
            items.push(rejected(
                rid,
                "rjct.notify_details.invalid",
                "notify_record_type: este registro notifica Member",
            ));
            continue;
        }
        let filter_text = canonical_json(&filter);
        if existing
            .iter()
            .any(|e| e.reg_event_type == ev && e.filter == filter_text && e.filter_type == ft)
        {
            items.push(rejected(
                rid,
                "rjct.event.already_subscribed",
                "ya existe una suscripción igual de este emisor",
            ));
            continue;
        }
        let code = auth::random_hex(10).map_err(ApiError::internal)?;
        let now = now_ts();
        store::insert_subscription(
            s.sql(),
            &Subscription {
                code: code.clone(),
                sender_id: sender.sender_id.clone(),
                username: p.user.username.clone(),
                transaction_id: message["transaction_id"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                reference_id: rid.into(),
                reg_event_type: ev.into(),
                filter_type: ft.into(),
                filter: filter_text,
                notify_record_type: "Member".into(),
                status: "subscribe".into(),
                last_person_id: last_p,
                last_household_id: last_h,
                created_at: now.clone(),
                updated_at: now.clone(),
            },
        )?;
        codes.push(code.clone());
        items.push(json!({
            "reference_id": rid,
            "timestamp": now,
            "status": "succ",
            "subscriptions": [{
                "version": VERSION,
                "code": code,
                "status": "subscribe",
                "timestamp": now,
                "reg_type": REG_TYPE,
                "reg_event_type": ev,
                "filter_type": ft,
                "filter": filter,
                "notify_record_type": "Member",
            }],
            "locale": "spa",
        }));
    }
    audit(
        s,
        Some(p),
        "suscribir (DCI)",
        "suscripción",
        &codes.join(","),
        "notificación de nuevos registros",
        &format!("ok: {} suscripciones, correlación {cid}", codes.len()),
    )?;
    let status = overall(&items);
    let summary = summarise(&items);
    Ok((
        json!({"transaction_id": message["transaction_id"], "correlation_id": cid, "subscribe_response": items}),
        summary,
        status,
    ))
}

fn unsubscribe(
    s: &mut dyn Store,
    p: &Principal,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let mut statuses = Vec::new();
    let mut problem: Option<(&str, String)> = None;
    for code in message["subscription_codes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let code = code.as_str().unwrap_or_default();
        match store::subscription_by_code(s.sql(), code)? {
            None => {
                problem.get_or_insert((
                    "rjct.subscription_code.invalid",
                    format!("código «{code}» inexistente"),
                ));
            }
            Some(sub) if sub.sender_id != sender.sender_id => {
                problem.get_or_insert((
                    "rjct.requester.invalid",
                    format!("la suscripción «{code}» es de otro emisor"),
                ));
            }
            Some(sub) if sub.status == "unsubscribe" => {
                problem.get_or_insert((
                    "rjct.event.already_unsubscribed",
                    format!("la suscripción «{code}» ya estaba cancelada"),
                ));
                statuses.push(json!({"code": code, "status": "unsubscribe"}));
            }
            Some(_) => {
                store::set_subscription_status(s.sql(), code, "unsubscribe", &now_ts())?;
                statuses.push(json!({"code": code, "status": "unsubscribe"}));
            }
        }
    }
    audit(
        s,
        Some(p),
        "cancelar suscripción (DCI)",
        "suscripción",
        &statuses
            .iter()
            .filter_map(|x| x["code"].as_str())
            .collect::<Vec<_>>()
            .join(","),
        "notificación de nuevos registros",
        &format!("ok: {} canceladas, correlación {cid}", statuses.len()),
    )?;
    let mut msg = json!({
        "transaction_id": message["transaction_id"],
        "correlation_id": cid,
        "timestamp": now_ts(),
        "status": if problem.is_some() { "rjct" } else { "succ" },
        "subscription_status": statuses,
    });
    if let (Some((code, why)), Some(o)) = (&problem, msg.as_object_mut()) {
        o.insert("status_reason_code".into(), (*code).into());
        o.insert("status_reason_message".into(), why.clone().into());
    }
    let status = msg
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("succ")
        .to_string();
    let summary = json!([{"reference_id": message["transaction_id"], "timestamp": now_ts(), "status": status}]);
    Ok((msg, summary, status))
}

fn txn_status(
    s: &mut dyn Store,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let r = message
        .get("txnstatus_request")
        .cloned()
        .unwrap_or(Value::Null);
    let txn_type = r
        .get("txn_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(txn_type, "search" | "subscribe") {
        return Err(ApiError::bad_request(format!(
            "txn_type «{txn_type}» no admitido: search o subscribe"
        )));
    }
    let attr_type = r
        .get("attribute_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = r.get("attribute_value").cloned().unwrap_or(Value::Null);
    let (by_txn, by_cid, refs): (Option<&str>, Option<&str>, Option<Vec<&str>>) = match attr_type {
        "transaction_id" => (value.as_str(), None, None),
        "correlation_id" => (None, value.as_str(), None),
        "reference_id_list" => (
            None,
            None,
            value
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect()),
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "attribute_type «{other}»: transaction_id, reference_id_list o correlation_id"
            )))
        }
    };
    if by_txn.is_none() && by_cid.is_none() && refs.is_none() {
        return Err(ApiError::bad_request(
            "attribute_value no corresponde a attribute_type",
        ));
    }
    let found = store::find_transactions(s.sql(), &sender.sender_id, txn_type, by_txn, by_cid)?;
    let mut hit: Option<(Transaction, Vec<Value>)> = None;
    for t in found {
        if t.correlation_id == cid {
            continue;
        }
        let items: Vec<Value> = serde_json::from_str::<Value>(&t.summary)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        let items = match &refs {
            Some(list) => items
                .into_iter()
                .filter(|i| {
                    i["reference_id"]
                        .as_str()
                        .is_some_and(|r| list.contains(&r))
                })
                .collect(),
            None => items,
        };
        if refs.is_some() && items.is_empty() {
            continue;
        }
        hit = Some((t, items));
        break;
    }
    let Some((t, items)) = hit else {
        return Err(ApiError::not_found(
            "no hay una transacción de este emisor con ese dato",
        ));
    };
    let items: Vec<Value> = if items.is_empty() && t.status == "pdng" {
        vec![json!({"reference_id": t.transaction_id, "timestamp": t.updated_at, "status": "pdng"})]
    } else {
        items
    };
    let msg = json!({
        "transaction_id": message["transaction_id"],
        "correlation_id": cid,
        "txnstatus_response": {
            "txn_type": txn_type,
            "txn_status": {
                "transaction_id": t.transaction_id,
                "correlation_id": t.correlation_id,
                "search_response": items,
            },
        },
    });
    let summary = json!([{"reference_id": r.get("reference_id").cloned().unwrap_or_default(), "timestamp": now_ts(), "status": "succ"}]);
    Ok((msg, summary, "succ".into()))
}

// ---------------------------------------------------------------- notifications

/// Most records in one notification.
const NOTIFY_BATCH: i64 = 500;

/// One pending notification: the subscription, its records and the watermarks to move to.
struct Pending {
    sub: Subscription,
    callback: String,
    principal: Principal,
    ids: Vec<String>,
    records: Vec<Value>,
    marks: (i64, i64),
}

/// Finds new registrations for every active subscription and POSTs them to the subscribers'
/// `/registry/notify`; watermarks move only after a 2xx answer, so nothing is lost while a
/// subscriber is down. Returns how many records were delivered.
pub async fn notify_once(st: &AppState) -> Result<usize, String> {
    let pending = st
        .pool
        .run(collect_notifications)
        .await
        .map_err(|e| e.message)?;
    let mut delivered = 0;
    for p in pending {
        let events: Vec<Value> = p
            .records
            .iter()
            .map(|r| {
                json!({
                    "reference_id": p.sub.reference_id,
                    "timestamp": now_ts(),
                    "data": {
                        "version": VERSION,
                        "reg_type": REG_TYPE,
                        "reg_event_type": p.sub.reg_event_type,
                        "reg_record_type": "Member",
                        "reg_records": r,
                    },
                    "locale": "spa",
                })
            })
            .collect();
        let n = events.len();
        let msg = json!({"transaction_id": p.sub.transaction_id, "notify_event": events});
        let h = answer_header(st, "notify", "succ", None, &p.sub.sender_id, n)
            .map_err(|e| e.message)?;
        let result = post_json(p.callback.clone(), envelope(st, h, Some(msg))).await;
        let ok = result.is_ok();
        let outcome = match &result {
            Ok(code) => format!("ok: {n} registros entregados (HTTP {code})"),
            Err(e) => format!("error: no entregado ({e})"),
        };
        let (code, marks, ids, principal) =
            (p.sub.code.clone(), p.marks, p.ids.join(","), p.principal);
        st.pool
            .run(move |s| {
                audit(
                    s,
                    Some(&principal),
                    "notificar registros (DCI)",
                    "persona",
                    &ids,
                    &format!("suscripción {code}"),
                    &outcome,
                )?;
                if ok {
                    store::advance_subscription(s.sql(), &code, marks.0, marks.1, &now_ts())?;
                }
                Ok(())
            })
            .await
            .map_err(|e| e.message)?;
        if ok {
            delivered += n;
        }
    }
    Ok(delivered)
}

fn collect_notifications(s: &mut dyn Store) -> Result<Vec<Pending>, ApiError> {
    let subs = store::active_subscriptions(s.sql(), None)?;
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    let (max_p, max_h) = store::registry_watermarks(s.sql())?;
    let mut out = Vec::new();
    for sub in subs {
        if sub.last_person_id >= max_p {
            continue;
        }
        let Some(sender) = store::sender_by_id(s.sql(), &sub.sender_id)?.filter(|x| x.active)
        else {
            continue;
        };
        let Some(user) =
            vamos_store::accounts::user_by_name(s.sql(), &sub.username)?.filter(|u| u.active)
        else {
            continue;
        };
        let Ok(principal) = auth::principal_for_subscription(user, &sub.code) else {
            continue;
        };
        if !principal.role.grants(Permission::Dci) {
            continue;
        }
        let Ok(fields) = visible_fields(s, &principal) else {
            continue;
        };
        let Ok(filter) = parse_query(
            &sub.filter_type,
            &serde_json::from_str(&sub.filter).unwrap_or(Value::Null),
        ) else {
            continue;
        };
        let mut conds = vec![filter];
        if sub.reg_event_type == "NewHouseHoldMember" {
            conds.push(Filter::Cmp(
                PersonColumn::HouseholdId,
                Op::Le,
                sub.last_household_id.into(),
            ));
        }
        let page = views::search_persons(
            s.sql(),
            &Filter::And(conds),
            &principal.scope.district_ranges(),
            Some(sub.last_person_id),
            NOTIFY_BATCH,
        )?;
        // A full page: continue after its last id next round; else everything up to now is seen.
        let marks = match page.next {
            Some(last) => (last, sub.last_household_id),
            None => (max_p, max_h),
        };
        let Ok(callback) = callback_url(&sender, None, "/registry/notify") else {
            continue;
        };
        if page.items.is_empty() {
            store::advance_subscription(s.sql(), &sub.code, marks.0, marks.1, &now_ts())?;
            continue;
        }
        let ids = page
            .items
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .map(|i| i.to_string())
            .collect();
        let records = page
            .items
            .into_iter()
            .map(|r| member_record(r, &fields))
            .collect();
        out.push(Pending {
            sub,
            callback,
            principal,
            ids,
            records,
            marks,
        });
    }
    Ok(out)
}

/// Runs [`notify_once`] every `dci_notify` seconds until the process ends.
pub async fn notifier(st: AppState) {
    let mut tick = tokio::time::interval(st.settings.dci_notify);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match notify_once(&st).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(registros = n, "notificaciones DCI entregadas"),
            Err(e) => tracing::warn!(motivo = %e, "notificaciones DCI"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_of_the_three_types_become_filters() {
        let f = parse_query("idtype-value", &json!({"type": "UIN", "value": "42"})).unwrap();
        assert_eq!(f, Filter::Cmp(PersonColumn::Id, Op::Eq, 42i64.into()));
        let f = parse_query(
            "idtype-value",
            &json!({"type": "NationalID", "value": 1234567}),
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::Cmp(PersonColumn::NationalId, Op::Eq, 1234567i64.into())
        );
        assert!(parse_query("idtype-value", &json!({"type": "pasaporte", "value": "1"})).is_err());
        let f = parse_query(
            "expression",
            &json!({"type": "ns:org:QueryType:expression", "value": {"expression": {"collection": "Member", "query": {"$and": [{"district_code": {"$eq": 1116}}, {"sex": "female"}]}}}}),
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Cmp(PersonColumn::District, Op::Eq, 1116i64.into()),
                Filter::Cmp(PersonColumn::Sex, Op::Eq, "mujer".into()),
            ])
        );
        let f = parse_query(
            "predicate",
            &json!([
                {"seq_num": 2, "expression1": {"attribute_name": "YOB", "operator": "ge", "attribute_value": 2000}},
                {"seq_num": 1, "expression1": {"attribute_name": "district", "operator": "in", "attribute_value": [1116, 607]}, "condition": "not", "expression2": {"attribute_name": "sex", "operator": "eq", "attribute_value": "male"}},
            ]),
        )
        .unwrap();
        let Filter::And(parts) = f else { panic!("and") };
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[0], Filter::And(x) if matches!(x[1], Filter::Not(_))));
        assert_eq!(
            parts[1],
            Filter::Cmp(PersonColumn::BirthDate, Op::Ge, "2000-01-01".into())
        );
        for bad in [
            json!({"nope": {"$eq": 1}}),
            json!({"id": {"$regex": "x"}}),
            json!({"birth_date": "31/12/2000"}),
            json!({"id": "abc"}),
        ] {
            assert!(parse_query("expression", &bad).is_err(), "{bad}");
        }
        assert!(parse_query("graphql", &json!({})).is_err());
    }

    #[test]
    fn member_records_keep_only_agreed_fields() {
        let row: Map<String, Value> = serde_json::from_value(json!({
            "id": 7, "household_id": 3, "district_code": 1116, "given_names": "Ana", "family_names": "Benítez",
            "national_id": 1234567, "birth_date": "1990-05-01", "sex": "mujer", "embarazada": "si"
        }))
        .unwrap();
        let all = member_record(row.clone(), &None);
        assert_eq!(all["demographic_info"]["sex"], "female");
        assert_eq!(
            all["demographic_info"]["identifier"][0]["identifier_value"],
            "1234567"
        );
        assert_eq!(all["additional_attributes"][0]["name"], "embarazada");
        let some: BTreeSet<String> = ["id", "given_names"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = member_record(row, &Some(some));
        let text = r.to_string();
        assert!(
            text.contains("Ana")
                && !text.contains("Benítez")
                && !text.contains("1234567")
                && !text.contains("embarazada"),
            "{text}"
        );
    }
}
