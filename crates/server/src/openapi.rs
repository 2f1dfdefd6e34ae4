//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::ENDPOINTS`]) so
//! it lists every endpoint; each operation carries `x-vamos-permission` (the permission it
//! needs) and `x-vamos-personal-data`.

use crate::routes::{In, ENDPOINTS};
use axum::Json;
use serde_json::{json, Map, Value};

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "Código estable para programas"},
            "message": {"type": "string", "description": "Mensaje en español para personas"}
        }}}
    })
}

fn schemas() -> Value {
    let fields: Vec<&str> = vamos_domain::authz::person_field_names();
    json!({
        "Error": error_schema(),
        "Login": {"type": "object", "required": ["username", "password"], "properties": {
            "username": {"type": "string", "maxLength": 100}, "password": {"type": "string", "maxLength": 1024}}},
        "NewUser": {"type": "object", "required": ["username", "password", "role"], "properties": {
            "username": {"type": "string"}, "display_name": {"type": "string"}, "password": {"type": "string", "description": "Al menos 12 caracteres y tres clases (minúsculas, mayúsculas, números, símbolos)"},
            "role": {"type": "string", "enum": vamos_domain::Role::ALL.iter().filter(|r| **r != vamos_domain::Role::Publico).map(|r| r.code()).collect::<Vec<_>>()},
            "institution": {"type": "string"}, "territories": {"type": "string", "description": "Códigos separados por comas (DD o DDdd); vacío = nacional"}}},
        "NewToken": {"type": "object", "required": ["username", "name", "scopes"], "properties": {
            "username": {"type": "string"}, "name": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string", "enum": vamos_domain::Permission::ALL.iter().map(|p| p.code()).collect::<Vec<_>>()}},
            "days": {"type": "integer", "minimum": 1, "maximum": 730}}},
        "Agreement": {"type": "object", "required": ["institution", "fields", "purpose", "valid_from", "valid_to"], "properties": {
            "institution": {"type": "string"}, "fields": {"type": "array", "items": {"type": "string", "enum": fields}},
            "purpose": {"type": "string"}, "valid_from": {"type": "string", "format": "date"}, "valid_to": {"type": "string", "format": "date"},
            "reference": {"type": "string"}}},
        "CounterReferral": {"type": "object", "additionalProperties": false, "required": ["event_id", "service", "delivered_on"],
            "description": "Un servicio prestado. La persona: person_id (SIIS) o cedula. Idempotente por (institución, event_id).", "properties": {
            "event_id": {"type": "string", "maxLength": 100, "description": "Id del evento en el sistema de la institución"},
            "institution": {"type": "string", "description": "Código de la institución (por defecto, la de la cuenta)"},
            "person_id": {"type": ["string", "integer", "null"], "description": "Número de persona del SIIS"},
            "cedula": {"type": ["string", "integer", "null"], "description": "Cédula de identidad"},
            "service": {"type": "string", "description": "Código del servicio prestado (ej. control_prenatal)"},
            "delivered_on": {"type": "string", "description": "Fecha de entrega: AAAA-MM-DD o dd/mm/aaaa"},
            "place": {"type": ["string", "null"], "description": "Lugar (establecimiento)"},
            "place_district": {"type": ["string", "integer", "null"], "description": "Distrito del lugar (DDdd)"}}},
        "CounterReferralBatch": {"type": "object", "required": ["events"], "description": "También se acepta la lista sola", "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/CounterReferral"}}}},
        "CounterReferralFile": {"type": "string", "description": "Archivo CSV (columnas id_evento, institucion, persona_id o cedula, servicio, fecha_entrega, lugar, distrito_lugar) o XLSX"},
        "StatusChange": {"type": "object", "additionalProperties": false, "required": ["status"], "properties": {
            "status": {"type": "string", "enum": ["recibida", "contactada", "rechazada"]},
            "reason": {"type": "string", "maxLength": 500, "description": "Obligatorio al rechazar"}}},
        "Acknowledge": {"type": "object", "additionalProperties": false, "properties": {
            "territory": {"type": "string", "description": "PY, DD o DDdd"}, "institution": {"type": "string"}}},
        "GenerateReferrals": {"type": "object", "additionalProperties": false, "properties": {
            "measurement": {"type": "integer"}, "territory": {"type": "string"}}},
        "DciRequest": {"type": "object", "required": ["header", "message"], "description": "Sobre DCI {signature, header, message} (social_api_v1.0.0.yaml)", "properties": {
            "signature": {"type": "string", "description": "Signature: … algorithm=\"ed25519\" … signature=\"base64\" (obligatoria si el emisor registró una clave)"},
            "header": {"type": "object", "required": ["message_id", "message_ts", "action", "sender_id", "total_count"], "properties": {
                "version": {"type": "string", "default": crate::dci::VERSION}, "message_id": {"type": "string"}, "message_ts": {"type": "string", "format": "date-time"},
                "action": {"type": "string"}, "sender_id": {"type": "string"}, "sender_uri": {"type": "string", "format": "uri"},
                "receiver_id": {"type": "string"}, "total_count": {"type": "integer"}, "is_msg_encrypted": {"type": "boolean"}}},
            "message": {"type": "object"}}},
        "DciAck": {"type": "object", "properties": {"message": {"type": "object", "required": ["ack_status", "timestamp", "correlation_id"], "properties": {
            "ack_status": {"type": "string", "enum": ["ACK", "NACK", "ERR"]}, "timestamp": {"type": "string", "format": "date-time"},
            "correlation_id": {"type": "string"}, "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}},
        "DciResponse": {"type": "object", "required": ["header"], "properties": {
            "signature": {"type": "string"}, "header": {"type": "object"}, "message": {"type": "object"}}},
        "DciErrors": {"type": "object", "properties": {"errors": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}}}},
    })
}

/// The DCI operations under `base`.
fn dci_paths(base: &str, paths: &mut Map<String, Value>) {
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciErrors"}}}});
    for k in crate::dci::Kind::ALL {
        let ok = if k.is_sync() {
            json!({"description": "Respuesta DCI (header.status succ o rjct)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciResponse"}}}})
        } else {
            json!({"description": "Acuse (ACK; la respuesta va al callback del emisor) o ERR", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciAck"}}}})
        };
        let op = json!({
            "operationId": format!("dci_{}", k.path().trim_start_matches('/').replace('/', "_")),
            "summary": k.summary(),
            "tags": ["dci"],
            "security": [{"bearer": []}],
            "x-vamos-permission": vamos_domain::Permission::Dci.code(),
            "x-vamos-personal-data": matches!(k, crate::dci::Kind::Search | crate::dci::Kind::SyncSearch),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DciRequest"}}}},
            "responses": {
                "200": ok,
                "400": err("err.request.bad, err.receiver_id.invalid, err.encryption.invalid"),
                "401": err("err.request.unauthorized, err.signature.missing, err.signature.invalid"),
                "403": err("err.request.forbidden, err.sender_id.invalid"),
                "404": err("err.request.not_found (estado de una transacción inexistente)"),
                "429": err("err.request.too_many_requests"),
            },
        });
        paths.insert(format!("{base}{}", k.path()), json!({"post": op}));
    }
}

/// The document.
#[allow(clippy::indexing_slicing)] // reason: assigning a key of a JSON object inserts it, it cannot panic
pub fn document(dci_base: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for e in ENDPOINTS {
        let params: Vec<Value> = e
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": if p.place == In::Path { "path" } else { "query" },
                    "required": p.required || p.place == In::Path,
                    "description": p.description,
                    "schema": {"type": p.kind},
                })
            })
            .collect();
        let mut responses = Map::new();
        let ok_desc = if e.ok == 204 {
            "Hecho, sin contenido"
        } else {
            "Correcto"
        };
        let ok = if e.ok == 204 {
            json!({"description": ok_desc})
        } else if e.path == "/metrics" {
            json!({"description": ok_desc, "content": {"text/plain": {"schema": {"type": "string"}}}})
        } else {
            json!({"description": ok_desc, "content": {"application/json": {"schema": {"type": "object"}}}})
        };
        responses.insert(e.ok.to_string(), ok);
        let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        responses.insert("400".into(), err("Solicitud inválida"));
        if e.authenticated {
            responses.insert("401".into(), err("Sin credencial válida"));
            responses.insert(
                "403".into(),
                err("Sin permiso (rol, alcance del token, acuerdo o CSRF)"),
            );
            responses.insert("429".into(), err("Demasiadas solicitudes"));
        }
        if e.params.iter().any(|p| p.place == In::Path)
            || e.path.contains("logros")
            || e.path.contains("measurements")
        {
            responses.insert(
                "404".into(),
                err("No encontrado (o fuera del ámbito de la cuenta)"),
            );
        }
        if e.path == "/api/session" && e.method == "post" {
            responses.insert("401".into(), err("Usuario o contraseña incorrectos"));
            responses.insert("429".into(), err("Demasiados intentos o cuenta bloqueada"));
        }
        if e.path == "/api/ready" {
            responses.insert(
                "503".into(),
                json!({"description": "Base de datos no disponible o no inicializada"}),
            );
        }
        let mut op = json!({
            "operationId": format!("{}_{}", e.method, e.path.trim_start_matches('/').replace(['/', '.', '{', '}'], "_")),
            "summary": e.summary,
            "tags": [e.tag],
            "parameters": params,
            "responses": responses,
            "x-vamos-permission": e.permission.map(|p| p.code()),
            "x-vamos-personal-data": e.personal,
        });
        if e.authenticated {
            op["security"] = json!([{"bearer": []}, {"session": []}]);
        } else {
            op["security"] = json!([{}]);
        }
        if let Some(b) = e.body {
            let schema = json!({"$ref": format!("#/components/schemas/{b}")});
            op["requestBody"] = if b == "CounterReferralFile" {
                json!({"required": true, "content": {"text/csv": {"schema": schema}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}})
            } else {
                json!({"required": true, "content": {"application/json": {"schema": schema}}})
            };
        }
        if e.path.starts_with("/api/counter-referrals") {
            responses.insert("413".into(), err("Demasiado grande: divida el envío"));
            responses.insert(
                "422".into(),
                err("Evento rechazado (los motivos en errors)"),
            );
        }
        if e.path.starts_with("/api/referrals/") && e.method == "post" {
            responses.insert(
                "409".into(),
                err("Transición de estado no permitida o catálogo distinto"),
            );
        }
        let entry = paths
            .entry(e.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(e.method.to_string(), op);
        }
    }
    dci_paths(dci_base, &mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vamos — API del Sistema de Información del SPS ¡Vamos!",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "API JSON del registro, el estatus de protección, las mediciones y los Logros. Los datos personales se filtran por rol, institución, territorio y acuerdo de intercambio, y cada lectura queda en el registro de auditoría encadenado. Errores: {\"error\": {\"code\", \"message\"}} con mensaje en español.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Token de API (vamos token create)"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE, "description": "Cookie de sesión; las solicitudes que modifican llevan la cabecera X-CSRF-Token"},
            },
        },
    })
}

/// `GET /api/openapi.json`.
pub async fn serve(
    axum::extract::State(st): axum::extract::State<crate::state::AppState>,
) -> Json<Value> {
    Json(document(&st.settings.dci_base_path))
}
