//! The analytics service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code ([`comms::service_error!`] builds both answers). Bad
//! parameters, the database and bugs are the shared [`Failure`].

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// 403 / PERMISSION_DENIED: analytics is for admins.
    #[error("analytics is for admins only")]
    Forbidden,
    /// 503 / UNAVAILABLE: the instance is stopping; another will answer.
    #[error("shutting down")]
    ShuttingDown,
    /// 422 for bad parameters, 503 or 500 for the database, 500 for a bug.
    #[error(transparent)]
    Failed(#[from] Failure),
}

comms::service_error!(AnalyticsError);

impl ServiceError for AnalyticsError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Forbidden => ErrorKind::Forbidden,
            Self::ShuttingDown => ErrorKind::Unavailable,
            Self::Failed(failure) => failure.kind(),
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Failed(failure) => failure.violations(),
            _ => Vec::new(),
        }
    }
}
