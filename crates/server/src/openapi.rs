//! The OpenAPI 3.1 document at `/api/openapi.json`, generated: utoipa builds the JSON API's
//! operations from the handlers' `#[utoipa::path]` annotations and their wire types
//! ([`crate::api::openapi`]); [`finish`] adds what every operation shares — the error answers,
//! how it authenticates (derived from the `x-vamos-permission` it declares) — and the DCI
//! operations, whose envelopes the DCI standard defines, are added from [`crate::dci::Kind`] ([`crate::dci::paths`]).

use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The route of the document itself. It lives here rather than among the resources of
/// [`crate::api`] so that `api` does not depend on this module, which reads `api` (and `dci`).
pub fn router() -> axum::Router<AppState> {
    own().into()
}

fn own() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve))
}

/// `GET /api/openapi.json`. The document describes itself as an open object: its shape is the
/// OpenAPI 3.1 specification's, not ours.
#[utoipa::path(get, path = "/api/openapi.json", tag = "servicio",
    summary = "Este documento OpenAPI 3.1",
    responses((status = 200, description = "Correcto", body = Object)),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn serve(State(st): State<AppState>) -> Json<Value> {
    Json(document(&st.settings.dci_base_path))
}

/// The error answers every operation may give, and how it authenticates: an operation that
/// declares a permission, or a security requirement, needs a credential (bearer token or session
/// cookie) and may answer 401, 403 and 429; the others are public. Fills `x-vamos-permission`
/// (`null`) and `x-vamos-personal-data` (`false`) where absent, so every operation carries both.
#[allow(clippy::indexing_slicing)] // reason: assigning a key of a JSON object inserts it, it cannot panic
fn finish(paths: &mut Map<String, Value>) {
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    for ops in paths.values_mut() {
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let permission = op.get("x-vamos-permission").cloned().unwrap_or(Value::Null);
            let declared = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| {
                    s.iter()
                        .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
                });
            let authenticated = !permission.is_null() || declared;
            op.entry("x-vamos-permission").or_insert(Value::Null);
            op.entry("x-vamos-personal-data")
                .or_insert(Value::Bool(false));
            op.insert(
                "security".into(),
                if authenticated {
                    json!([{"bearer": []}, {"session": []}])
                } else {
                    json!([{}])
                },
            );
            let responses = op.entry("responses").or_insert_with(|| json!({}));
            if let Some(r) = responses.as_object_mut() {
                r.entry("400").or_insert_with(|| err("Solicitud inválida"));
                if authenticated {
                    r.entry("401")
                        .or_insert_with(|| err("Sin credencial válida"));
                    r.entry("403").or_insert_with(|| {
                        err("Sin permiso (rol, alcance del token, acuerdo o CSRF)")
                    });
                    r.entry("429")
                        .or_insert_with(|| err("Demasiadas solicitudes"));
                }
            }
        }
    }
}

/// The document: the JSON API's operations and the DCI operations under `dci_base`.
#[allow(clippy::indexing_slicing)] // reason: assigning a key of a JSON object inserts it, it cannot panic
pub fn document(dci_base: &str) -> Value {
    let mut api = crate::api::openapi();
    api.merge(own().into_openapi());
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    let mut paths = match doc.get_mut("paths").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    finish(&mut paths);
    crate::dci::paths(dci_base, &mut paths);
    let mut schemas = match doc.pointer_mut("/components/schemas").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Value::Object(dci) = crate::dci::schemas() {
        schemas.extend(dci);
    }
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "Vamos — API del Sistema de Información del SPS ¡Vamos!",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "API JSON del registro, el estatus de protección, las mediciones y los Logros. Los datos personales se filtran por rol, institución, territorio y acuerdo de intercambio, y cada lectura queda en el registro de auditoría encadenado. Errores: {\"error\": {\"code\", \"message\"}} con mensaje en español.",
        "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
    });
    doc["servers"] = json!([{"url": "/"}]);
    doc["paths"] = Value::Object(paths);
    doc["components"] = json!({
        "schemas": schemas,
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "Token de API (vamos token create)"},
            "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE, "description": "Cookie de sesión; las solicitudes que modifican llevan la cabecera X-CSRF-Token"},
        },
    });
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamos_domain::Permission;

    /// Every (path, method, operation) of a document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn every_operation_declares_its_permission_and_personal_data_next_to_it() {
        let mut api = crate::api::openapi();
        api.merge(own().into_openapi());
        let raw = serde_json::to_value(api).unwrap();
        let ops = operations(&raw);
        assert!(ops.len() >= 42, "{}", ops.len());
        for (path, method, op) in ops {
            let perm = op
                .get("x-vamos-permission")
                .unwrap_or_else(|| panic!("{method} {path} does not declare x-vamos-permission"));
            assert!(
                perm.is_null() || perm.as_str().and_then(Permission::parse).is_some(),
                "{method} {path}: {perm}"
            );
            let personal = op["x-vamos-personal-data"].as_bool().unwrap_or_else(|| {
                panic!("{method} {path} does not declare x-vamos-personal-data")
            });
            assert!(
                !personal || !perm.is_null(),
                "{method} {path}: personal and public"
            );
        }
    }

    #[test]
    fn operations_are_unique_and_their_references_resolve() {
        let doc = document("/dci");
        let text = doc.to_string();
        let mut ids = std::collections::BTreeSet::new();
        for (path, method, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(
                ids.insert(id.clone()),
                "operationId {id} twice ({method} {path})"
            );
        }
        for r in text.split("\"$ref\":\"").skip(1) {
            let name = r.split('"').next().unwrap();
            let key = name.trim_start_matches("#/components/schemas/");
            assert!(doc["components"]["schemas"].get(key).is_some(), "{name}");
        }
    }

    #[test]
    fn operations_with_a_permission_need_a_credential_and_the_others_do_not() {
        let doc = document("/dci");
        assert_eq!(doc["openapi"], "3.1.0");
        for (path, method, op) in operations(&doc) {
            let needs = !op["x-vamos-permission"].is_null()
                || (path == "/api/session" && method != "post")
                || path == "/api/session/password";
            let security = op["security"].as_array().unwrap();
            assert_eq!(
                security.iter().any(|s| s.get("bearer").is_some()),
                needs,
                "{method} {path}"
            );
            assert_eq!(
                op["responses"].get("401").is_some(),
                needs || path == "/api/session",
                "{method} {path}"
            );
            // DCI answers a malformed message in the standard's envelope (200), never 400.
            let dci = op["tags"] == json!(["dci"]);
            assert_eq!(
                op["responses"].get("400").is_some(),
                !dci,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn dci_operations_are_listed_under_the_base_path() {
        let doc = document("/registro/dci");
        for k in crate::dci::Kind::ALL {
            let op = &doc["paths"][format!("/registro/dci{}", k.path())]["post"];
            assert_eq!(
                op["x-vamos-permission"],
                Permission::Dci.code(),
                "{}",
                k.path()
            );
        }
    }

    #[test]
    #[ignore = "prints the document, for reading"]
    fn print_the_document() {
        println!(
            "{}",
            serde_json::to_string_pretty(&document("/dci")).unwrap()
        );
    }
}
