//! Pruning the outbox and the inbox, which otherwise grow by a row per
//! event for ever.
//!
//! - **Outbox:** rows published longer ago than
//!   [`Retention::published_outbox`] (default 7 days) go. Rows not yet
//!   published never do, however old: they are events still owed.
//! - **Inbox:** ids recorded longer ago than [`Retention::inbox`] (default
//!   7 days) go. The inbox only needs an id for as long as the broker might
//!   deliver that event again (a redelivery after a crash, a consumer
//!   group rewound); a copy arriving after a week would be applied again.
//!
//! Deletes run in batches ([`Retention::batch`] rows a statement), so a
//! large backlog never holds locks or a transaction for long. Every
//! replica may prune at once: deleting the same old rows twice is harmless.

use std::time::Duration;

use sqlx::PgPool;

use crate::shutdown::Shutdown;

#[derive(Clone, Debug)]
pub struct Retention {
    pub published_outbox: Duration,
    pub inbox: Duration,
    /// How often to prune (default hourly; the first run is at start).
    pub interval: Duration,
    pub batch: i64,
}

impl Default for Retention {
    fn default() -> Self {
        let week = Duration::from_secs(7 * 24 * 3600);
        Self { published_outbox: week, inbox: week, interval: Duration::from_secs(3600), batch: 5_000 }
    }
}

/// Rows one pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub outbox: u64,
    pub inbox: u64,
}

/// Deletes what `retention` says has expired, batch after batch.
pub async fn prune(pool: &PgPool, retention: &Retention) -> sqlx::Result<Pruned> {
    let outbox = delete_in_batches(
        pool,
        "DELETE FROM comms_outbox WHERE id IN (
             SELECT id FROM comms_outbox
             WHERE published_at < now() - make_interval(secs => $1) LIMIT $2)",
        retention.published_outbox,
        retention.batch,
    )
    .await?;
    let inbox = delete_in_batches(
        pool,
        "DELETE FROM comms_inbox WHERE (consumer, event_id) IN (
             SELECT consumer, event_id FROM comms_inbox
             WHERE processed_at < now() - make_interval(secs => $1) LIMIT $2)",
        retention.inbox,
        retention.batch,
    )
    .await?;
    Ok(Pruned { outbox, inbox })
}

async fn delete_in_batches(pool: &PgPool, sql: &'static str, age: Duration, batch: i64) -> sqlx::Result<u64> {
    let mut deleted = 0;
    loop {
        let done = sqlx::query(sql).bind(age.as_secs_f64()).bind(batch).execute(pool).await?.rows_affected();
        deleted += done;
        if done < batch.max(1) as u64 {
            return Ok(deleted);
        }
    }
}

/// Prunes at start and then every [`Retention::interval`] until shutdown.
/// A failed run is logged and tried again at the next interval.
pub async fn run(pool: PgPool, retention: Retention, shutdown: Shutdown) {
    loop {
        match prune(&pool, &retention).await {
            Ok(pruned) if pruned != Pruned::default() => {
                tracing::info!(outbox = pruned.outbox, inbox = pruned.inbox, "pruned expired outbox and inbox rows");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "pruning the outbox and inbox failed; will try again"),
        }
        tokio::select! {
            () = tokio::time::sleep(retention.interval) => {}
            () = shutdown.clone().wait() => return,
        }
    }
}
