//! The inventory service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`], and through it to one HTTP status
//! and one gRPC code ([`comms::service_error!`] builds both answers). Bad
//! fields, the database and bugs are the shared [`Failure`].

use comms::error::{ErrorKind, Failure, FieldViolation, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// 409 / ALREADY_EXISTS, naming the `sku` field.
    #[error("a product with this sku already exists")]
    SkuTaken,
    /// 403 / PERMISSION_DENIED.
    #[error("only an admin may change the catalogue")]
    Forbidden,
    /// 404 / NOT_FOUND.
    #[error("product not found")]
    NotFound,
    /// 422 for bad fields, 503 or 500 for the database, 500 for a bug.
    #[error(transparent)]
    Failed(#[from] Failure),
}

comms::service_error!(InventoryError);

impl ServiceError for InventoryError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::SkuTaken => ErrorKind::Conflict,
            Self::Forbidden => ErrorKind::Forbidden,
            Self::NotFound => ErrorKind::NotFound,
            Self::Failed(failure) => failure.kind(),
        }
    }

    fn violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::SkuTaken => vec![FieldViolation::new("sku", "is already in the catalogue")],
            Self::Failed(failure) => failure.violations(),
            _ => Vec::new(),
        }
    }
}
