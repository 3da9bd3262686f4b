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

use comms::Shutdown;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};

use crate::db::{self, CHANGED_CHANNEL};
use crate::domain::Summary;

/// The least time between two recomputations: a dashboard refreshes no
/// faster, and it bounds the queries a busy stream of events causes.
const PACE: Duration = Duration::from_millis(200);

/// How long to wait before trying again after the database failed us.
const RETRY: Duration = Duration::from_secs(1);

pub struct Feed {
    db: PgPool,
    listener: PgListener,
    latest: watch::Sender<Summary>,
}

impl Feed {
    /// Listens first, then reads the first summary: a change committed in
    /// between is both in that summary and announced, never lost. The
    /// listener has a connection of its own so it never waits on the pool.
    pub async fn start(db: PgPool, database_url: &str) -> anyhow::Result<(Self, watch::Receiver<Summary>)> {
        let mut listener = PgListener::connect(database_url).await?;
        listener.listen(CHANGED_CHANNEL).await?;
        let (latest, summaries) = watch::channel(db::load_summary(&db).await?);
        Ok((Self { db, listener, latest }, summaries))
    }

    /// Publishes a fresh summary after each announced change until
    /// `shutdown` trips. Then the sender drops, and every open stream ends.
    pub async fn run(self, shutdown: Shutdown) {
        let Self { db, mut listener, latest } = self;
        let stale = Notify::new();
        // Notify keeps at most one permit: any number of notifications
        // while a recomputation runs cause exactly one more.
        let listen = async {
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => stale.notify_one(),
                    // The connection was lost and is back: notifications
                    // sent meanwhile are gone, so assume we missed some.
                    Ok(None) => stale.notify_one(),
                    Err(error) => {
                        tracing::warn!(%error, "listening for changes failed; retrying");
                        tokio::time::sleep(RETRY).await;
                    }
                }
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
            () = shutdown.wait() => {}
            () = listen => {}
            () = publish => {}
        }
    }
}
