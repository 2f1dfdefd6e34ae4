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
