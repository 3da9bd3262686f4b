//! Consuming one subscription: deliveries are handled concurrently (up to
//! the prefetch), acknowledged only after the handler succeeded, and moved
//! to a retry or dead-letter queue (with a confirm) when it did not.

use std::sync::Arc;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Confirmation};
use tokio::sync::{Mutex, mpsc};
use tracing::Instrument;

use super::Live;
use super::amqp::{self, Names};
use crate::messaging::broker::{Delivery, Handler, HandlerError, Subscription, SubscriptionKind, headers};
use crate::messaging::consuming::Consuming;
use crate::messaging::spans;

pub const SYSTEM: &str = "rabbitmq";

/// Where a message goes after its handler ran.
enum Next {
    Ack,
    Retry {
        queue: String,
        attempt: u32,
        reason: String,
    },
    DeadLetter {
        reason: String,
        attempt: u32,
    },
    /// Put it back (the move itself failed); it will be redelivered.
    Requeue,
}

pub fn start(live: &Live, channel: Channel, subscription: &Subscription, handler: Arc<dyn Handler>) -> Consuming {
    let connection = live.connection.clone();
    let subscription = subscription.clone();
    let (switch, mut stop) = Consuming::switch();
    let task = tokio::spawn(async move {
        let names = amqp::names(&subscription);
        let mover = match connection.create_channel().await {
            Ok(mover) if mover.confirm_select(ConfirmSelectOptions::default()).await.is_ok() => {
                Arc::new(Mutex::new(mover))
            }
            _ => return,
        };
        if channel.basic_qos(subscription.prefetch, BasicQosOptions::default()).await.is_err() {
            return;
        }
        let tag = format!("{}-{}", subscription.name, uuid::Uuid::new_v4().simple());
        let Ok(mut deliveries) = channel
            .basic_consume(
                names.main.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
        else {
            return;
        };
        let shared = Arc::new((names, subscription, handler, mover));
        // Each running handler holds a clone; `recv` returns `None` once
        // every one of them has finished.
        let (running, mut all_finished) = mpsc::channel::<()>(1);
        // The stream ends when the channel or connection goes (the
        // supervisor starts a new consumer on the next connection), or when
        // the subscription is stopped.
        loop {
            let delivery = tokio::select! {
                biased;
                () = stop.requested() => break,
                delivery = deliveries.next() => match delivery {
                    Some(Ok(delivery)) => delivery,
                    _ => return,
                },
            };
            let (shared, running) = (shared.clone(), running.clone());
            tokio::spawn(async move {
                let (names, subscription, handler, mover) = &*shared;
                process(delivery, names, subscription, handler.as_ref(), mover).await;
                drop(running);
            });
        }
        // Stopped: the broker sends no more. Handlers already running
        // settle their messages on this channel, so it stays open until
        // they have; closing it then returns whatever was sent but not
        // taken to the queue, for the other consumers.
        let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
        drop(running);
        let _ = all_finished.recv().await;
        let _ = channel.close(200, "unsubscribed".into()).await;
    });
    Consuming::new(switch, vec![task])
}

async fn process(
    delivery: lapin::message::Delivery,
    names: &Names,
    subscription: &Subscription,
    handler: &dyn Handler,
    mover: &Mutex<Channel>,
) {
    let (string_headers, attempt) = amqp::read_headers(&delivery.properties);
    let ours = Delivery {
        body: delivery.data.clone(),
        headers: string_headers.clone(),
        attempt,
        redelivered: delivery.redelivered,
    };
    let span = spans::consumer(SYSTEM, &names.main, &string_headers, attempt);
    if let Some(id) = delivery.properties.message_id() {
        span.record("messaging.message.id", id.as_str());
    }
    if let Some(kind) = delivery.properties.kind() {
        span.record("messaging.message.type", kind.as_str());
    }
    let outcome = handler.handle(&ours).instrument(span.clone()).await;

    let next = match outcome {
        Ok(()) => Next::Ack,
        Err(_) if subscription.kind == SubscriptionKind::DeadLetters => Next::Requeue,
        Err(HandlerError::Transient(reason)) if attempt < subscription.max_attempts() => {
            let queue = names.retries[subscription.retry_level(attempt)].0.clone();
            Next::Retry { queue, attempt: attempt + 1, reason }
        }
        Err(HandlerError::Transient(reason) | HandlerError::Permanent(reason)) => Next::DeadLetter { reason, attempt },
    };
    // Everything after the handler is part of processing too, and logs
    // inside the consumer span. (An entered guard must not be held across
    // an await: the task may resume on another thread.)
    let settle = async {
        let next = match next {
            Next::Retry { queue, attempt: next_attempt, reason } => {
                tracing::warn!(%reason, attempt, "handler failed; retrying later");
                let moved = move_to(mover, &names.direct, &delivery, &queue, next_attempt, string_headers, &[]).await;
                if moved { Next::Ack } else { Next::Requeue }
            }
            Next::DeadLetter { reason, attempt } => {
                tracing::error!(%reason, attempt, queue = %names.dead_letters, "message dead-lettered");
                metrics::counter!("messages_dead_lettered_total", "queue" => names.main.clone()).increment(1);
                let extra = [(headers::DEATH_REASON, reason), (headers::DEATH_QUEUE, names.main.clone())];
                let moved =
                    move_to(mover, &names.direct, &delivery, &names.dead_letters, attempt, string_headers, &extra)
                        .await;
                if moved { Next::Ack } else { Next::Requeue }
            }
            other => other,
        };
        match next {
            Next::Ack => {
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            _ => {
                // Back to the queue for another try: the move failed, or a
                // dead letter's own handler failed. A short pause keeps it
                // from spinning.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let _ = delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await;
            }
        }
    };
    settle.instrument(span).await;
}

/// Publishes a copy of `delivery` to `queue` through the subscription's
/// `direct` exchange and waits for the confirm; only then may the original
/// be acknowledged.
async fn move_to(
    mover: &Mutex<Channel>,
    direct: &str,
    delivery: &lapin::message::Delivery,
    queue: &str,
    attempt: u32,
    string_headers: std::collections::HashMap<String, String>,
    extra: &[(&str, String)],
) -> bool {
    let message = amqp::message_from_delivery(delivery, string_headers);
    let properties = amqp::properties(&message, attempt, extra);
    let channel = mover.lock().await;
    let options = BasicPublishOptions { mandatory: true, ..Default::default() };
    let Ok(confirm) = channel.basic_publish(direct.into(), queue.into(), options, &message.body, properties).await
    else {
        return false;
    };
    matches!(confirm.await, Ok(Confirmation::Ack(None)))
}
