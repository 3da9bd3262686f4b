//! The database every service opens the same way: one pool, one reading of
//! what a database error means for a retry, one change feed.

mod change_feed;
mod errors;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use change_feed::{ChangeFeed, Notice};
pub use errors::{answer_kind, broken_constraint, is_transient};
#[doc(hidden)]
pub use sqlx as __sqlx; // for `service_error!` in crates that name no sqlx

/// A pool of at most `max_connections` to `url`, with `password` if
/// given (it overrides one in the URL). Its connections carry `service` as
/// their `application_name` unless the URL names one, so
/// `pg_stat_activity` and the server's logs say which service holds each.
pub async fn pool(url: &str, password: Option<&str>, max_connections: u32, service: &str) -> sqlx::Result<PgPool> {
    let mut options: PgConnectOptions = url.parse()?;
    if let Some(password) = password {
        options = options.password(password);
    }
    if options.get_application_name().is_none() {
        options = options.application_name(service);
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        // Fail a request quickly when the pool is exhausted instead of
        // queueing it past its own timeout.
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}
