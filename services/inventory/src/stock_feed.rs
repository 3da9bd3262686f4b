//! Stock changes as they are committed, for `WatchStock`.
//!
//! Every change to a product's stock (or its name or price) is announced
//! with `pg_notify` inside the transaction that makes it. PostgreSQL
//! delivers a notification only when that transaction commits, and delivers
//! them in commit order, to every instance that listens. One listener task
//! per instance turns them into a tokio broadcast channel that each watcher
//! subscribes to. Compared with sending to the channel from the code after
//! `commit()`, this also shows a watcher the changes committed by the
//! service's other replicas, and it cannot reorder two commits of one
//! product (two tasks racing to send after their commits could): the last
//! change a watcher sees always carries the product's current stock.

use chrono::{DateTime, Utc};
use comms::Shutdown;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The notification channel. Payloads are JSON [`StockChange`]s, far below
/// PostgreSQL's 8000-byte limit.
const CHANNEL: &str = "inventory_stock";

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
pub async fn announce(tx: &mut PgConnection, change: &StockChange) -> sqlx::Result<()> {
    let payload = serde_json::to_string(change).expect("a stock change serializes to JSON");
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(tx).await?;
    Ok(())
}

/// What a watcher receives from the feed.
#[derive(Clone, Debug)]
pub enum FeedEvent {
    Change(StockChange),
    /// The listener lost its connection; changes may have been missed, so
    /// a watcher must start again from a fresh snapshot.
    Interrupted,
}

/// The broadcast side of the feed. Cheap to clone.
#[derive(Clone)]
pub struct StockFeed {
    tx: broadcast::Sender<FeedEvent>,
}

impl StockFeed {
    /// Starts listening before it returns, so no change committed after
    /// start-up is missed. `capacity` is how far a watcher may fall behind
    /// before it is dropped. The task ends when `stop` trips.
    pub async fn start(db: &PgPool, capacity: usize, stop: Shutdown) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let mut listener = PgListener::connect_with(db).await?;
        listener.listen(CHANNEL).await?;
        let (tx, _) = broadcast::channel(capacity.max(1));
        let task = tokio::spawn(relay(listener, tx.clone(), stop));
        Ok((Self { tx }, task))
    }

    /// A receiver of every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.tx.subscribe()
    }
}

async fn relay(mut listener: PgListener, tx: broadcast::Sender<FeedEvent>, stop: Shutdown) {
    loop {
        let received = tokio::select! {
            received = listener.try_recv() => received,
            () = stop.clone().wait() => return,
        };
        // A send fails only when nobody watches, which is fine.
        match received {
            Ok(Some(notification)) => match serde_json::from_str(notification.payload()) {
                Ok(change) => {
                    let _ = tx.send(FeedEvent::Change(change));
                }
                Err(error) => tracing::warn!(%error, "unreadable stock notification"),
            },
            Ok(None) => {
                tracing::warn!("stock listener reconnected; watchers start over");
                let _ = tx.send(FeedEvent::Interrupted);
            }
            Err(error) => {
                tracing::warn!(%error, "stock listener failed; retrying in a second");
                let _ = tx.send(FeedEvent::Interrupted);
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    () = stop.clone().wait() => return,
                }
            }
        }
    }
}
