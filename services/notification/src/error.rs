//! The notification service's one error type for its REST API.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP
//! status ([`comms::service_error!`] builds the answer). Bad parameters, the
//! database and bugs are the shared [`Failure`]. (Missing identity is
//! answered by the `Caller` extractor: 401.)

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// 403: another user's notifications.
    #[error("not allowed")]
    Forbidden,
    /// 422 for bad parameters, 503 or 500 for the database, 500 for a bug.
    #[error(transparent)]
    Failed(#[from] Failure),
}

comms::service_error!(NotificationError);

impl ServiceError for NotificationError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Forbidden => ErrorKind::Forbidden,
            Self::Failed(failure) => failure.kind(),
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Forbidden => Vec::new(),
            Self::Failed(failure) => failure.violations(),
        }
    }
}
