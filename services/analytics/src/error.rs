//! The analytics service's one error type, for REST and gRPC alike.
//!
//! Each variant maps to one [`ErrorKind`](comms::ErrorKind), and through it
//! to one HTTP status and one gRPC code ([`comms::service_errors!`] builds
//! both answers). Bad parameters, the database and bugs are the shared
//! `Failed` variant ([`comms::error::Failure`]).

comms::service_errors! {
    pub enum AnalyticsError {
        /// Analytics is for admins.
        Forbidden => Forbidden("analytics is for admins only"),
        /// The instance is stopping; another will answer.
        ShuttingDown => Unavailable("shutting down"),
    }
}
