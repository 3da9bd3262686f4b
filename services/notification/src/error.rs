//! The notification service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad parameters, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

comms::service_errors! {
    pub enum NotificationError {
        /// Another user's notifications.
        Forbidden => Forbidden("not allowed"),
    }
}
