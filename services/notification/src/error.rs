//! The notification service's one error type for its REST API.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP
//! status. Internal errors carry their cause for the log only. (Missing
//! identity is answered by the `Caller` extractor: 401.)

use axum::response::{IntoResponse, Response};
use comms::error::{ErrorKind, FieldViolation};
use comms::http::Problem;

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// 422, listing every bad field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 403.
    #[error("not allowed")]
    Forbidden,
    /// 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for NotificationError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

impl NotificationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::InvalidInput,
            Self::Forbidden => ErrorKind::Forbidden,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl IntoResponse for NotificationError {
    fn into_response(self) -> Response {
        match self {
            Self::Internal(cause) => Problem::internal(cause),
            Self::Invalid(violations) => Problem::new(ErrorKind::InvalidInput).violations(violations),
            other => Problem::new(other.kind()).detail(other.to_string()),
        }
        .into_response()
    }
}
