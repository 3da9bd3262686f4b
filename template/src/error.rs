//! The service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code ([`comms::service_error!`] builds both answers). Bad
//! fields, the database and bugs are the shared [`Failure`].

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// 404 / NOT_FOUND, also for an item that is someone else's.
    #[error("item not found")]
    NotFound,
    /// 422 / INVALID_ARGUMENT for bad fields, 503 or 500 for the database,
    /// 500 for a bug.
    #[error(transparent)]
    Failed(#[from] Failure),
}

comms::service_error!(TemplateError);

impl ServiceError for TemplateError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Failed(failure) => failure.kind(),
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::NotFound => Vec::new(),
            Self::Failed(failure) => failure.violations(),
        }
    }
}
