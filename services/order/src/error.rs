//! The order service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad fields, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

use std::time::Duration;

use comms::error::FieldViolation;

use crate::domain::OrderStatus;

comms::service_errors! {
    pub enum OrderError {
        /// The `Idempotency-Key` header is missing, repeated or malformed
        /// (the reason says which).
        BadIdempotencyKey(String) => BadRequest("the Idempotency-Key header is missing or malformed"),
        /// Inventory does not know these skus.
        UnknownProducts { skus: Vec<String> } => InvalidInput("unknown products: {}", .skus.join(", ")),
        /// The key already placed a different order.
        KeyReused => InvalidInput("this Idempotency-Key was already used with a different request body"),
        /// The caller's account no longer exists.
        UnknownCustomer => Forbidden("unknown customer: the account placing the order does not exist"),
        /// Also for another customer's order.
        NotFound => NotFound("order not found"),
        NotCancellable(OrderStatus) => FailedPrecondition("an order that is {0} cannot be cancelled"),
        /// A dependency is down or refusing work.
        Unavailable { service: &'static str, retry_after: Option<Duration> } => Unavailable("{service} is unavailable"),
        /// A dependency did not answer in time.
        Timeout { service: &'static str } => Timeout("{service} did not answer in time"),
        /// A dependency answered with an error that makes no sense for this
        /// request.
        BadGateway { service: &'static str, detail: String } => BadGateway("{service} failed: {detail}"),
    }
    violations = |error| match error {
        OrderError::BadIdempotencyKey(reason) => vec![FieldViolation::new("Idempotency-Key", reason.clone())],
        OrderError::UnknownProducts { skus } => {
            skus.iter().map(|sku| FieldViolation::new("lines", format!("unknown sku {sku}"))).collect()
        }
        _ => Vec::new(),
    };
    retry_after = |error| match error {
        OrderError::Unavailable { retry_after, .. } => *retry_after,
        _ => None,
    };
}
