//! The inventory service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad fields, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

comms::service_errors! {
    pub enum InventoryError {
        SkuTaken => Conflict("a product with this sku already exists") on "sku": "is already in the catalogue",
        Forbidden => Forbidden("only an admin may change the catalogue"),
        NotFound => NotFound("product not found"),
    }
}
