//! Changes as they are committed, from PostgreSQL's LISTEN/NOTIFY.
//!
//! A transaction that changes something announces it with [`ChangeFeed::notify`].
//! PostgreSQL delivers a notification only when that transaction commits,
//! in commit order, to every connection listening on the channel: every
//! replica of the service hears every change, whichever one made it.
//!
//! Each process holds ONE listening connection per channel and fans out
//! through a broadcast channel, so a thousand open streams cost one
//! connection. When the listener loses its connection, notifications sent
//! meanwhile are gone: subscribers get [`Notice::Interrupted`] and must
//! start over from the database (a fresh snapshot), then notices resume.
//! When the service stops, the feed ends and so does every subscription,
//! so open streams close and the server can drain.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::shutdown::Shutdown;

/// What a subscriber receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A committed change's payload, as the writer sent it.
    Change(String),
    /// The listener reconnected: changes may have been missed.
    Interrupted,
}

/// The receiving side of one channel. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    // Weak: the listening task holds the only strong sender, so the
    // channel closes (and subscriptions end) when the task does.
    sender: broadcast::WeakSender<Notice>,
}

impl ChangeFeed {
    /// Starts listening on `channel` with a connection of its own (from
    /// `db`'s options, outside the pool, so it never waits for one) before
    /// it returns: nothing committed after start-up is missed. `capacity`
    /// is how far a subscriber may fall behind before it misses notices
    /// (it gets `Lagged` and should start over). The task ends when `stop`
    /// trips.
    pub async fn listen(
        db: &PgPool,
        channel: &'static str,
        capacity: usize,
        stop: Shutdown,
    ) -> sqlx::Result<(Self, JoinHandle<()>)> {
        let mut listener = PgListener::connect_with(db).await?;
        listener.listen(channel).await?;
        let (sender, _) = broadcast::channel(capacity.max(1));
        let feed = Self { sender: sender.downgrade() };
        Ok((feed, tokio::spawn(forward(listener, channel, sender, stop))))
    }

    /// Every notice from now on; the receiver closes when the feed stops.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        match self.sender.upgrade() {
            Some(sender) => sender.subscribe(),
            // Already stopped: a receiver that is closed at once.
            None => broadcast::channel(1).1,
        }
    }

    /// Announces `payload` on `channel` once (and only if) the caller's
    /// transaction commits. PostgreSQL limits a payload to 8000 bytes.
    pub async fn notify(tx: &mut PgConnection, channel: &str, payload: &str) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(tx).await.map(|_| ())
    }
}

async fn forward(mut listener: PgListener, channel: &str, sender: broadcast::Sender<Notice>, stop: Shutdown) {
    loop {
        let received = tokio::select! {
            received = listener.try_recv() => received,
            () = stop.clone().wait() => return,
        };
        // A send fails only when nobody is subscribed, which is fine.
        match received {
            Ok(Some(notification)) => {
                let _ = sender.send(Notice::Change(notification.payload().to_owned()));
            }
            // The connection was lost; the next receive reconnects.
            Ok(None) => {
                tracing::warn!(channel, "change feed lost its connection; subscribers start over");
                let _ = sender.send(Notice::Interrupted);
            }
            Err(error) => {
                tracing::warn!(channel, %error, "change feed cannot listen; retrying in a second");
                let _ = sender.send(Notice::Interrupted);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.clone().wait() => return,
                }
            }
        }
    }
}
