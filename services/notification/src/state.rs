//! What every handler shares.

use std::time::Duration;

use comms::long_streams::OpenStreams;
use sqlx::PgPool;

use crate::live::LiveFeed;

pub struct AppState {
    pub db: PgPool,
    pub(crate) live: LiveFeed,
    /// How often an idle live stream gets a comment line, so proxies and
    /// clients do not take it for a dead connection.
    pub keep_alive: Duration,
    /// The live streams open, per user (capped, each with a lifetime).
    pub streams: OpenStreams,
}
