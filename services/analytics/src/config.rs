//! The analytics service reads only the settings every service reads
//! (`comms::settings::ServiceSettings`, under `ANALYTICS_`: `_HOST`,
//! `_HTTP_PORT` 8085, `_GRPC_PORT` 9085, `_METRICS_PORT` 7085, `_DATABASE_URL`,
//! `_DATABASE_MAX_CONNECTIONS`, `_SHUTDOWN_GRACE_SECS`, `_CONSUL_URL`,
//! `_ADVERTISE_HOST`, and the unprefixed broker variables; defaults from
//! [`crate::SERVICE`]).

/// Nothing of its own yet: when it needs some, a struct of its own takes
/// the place of `NoOwnSettings`, as in the other services.
pub type Settings = comms::settings::Settings<comms::settings::NoOwnSettings>;
