//! Stock changes as they are committed, for `WatchStock`.
//!
//! Every change to a product's stock (or its name or price) is announced
//! with `pg_notify` inside the transaction that makes it. PostgreSQL
//! delivers a notification only when that transaction commits, and delivers
//! them in commit order, to every instance that listens. One listener per
//! instance (`comms::db::ChangeFeed`) fans them out to the watchers.
//! Compared with sending to the channel from the code after
//! `commit()`, this also shows a watcher the changes committed by the
//! service's other replicas, and it cannot reorder two commits of one
//! product (two tasks racing to send after their commits could): the last
//! change a watcher sees always carries the product's current stock.

use chrono::{DateTime, Utc};
use comms::db::ChangeFeed;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// The notification channel. Payloads are JSON [`StockChange`]s, far below
/// PostgreSQL's 8000-byte limit.
pub(crate) const CHANNEL: &str = "inventory_stock";

/// What moved a product's stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The stock when the watch began (never announced, only sent).
    Snapshot,
    Created,
    /// Name or price changed; the stock is repeated as it is.
    Updated,
    Restocked,
    Reserved,
    Released,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Restocked => "restocked",
            Self::Reserved => "reserved",
            Self::Released => "released",
        }
    }
}

/// A product's stock after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    pub sku: String,
    pub stock: i64,
    pub reason: Reason,
    pub at: DateTime<Utc>,
}

impl StockChange {
    pub fn new(sku: impl Into<String>, stock: i64, reason: Reason) -> Self {
        Self { sku: sku.into(), stock, reason, at: Utc::now() }
    }
}

/// Announces `change` to every watcher once (and only if) the caller's
/// transaction commits.
pub(crate) async fn announce(tx: &mut PgConnection, change: &StockChange) -> sqlx::Result<()> {
    let payload = serde_json::to_string(change).expect("a stock change serializes to JSON");
    ChangeFeed::notify(tx, CHANNEL, &payload).await
}
