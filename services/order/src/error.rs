//! The order service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code. Failures of the services an order depends on keep
//! their meaning: down → 503, too slow → 504, nonsense → 502. Internal
//! errors carry their cause for the log only. [`comms::service_error!`]
//! builds both answers.

use std::time::Duration;

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};

use crate::domain::OrderStatus;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// 400 / INVALID_ARGUMENT: the `Idempotency-Key` header is missing,
    /// repeated or malformed (the reason says which).
    #[error("the Idempotency-Key header is missing or malformed")]
    BadIdempotencyKey(String),
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
    /// 422 for bad fields, 503 or 500 for the database (every connection
    /// busy, as placements hold theirs across the upstream calls, is load
    /// worth a retry), 500 for a bug.
    #[error(transparent)]
    Failed(#[from] Failure),
}

comms::service_error!(OrderError);

impl ServiceError for OrderError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::BadIdempotencyKey(_) => ErrorKind::BadRequest,
            Self::UnknownProducts(_) | Self::KeyReused => ErrorKind::InvalidInput,
            Self::UnknownCustomer => ErrorKind::Forbidden,
            Self::NotFound => ErrorKind::NotFound,
            Self::NotCancellable(_) => ErrorKind::FailedPrecondition,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::BadGateway { .. } => ErrorKind::BadGateway,
            Self::Failed(failure) => failure.kind(),
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::BadIdempotencyKey(reason) => vec![FieldViolation::new("Idempotency-Key", reason.clone())],
            Self::Failed(failure) => failure.violations(),
            Self::UnknownProducts(skus) => {
                skus.iter().map(|sku| FieldViolation::new("lines", format!("unknown sku {sku}"))).collect()
            }
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
