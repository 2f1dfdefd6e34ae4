//! The one error type of the use cases: what kind of failure (the HTTP crate maps it to a
//! status code, the command line to a message and an exit code), a stable machine code and a
//! Spanish message for people. Internal causes are logged here and never shown.

use std::fmt;

/// What went wrong, independent of any protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong: the message says what to fix.
    Invalid,
    /// The caller is not authenticated.
    Unauthenticated,
    /// The caller may not do this.
    Forbidden,
    /// Nothing with that id (or not within the caller's scope).
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// Too many requests from this caller.
    TooMany,
    /// The request is larger than the use case accepts.
    TooLarge,
    /// A service the use case needs is not available now (try again later).
    Unavailable,
    /// A fault of the system: logged with its cause, answered without it.
    Internal,
}

/// A use-case error: kind, a stable machine code and a message for people.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
}

/// The result of a use case.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Invalid, "solicitud_invalida", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Forbidden, "sin_permiso", message)
    }
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, "no_encontrado", message)
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, "conflicto", message)
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unavailable, code, message)
    }
    /// An internal failure: logged with its cause, reported without it.
    pub fn internal(cause: impl fmt::Display) -> Error {
        tracing::error!(cause = %cause, "error interno");
        Error::new(
            ErrorKind::Internal,
            "error_interno",
            "error interno del servidor; el detalle quedó en el registro del servidor",
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<vamos_store::StoreError> for Error {
    fn from(e: vamos_store::StoreError) -> Self {
        match e {
            vamos_store::StoreError::Invalid(m) => Error::bad_request(m),
            vamos_store::StoreError::Conflict(m) => Error::conflict(m),
            vamos_store::StoreError::NotInitialised => Error::unavailable(
                "base_no_inicializada",
                "la base de datos no está inicializada: ejecute «vamos db init»",
            ),
            other => Error::internal(other),
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::internal(format!("{e:#}"))
    }
}
