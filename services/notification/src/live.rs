//! New notifications as they are stored, for the live stream, across every
//! instance of the service.
//!
//! The transaction that stores a notification also sends a PostgreSQL
//! NOTIFY with its id ([`announce`]). NOTIFY is transactional, so listeners
//! hear only about committed rows, and it reaches every instance listening
//! on the database, whichever one consumed the event. Each process holds
//! ONE listening connection (`comms::db::ChangeFeed`), loads each stored
//! notification once and fans it out through a tokio broadcast channel to
//! its open streams, each of which keeps its caller's.

use std::sync::Arc;

use comms::Shutdown;
use comms::db::{ChangeFeed, Notice};
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::db;
use crate::domain::Notification;

/// The NOTIFY channel; the payload is the notification id.
pub(crate) const CHANNEL: &str = "notification_stored";

/// How many notifications a stream may fall behind before it misses some.
/// A client that lags that far has stalled; it can catch up with a list.
pub(crate) const BACKLOG: usize = 1024;

/// Tells every instance's listeners that notification `id` exists, once
/// the caller's transaction commits.
pub(crate) async fn announce(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    ChangeFeed::notify(tx, CHANNEL, &id.to_string()).await
}

/// What a stream subscribes to.
#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<Arc<Notification>>,
    closed: Shutdown,
}

impl LiveFeed {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Notification>> {
        self.sender.subscribe()
    }

    /// Resolves when the service stops: open streams end then, so the
    /// server can drain instead of waiting on them for its whole grace.
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + use<> {
        self.closed.clone().wait()
    }
}

/// The live feed over `changes`, and the task that loads each stored
/// notification once and passes it to every open stream. The task ends
/// with the change feed; `closed` is the service's stop signal.
pub(crate) fn start(
    db: PgPool,
    changes: &ChangeFeed,
    closed: Shutdown,
) -> (LiveFeed, impl Future<Output = anyhow::Result<()>> + use<>) {
    let (sender, _) = broadcast::channel(BACKLOG);
    let feed = LiveFeed { sender, closed };
    let mut notices = changes.subscribe();
    let forwarding = feed.clone();
    let task = async move {
        loop {
            match notices.recv().await {
                Ok(Notice::Change(payload)) => forward(&db, &forwarding.sender, &payload).await,
                // What was announced meanwhile is not streamed (a list shows it).
                Ok(Notice::Interrupted) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            }
        }
    };
    (feed, task)
}

async fn forward(db: &PgPool, sender: &broadcast::Sender<Arc<Notification>>, payload: &str) {
    // Nobody is watching: skip the query.
    if sender.receiver_count() == 0 {
        return;
    }
    let Ok(id) = payload.parse::<Uuid>() else {
        tracing::warn!(payload, "ignoring a malformed live-feed notice");
        return;
    };
    match db::find(db, id).await {
        Ok(Some(notification)) => {
            // An error only means the last stream closed meanwhile.
            let _ = sender.send(Arc::new(notification));
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, notification_id = %id, "cannot load a notification for the live feed"),
    }
}
