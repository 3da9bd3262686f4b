//! What every handler and consumer shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use comms::db::ChangeFeed;
use sqlx::PgPool;

pub struct AppState {
    pub db: PgPool,
    /// Committed stock changes, for `WatchStock` (see `stock_feed`).
    pub feed: ChangeFeed,
    pub low_stock_threshold: i64,
    /// Messages this instance has settled (duplicates included), so a test
    /// can see that every replica did its share.
    pub events_handled: Arc<AtomicU64>,
}
