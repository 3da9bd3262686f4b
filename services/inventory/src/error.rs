//! The inventory service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code. Internal errors carry their cause for the log only.

use axum::response::{IntoResponse, Response};
use comms::error::{ErrorKind, FieldViolation};
use comms::http::Problem;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// 422 / INVALID_ARGUMENT, listing every bad field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 409 / ALREADY_EXISTS.
    #[error("a product with this sku already exists")]
    SkuTaken,
    /// 403 / PERMISSION_DENIED.
    #[error("only an admin may change the catalogue")]
    Forbidden,
    /// 404 / NOT_FOUND.
    #[error("product not found")]
    NotFound,
    /// 500 / INTERNAL.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for InventoryError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

impl InventoryError {
    pub fn invalid(field: &str, description: &str) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::InvalidInput,
            Self::SkuTaken => ErrorKind::Conflict,
            Self::Forbidden => ErrorKind::Forbidden,
            Self::NotFound => ErrorKind::NotFound,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl IntoResponse for InventoryError {
    fn into_response(self) -> Response {
        match self {
            Self::Internal(cause) => Problem::internal(cause),
            Self::Invalid(violations) => Problem::new(ErrorKind::InvalidInput).violations(violations),
            other => Problem::new(other.kind()).detail(other.to_string()),
        }
        .into_response()
    }
}

impl From<InventoryError> for tonic::Status {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::Invalid(violations) => comms::grpc::invalid_argument("invalid input", &violations),
            InventoryError::Internal(cause) => comms::grpc::internal(&cause),
            other => comms::grpc::status(other.kind(), other.to_string()),
        }
    }
}
