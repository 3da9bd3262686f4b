//! The analytics service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code. Internal errors carry their cause for the log only.

use axum::response::{IntoResponse, Response};
use comms::error::{ErrorKind, FieldViolation};
use comms::http::Problem;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// 422 / INVALID_ARGUMENT, listing every bad field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 403 / PERMISSION_DENIED: analytics is for admins.
    #[error("analytics is for admins only")]
    Forbidden,
    /// 503 / UNAVAILABLE: the instance is stopping; another will answer.
    #[error("shutting down")]
    ShuttingDown,
    /// 500 / INTERNAL.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AnalyticsError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

impl AnalyticsError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::InvalidInput,
            Self::Forbidden => ErrorKind::Forbidden,
            Self::ShuttingDown => ErrorKind::Unavailable,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl IntoResponse for AnalyticsError {
    fn into_response(self) -> Response {
        match self {
            Self::Internal(cause) => Problem::internal(cause),
            Self::Invalid(violations) => Problem::new(ErrorKind::InvalidInput).violations(violations),
            other => Problem::new(other.kind()).detail(other.to_string()),
        }
        .into_response()
    }
}

impl From<AnalyticsError> for tonic::Status {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::Invalid(violations) => comms::grpc::invalid_argument("invalid input", &violations),
            AnalyticsError::Internal(cause) => comms::grpc::internal(&cause),
            other => comms::grpc::status(other.kind(), other.to_string()),
        }
    }
}
