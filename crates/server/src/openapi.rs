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
    let fields: Vec<&str> = vamos_domain::access::person_field_names();
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
    })
}

/// The document.
#[allow(clippy::indexing_slicing)] // reason: assigning a key of a JSON object inserts it, it cannot panic
pub fn document() -> Value {
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
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
        }
        let entry = paths
            .entry(e.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(e.method.to_string(), op);
        }
    }
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
pub async fn serve() -> Json<Value> {
    Json(document())
}
