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
//!
//! A watcher subscribes before it reads its snapshot, so nothing committed
//! in between is lost; a notification can then arrive for a change the
//! snapshot already holds (committed just before it, delivered just after).
//! Each notification names its transaction and the snapshot says which
//! transactions it saw ([`Seen`]), so the watcher drops exactly those.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::db::products;

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
    /// The transaction that made the change; set by [`announce`], `None`
    /// in a snapshot.
    #[serde(default)]
    pub xid: Option<u64>,
}

impl StockChange {
    pub fn new(sku: impl Into<String>, stock: i64, reason: Reason) -> Self {
        Self { sku: sku.into(), stock, reason, at: Utc::now(), xid: None }
    }
}

/// Announces `change` to every watcher once (and only if) the caller's
/// transaction commits, stamped with that transaction's id in the same
/// statement.
pub(crate) async fn announce(tx: &mut PgConnection, change: &StockChange) -> sqlx::Result<()> {
    let payload = serde_json::to_string(change).expect("a stock change serializes to JSON");
    sqlx::query(
        "SELECT pg_notify($1, jsonb_set($2::jsonb, '{xid}', to_jsonb(pg_current_xact_id()::text::bigint))::text)",
    )
    .bind(CHANNEL)
    .bind(payload)
    .execute(tx)
    .await
    .map(|_| ())
}

/// The stock of `skus` (every product when `None`) as one snapshot sees
/// it, and which transactions that snapshot saw.
pub(crate) async fn snapshot(db: &PgPool, skus: Option<&[String]>) -> sqlx::Result<(Vec<StockChange>, Seen)> {
    // REPEATABLE READ: both statements read the one snapshot.
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let seen: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text").fetch_one(&mut *tx).await?;
    let stock = products::stock_of(&mut *tx, skus).await?;
    tx.commit().await?;
    let seen = Seen::parse(&seen).ok_or_else(|| sqlx::Error::Protocol(format!("unreadable snapshot {seen:?}")))?;
    let changes = stock.into_iter().map(|(sku, stock)| StockChange::new(sku, stock, Reason::Snapshot)).collect();
    Ok((changes, seen))
}

/// The transactions a snapshot saw, read from PostgreSQL's
/// `xmin:xmax:xip,...` form: every transaction before `xmin`, and those
/// before `xmax` that were not still running.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    xmin: u64,
    xmax: u64,
    running: Vec<u64>,
}

impl Seen {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let running = match parts.next()? {
            "" => Vec::new(),
            list => list.split(',').map(str::parse).collect::<Result<_, _>>().ok()?,
        };
        parts.next().is_none().then_some(Self { xmin, xmax, running })
    }

    /// Whether the snapshot already holds what transaction `xid` committed.
    pub fn includes(&self, xid: u64) -> bool {
        xid < self.xmin || (xid < self.xmax && !self.running.contains(&xid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_what_committed_before_it_and_nothing_still_running() {
        let seen = Seen::parse("100:105:101,103").unwrap();
        let included: Vec<u64> = (98..108).filter(|xid| seen.includes(*xid)).collect();
        assert_eq!(included, [98, 99, 100, 102, 104]);
        assert!(Seen::parse("7:7:").unwrap().includes(6));
        assert!(!Seen::parse("7:7:").unwrap().includes(7));
    }

    #[test]
    fn anything_else_is_not_a_snapshot() {
        for bad in ["", "1", "1:2", "1:2:x", "1:2:3:4", "-1:2:"] {
            assert_eq!(Seen::parse(bad), None, "{bad:?}");
        }
    }
}
