//! The user service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad fields, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

use std::time::Duration;

comms::service_errors! {
    pub enum UserError {
        EmailTaken => Conflict("email is already registered") on "email": "is already registered",
        /// The same answer for an unknown email and a wrong password, so the
        /// endpoint cannot be used to probe accounts.
        InvalidCredentials => Unauthenticated("wrong email or password"),
        Forbidden => Forbidden("not allowed"),
        NotFound => NotFound("user not found"),
        /// Too many recent failed sign-ins for this account or address
        /// (`login_throttle`): answered before any hash runs.
        TooManyAttempts { retry_after: Duration } => RateLimited("too many failed sign-ins: wait before trying again"),
        /// Every hashing slot is taken, and the queue for one is full.
        Busy => Unavailable("too many sign-ins at once: try again in a moment"),
    }
    retry_after = |error| match error {
        UserError::TooManyAttempts { retry_after } => Some(*retry_after),
        UserError::Busy => Some(Duration::from_secs(1)),
        _ => None,
    };
}

impl From<crate::domain::Busy> for UserError {
    fn from(_: crate::domain::Busy) -> Self {
        Self::Busy
    }
}
