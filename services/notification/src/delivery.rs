//! Delivery: the task-queue pattern. Storing a notification queues ONE
//! task on `notification.delivery` (point to point: competing workers,
//! each task done once), unlike domain events, which fan out to every
//! interested service.
//!
//! A worker loads the notification, sends it through the [`Channel`] and
//! records the outcome on the row. A failed attempt is retried with the
//! subscription's delays; after the last one the broker moves the task to
//! `notification.delivery.dlq` with the reason, and the row stays, marked
//! `failed`, with its attempts and last error.
//!
//! Delivery is at least once: if the process dies between the channel
//! accepting a message and the row being marked, the task runs again and
//! the message goes out twice. For email that is the accepted trade (the
//! Message-ID is the same, so clients can tell).

use std::sync::Arc;

use comms::messaging::{Delivery, Envelope, Event, Handler, HandlerError};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::channel::{Channel, SendError};
use crate::db;
use crate::domain::Status;

/// The work queue (and the name of its retry and dead-letter queues).
pub const QUEUE: &str = "notification.delivery";

/// The task: deliver this notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverNotification {
    pub notification_id: Uuid,
}

impl Event for DeliverNotification {
    const TYPE: &'static str = "notification.deliver";

    fn subject(&self) -> String {
        self.notification_id.to_string()
    }
}

pub struct DeliveryWorker {
    db: PgPool,
    channel: Arc<dyn Channel>,
    /// The subscription's attempts: the last one marks the row failed.
    max_attempts: u32,
}

impl DeliveryWorker {
    pub fn new(db: PgPool, channel: Arc<dyn Channel>, max_attempts: u32) -> Self {
        Self { db, channel, max_attempts }
    }

    #[tracing::instrument(skip_all, fields(notification_id = %task.notification_id, attempt = attempt, channel = self.channel.name()))]
    async fn deliver(&self, task: DeliverNotification, attempt: u32) -> Result<(), HandlerError> {
        let Some(notification) = db::find(&self.db, task.notification_id).await? else {
            // The task commits with its row, so this is an outside deletion.
            return Err(HandlerError::Permanent(format!("notification {} does not exist", task.notification_id)));
        };
        if notification.status == Status::Sent {
            tracing::info!("already sent; a duplicate task");
            return Ok(());
        }
        match self.channel.send(&notification).await {
            Ok(()) => {
                db::record_sent(&self.db, notification.id).await?;
                metrics::counter!("notifications_delivered_total", "channel" => self.channel.name()).increment(1);
                tracing::info!(to = %notification.recipient, "notification delivered");
                Ok(())
            }
            Err(error) => {
                let permanent = matches!(error, SendError::Rejected(_));
                let gave_up = permanent || attempt >= self.max_attempts;
                db::record_failure(&self.db, notification.id, &error.to_string(), gave_up).await?;
                metrics::counter!("notification_delivery_failures_total", "channel" => self.channel.name())
                    .increment(1);
                let reason = format!("delivery failed: {error}");
                Err(if permanent { HandlerError::Permanent(reason) } else { HandlerError::Transient(reason) })
            }
        }
    }
}

impl Handler for DeliveryWorker {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let task = Envelope::from_bytes(&delivery.body)
                .and_then(|envelope| envelope.decode::<DeliverNotification>())
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
            self.deliver(task, delivery.attempt).await
        })
    }
}
