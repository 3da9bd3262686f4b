//! The live summary behind StreamMetrics.
//!
//! One background task per process keeps the latest [`Summary`] in a
//! `tokio::sync::watch` channel; every stream reads from it. A watch holds
//! one value, so a slow reader skips to the latest summary instead of
//! building a backlog, and the process holds one summary however many
//! streams are open.
//!
//! Changes reach every instance, not only the one whose consumer applied
//! them: the consumer's transaction runs `pg_notify` (delivered only on
//! commit) and this task LISTENs on the same channel. Notifications only
//! mark the summary stale; recomputing is paced, so a burst of events costs
//! one recomputation per [`PACE`], not one per event.

use std::time::Duration;

use comms::db::ChangeFeed;
use sqlx::PgPool;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, watch};

use crate::db;
use crate::domain::Summary;

/// The least time between two recomputations: a dashboard refreshes no
/// faster, and it bounds the queries a busy stream of events causes.
const PACE: Duration = Duration::from_millis(200);

/// How long to wait before trying again after the database failed us.
const RETRY: Duration = Duration::from_secs(1);

/// Subscribes to `changes` first, then reads the first summary: a change
/// committed in between is both in that summary and announced, never lost.
/// Returns the receiver streams read from and the task that keeps it
/// current: it publishes a fresh summary after each announced change until
/// the change feed ends (the service stops); then the sender drops, and
/// every open stream ends.
pub(crate) async fn start(
    db: PgPool,
    changes: &ChangeFeed,
) -> anyhow::Result<(watch::Receiver<Summary>, impl Future<Output = anyhow::Result<()>> + use<>)> {
    let mut notices = changes.subscribe();
    let (latest, summaries) = watch::channel(db::load_summary(&db).await?);
    let task = async move {
        let stale = Notify::new();
        // Notify keeps at most one permit: any number of notices while a
        // recomputation runs cause exactly one more. An interruption or a
        // lag means notices were missed, so it marks the summary stale too.
        let listen = async {
            while !matches!(notices.recv().await, Err(RecvError::Closed)) {
                stale.notify_one();
            }
        };
        let publish = async {
            loop {
                stale.notified().await;
                match db::load_summary(&db).await {
                    Ok(summary) => {
                        latest.send_replace(summary);
                        tokio::time::sleep(PACE).await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "recomputing the summary failed; retrying");
                        stale.notify_one();
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        };
        tokio::select! {
            () = listen => {}
            () = publish => {}
        }
        Ok(())
    };
    Ok((summaries, task))
}
