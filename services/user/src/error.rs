//! The user service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code. Internal errors carry their cause for the log only.

use axum::response::{IntoResponse, Response};
use comms::error::{ErrorKind, FieldViolation};
use comms::http::Problem;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// 422 / INVALID_ARGUMENT, listing every bad field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 409 / ALREADY_EXISTS.
    #[error("email is already registered")]
    EmailTaken,
    /// 401 / UNAUTHENTICATED. The same answer for an unknown email and a
    /// wrong password, so the endpoint cannot be used to probe accounts.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// 403 / PERMISSION_DENIED.
    #[error("not allowed")]
    Forbidden,
    /// 404 / NOT_FOUND.
    #[error("user not found")]
    NotFound,
    /// 500 / INTERNAL.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

impl UserError {
    pub fn invalid(field: &str, description: &str) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::InvalidInput,
            Self::EmailTaken => ErrorKind::Conflict,
            Self::InvalidCredentials => ErrorKind::Unauthenticated,
            Self::Forbidden => ErrorKind::Forbidden,
            Self::NotFound => ErrorKind::NotFound,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl IntoResponse for UserError {
    fn into_response(self) -> Response {
        match self {
            Self::Internal(cause) => Problem::internal(cause),
            Self::Invalid(violations) => Problem::new(ErrorKind::InvalidInput).violations(violations),
            other => Problem::new(other.kind()).detail(other.to_string()),
        }
        .into_response()
    }
}

impl From<UserError> for tonic::Status {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(violations) => comms::grpc::invalid_argument("invalid input", &violations),
            UserError::Internal(cause) => comms::grpc::internal(&cause),
            other => comms::grpc::status(other.kind(), other.to_string()),
        }
    }
}
