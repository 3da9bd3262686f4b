//! The user service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code ([`comms::service_error!`] builds both answers). Bad
//! fields, the database and bugs are the shared [`Failure`]; internal errors
//! carry their cause for the log only.

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// 409 / ALREADY_EXISTS, naming the `email` field.
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
    /// 422 for bad fields, 503 or 500 for the database, 500 for a bug.
    #[error(transparent)]
    Failed(#[from] Failure),
}

comms::service_error!(UserError);

impl ServiceError for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::EmailTaken => ErrorKind::Conflict,
            Self::InvalidCredentials => ErrorKind::Unauthenticated,
            Self::Forbidden => ErrorKind::Forbidden,
            Self::NotFound => ErrorKind::NotFound,
            Self::Failed(failure) => failure.kind(),
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::EmailTaken => vec![FieldViolation::new("email", "is already registered")],
            Self::Failed(failure) => failure.violations(),
            _ => Vec::new(),
        }
    }
}
