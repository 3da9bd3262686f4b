//! The inventory service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad fields, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

use comms::error::FieldViolation;

comms::service_errors! {
    pub enum InventoryError {
        SkuTaken => Conflict("a product with this sku already exists"),
        Forbidden => Forbidden("only an admin may change the catalogue"),
        NotFound => NotFound("product not found"),
    }
    violations = |error| match error {
        InventoryError::SkuTaken => vec![FieldViolation::new("sku", "is already in the catalogue")],
        _ => Vec::new(),
    };
}
