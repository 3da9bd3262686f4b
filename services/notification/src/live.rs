//! New notifications as they are stored, for the live stream, across every
//! instance of the service.
//!
//! The transaction that stores a notification also sends a PostgreSQL
//! NOTIFY with its id ([`announce`]). NOTIFY is transactional, so listeners
//! hear only about committed rows, and it reaches every instance listening
//! on the database, whichever one consumed the event. Each process holds
//! ONE listening connection ([`FeedListener`]) and fans out through a tokio
//! broadcast channel to its open streams, each of which keeps its caller's.

use std::sync::Arc;
use std::time::Duration;

use comms::Shutdown;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::db;
use crate::domain::Notification;

/// The NOTIFY channel; the payload is the notification id.
pub const CHANNEL: &str = "notification_stored";

/// How many notifications a stream may fall behind before it misses some.
/// A client that lags that far has stalled; it can catch up with a list.
const BACKLOG: usize = 1024;

/// Tells every instance's listeners that notification `id` exists, once
/// the caller's transaction commits.
pub async fn announce(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(id.to_string()).execute(tx).await.map(|_| ())
}

/// What a stream subscribes to.
#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<Arc<Notification>>,
    closed: Shutdown,
}

impl LiveFeed {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notification>> {
        self.sender.subscribe()
    }

    /// Resolves when the service stops: open streams end then, so the
    /// server can drain instead of waiting on them for its whole grace.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + use<> {
        self.closed.clone().wait()
    }
}

/// The process's one listening connection, feeding a [`LiveFeed`].
pub struct FeedListener {
    listener: PgListener,
    db: PgPool,
    feed: LiveFeed,
}

impl FeedListener {
    /// Connects and LISTENs before returning, so nothing stored after the
    /// service has started is missed.
    pub async fn connect(db: &PgPool) -> sqlx::Result<Self> {
        let mut listener = PgListener::connect_with(db).await?;
        listener.listen(CHANNEL).await?;
        let (sender, _) = broadcast::channel(BACKLOG);
        Ok(Self { listener, db: db.clone(), feed: LiveFeed { sender, closed: Shutdown::new() } })
    }

    pub fn feed(&self) -> LiveFeed {
        self.feed.clone()
    }

    /// Forwards stored notifications to the open streams until `shutdown`,
    /// then ends them.
    pub async fn run(mut self, shutdown: Shutdown) {
        loop {
            tokio::select! {
                received = self.listener.recv() => match received {
                    Ok(notice) => self.forward(notice.payload()).await,
                    Err(error) => {
                        // The listener reconnects on the next recv; what was
                        // announced meanwhile is not streamed (a list shows it).
                        tracing::warn!(%error, "live feed lost its listener; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                () = shutdown.clone().wait() => break,
            }
        }
        self.feed.closed.trigger();
    }

    async fn forward(&self, payload: &str) {
        // Nobody is watching: skip the query.
        if self.feed.sender.receiver_count() == 0 {
            return;
        }
        let Ok(id) = payload.parse::<Uuid>() else {
            tracing::warn!(payload, "ignoring a malformed live-feed notice");
            return;
        };
        match db::find(&self.db, id).await {
            Ok(Some(notification)) => {
                // An error only means the last stream closed meanwhile.
                let _ = self.feed.sender.send(Arc::new(notification));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, notification_id = %id, "cannot load a notification for the live feed"),
        }
    }
}
