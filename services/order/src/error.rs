//! The order service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code. Failures of the services an order depends on keep
//! their meaning: down → 503, too slow → 504, nonsense → 502. Internal
//! errors carry their cause for the log only.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use comms::error::{ErrorKind, FieldViolation};
use comms::http::Problem;

use crate::domain::OrderStatus;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// 400 / INVALID_ARGUMENT: the `Idempotency-Key` header is missing,
    /// repeated or malformed (the reason says which).
    #[error("the Idempotency-Key header is missing or malformed")]
    BadIdempotencyKey(String),
    /// 422 / INVALID_ARGUMENT, listing every bad field.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 422 / INVALID_ARGUMENT: inventory does not know these skus.
    #[error("unknown products: {}", .0.join(", "))]
    UnknownProducts(Vec<String>),
    /// 422 / INVALID_ARGUMENT: the key already placed a different order.
    #[error("this Idempotency-Key was already used with a different request body")]
    KeyReused,
    /// 403 / PERMISSION_DENIED: the caller's account no longer exists.
    #[error("unknown customer: the account placing the order does not exist")]
    UnknownCustomer,
    /// 404 / NOT_FOUND, also for another customer's order.
    #[error("order not found")]
    NotFound,
    /// 409 / FAILED_PRECONDITION.
    #[error("an order that is {0} cannot be cancelled")]
    NotCancellable(OrderStatus),
    /// 503 / UNAVAILABLE: a dependency is down or refusing work.
    #[error("{service} is unavailable")]
    Unavailable { service: &'static str, retry_after: Option<Duration> },
    /// 504 / DEADLINE_EXCEEDED: a dependency did not answer in time.
    #[error("{service} did not answer in time")]
    Timeout { service: &'static str },
    /// 502 / UNAVAILABLE: a dependency answered with an error that makes
    /// no sense for this request.
    #[error("{service} failed: {detail}")]
    BadGateway { service: &'static str, detail: String },
    /// 500 / INTERNAL.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for OrderError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // Every connection is busy (placements hold theirs across the
            // upstream calls): a load problem, worth a retry, not a bug.
            sqlx::Error::PoolTimedOut => Self::Unavailable { service: "the order database", retry_after: None },
            e => Self::Internal(anyhow::Error::new(e).context("database")),
        }
    }
}

impl OrderError {
    pub fn invalid(field: &str, description: &str) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadIdempotencyKey(_) => ErrorKind::BadRequest,
            Self::Invalid(_) | Self::UnknownProducts(_) | Self::KeyReused => ErrorKind::InvalidInput,
            Self::UnknownCustomer => ErrorKind::Forbidden,
            Self::NotFound => ErrorKind::NotFound,
            Self::NotCancellable(_) => ErrorKind::FailedPrecondition,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::BadGateway { .. } => ErrorKind::BadGateway,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        match self {
            Self::Internal(cause) => Problem::internal(cause),
            Self::BadIdempotencyKey(ref reason) => Problem::new(self.kind())
                .detail(self.to_string())
                .violations(vec![FieldViolation::new("Idempotency-Key", reason.clone())]),
            Self::Invalid(violations) => Problem::new(ErrorKind::InvalidInput).violations(violations),
            Self::UnknownProducts(ref skus) => {
                let violations = skus.iter().map(|sku| FieldViolation::new("lines", format!("unknown sku {sku}")));
                Problem::new(self.kind()).detail(self.to_string()).violations(violations.collect())
            }
            Self::Unavailable { retry_after: Some(wait), .. } => {
                // Round up: "retry in 0 s" would invite an immediate retry.
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Problem::new(self.kind()).detail(self.to_string()).retry_after(secs)
            }
            other => Problem::new(other.kind()).detail(other.to_string()),
        }
        .into_response()
    }
}

impl From<OrderError> for tonic::Status {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(violations) => comms::grpc::invalid_argument("invalid input", &violations),
            OrderError::Internal(cause) => comms::grpc::internal(&cause),
            other => comms::grpc::status(other.kind(), other.to_string()),
        }
    }
}
