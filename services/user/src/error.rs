//! The user service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad fields, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

comms::service_errors! {
    pub enum UserError {
        EmailTaken => Conflict("email is already registered") on "email": "is already registered",
        /// The same answer for an unknown email and a wrong password, so the
        /// endpoint cannot be used to probe accounts.
        InvalidCredentials => Unauthenticated("wrong email or password"),
        Forbidden => Forbidden("not allowed"),
        NotFound => NotFound("user not found"),
    }
}
