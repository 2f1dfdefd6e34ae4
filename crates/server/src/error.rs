//! The one error type of the HTTP boundary: it picks the status code, logs the cause and
//! answers a consistent JSON body with a Spanish message — never a stack trace or SQL.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An API error: status, a stable machine code and a message for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "solicitud_invalida", message)
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_autenticado",
            "inicie sesión o presente un token de API válido",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "sin_permiso", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "no_encontrado", message)
    }
    pub fn too_many(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "demasiadas_solicitudes",
            message,
        )
    }
    /// An internal failure: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(cause = %cause, "error interno");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error_interno",
            "error interno del servidor; el detalle quedó en el registro del servidor",
        )
    }
}

impl From<vamos_store::StoreError> for ApiError {
    fn from(e: vamos_store::StoreError) -> Self {
        match e {
            vamos_store::StoreError::Invalid(m) => ApiError::bad_request(m),
            vamos_store::StoreError::NotInitialised => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "base_no_inicializada",
                "la base de datos no está inicializada: ejecute «vamos db init»",
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<vamos_app::Error> for ApiError {
    fn from(e: vamos_app::Error) -> Self {
        use vamos_app::ErrorKind as K;
        let status = match e.kind {
            K::Invalid => StatusCode::BAD_REQUEST,
            K::Unauthenticated => StatusCode::UNAUTHORIZED,
            K::Forbidden => StatusCode::FORBIDDEN,
            K::NotFound => StatusCode::NOT_FOUND,
            K::Conflict => StatusCode::CONFLICT,
            K::TooMany => StatusCode::TOO_MANY_REQUESTS,
            K::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            K::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            K::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.code, e.message)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("60"),
            );
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The body of every error answer, as the OpenAPI document describes it (`Error`); built by
/// [`ApiError::into_response`].
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code for programs and a Spanish message for people.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Código estable para programas
    pub code: String,
    /// Mensaje en español para personas
    pub message: String,
}

/// Middleware: the plain-text English answers of axum's extractors and of the body limit —
/// a malformed JSON body, a missing content type, a query or path that does not parse, a body
/// too large — become the JSON error body in Spanish with the same status (400, 413, 415,
/// 422). The server's own 4xx answers are JSON or HTML and pass untouched.
pub async fn spanish_rejections(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let plain = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let rewritten = [
        StatusCode::BAD_REQUEST,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::UNPROCESSABLE_ENTITY,
    ];
    if !plain || !rewritten.contains(&status) {
        return res;
    }
    let text = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    rejection(status, &text).into_response()
}

/// The Spanish error for an extractor's rejection `text` answered with `status`.
fn rejection(status: StatusCode, text: &str) -> ApiError {
    let detail = serde_detail(text);
    let with = |m: &str| match &detail {
        Some(d) => format!("{m}: {d}"),
        None => m.to_string(),
    };
    let lower = text.to_ascii_lowercase();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::new(
                status,
                "demasiado_grande",
                "el cuerpo de la solicitud supera el límite permitido",
            )
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE if lower.contains("x-www-form-urlencoded") => {
            "el formulario debe enviarse como application/x-www-form-urlencoded".to_string()
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "el cuerpo debe ser JSON: envíe la cabecera «Content-Type: application/json»"
                .to_string()
        }
        StatusCode::UNPROCESSABLE_ENTITY => with("el cuerpo no tiene la forma esperada"),
        _ if lower.contains("query string") => with("parámetros de consulta inválidos"),
        _ if lower.contains("invalid url") || lower.contains("path") => {
            "la ruta tiene un valor inválido".to_string()
        }
        _ if lower.contains("as json") => with("el cuerpo no es JSON válido"),
        _ => with("solicitud mal formada"),
    };
    ApiError::new(status, "solicitud_invalida", message)
}

/// What serde said was wrong, in Spanish where it follows one of its usual forms (a field
/// missing or unknown, a value of the wrong type, JSON cut short), with where it happened.
pub(crate) fn serde_detail(text: &str) -> Option<String> {
    // A field name is the client's (`{"<20 MB>": 1}`): repeated cut, as every echoed value.
    let tick = |s: &str| {
        s.split('`')
            .nth(1)
            .map(|f| vamos_domain::limits::echo(f).into_owned())
    };
    let (what, position) = match text.rsplit_once(" at line ") {
        Some((w, at)) => {
            let mut n = at.split(" column ");
            let line = n.next().unwrap_or("").trim();
            let column = n.next().unwrap_or("").trim();
            (w, Some(format!(" (línea {line}, columna {column})")))
        }
        None => (text, None),
    };
    let said = if let Some(i) = what.find("missing field") {
        format!("falta el campo «{}»", tick(&what[i..])?)
    } else if let Some(i) = what.find("unknown field") {
        format!("el campo «{}» no existe", tick(&what[i..])?)
    } else if let Some(i) = [
        "invalid type",
        "invalid value",
        "invalid digit",
        "Cannot parse",
    ]
    .iter()
    .find_map(|k| what.find(k))
    {
        // serde_path_to_error puts the field's path before the message: `a.b: invalid type…`.
        let field = what[..i]
            .trim_end_matches(": ")
            .rsplit(": ")
            .next()
            .filter(|f| {
                !f.is_empty()
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
            });
        match field {
            Some(f) => format!(
                "el campo «{}» tiene un valor inválido",
                vamos_domain::limits::echo(f)
            ),
            None => "un valor tiene un tipo inválido".to_string(),
        }
    } else if what.contains("EOF while parsing") {
        "el JSON termina antes de tiempo".to_string()
    } else if what.contains("expected") {
        "hay un carácter inesperado".to_string()
    } else {
        return None;
    };
    Some(format!("{said}{}", position.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extractor_rejections_are_answered_in_spanish() {
        let cases = [
            (
                StatusCode::BAD_REQUEST,
                "Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 12",
                "el cuerpo no es JSON válido: el JSON termina antes de tiempo (línea 1, columna 12)",
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: missing field `password` at line 1 column 20",
                "el cuerpo no tiene la forma esperada: falta el campo «password» (línea 1, columna 20)",
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: username: invalid type: integer `1`, expected a string at line 1 column 14",
                "el cuerpo no tiene la forma esperada: el campo «username» tiene un valor inválido (línea 1, columna 14)",
            ),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`",
                "el cuerpo debe ser JSON: envíe la cabecera «Content-Type: application/json»",
            ),
            (
                StatusCode::BAD_REQUEST,
                "Failed to deserialize query string: limit: invalid digit found in string",
                "parámetros de consulta inválidos: el campo «limit» tiene un valor inválido",
            ),
            (
                StatusCode::BAD_REQUEST,
                "Invalid URL: Cannot parse `abc` to a `i64`",
                "la ruta tiene un valor inválido",
            ),
        ];
        for (status, text, expected) in cases {
            let e = rejection(status, text);
            assert_eq!(e.status, status);
            assert_eq!(e.message, expected, "{text}");
        }
    }
}
