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
use tokio::sync::{Mutex, mpsc, watch};
use tracing::Instrument;

use super::amqp::{self, Names};
use super::topology;
use super::{Live, RabbitConfig};
use crate::messaging::broker::{Delivery, Handler, HandlerError, Subscription, SubscriptionKind, headers};
use crate::messaging::consuming::{self, Consuming, Restarts, Stop};
use crate::messaging::consumption::Consumption;
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

/// How a consumer's run ended.
enum Ended {
    /// Told to stop: its messages are settled and it is gone for good.
    Stopped,
    /// It stopped on its own; the supervisor starts it again.
    Lost(String),
}

/// Consumes `subscription` until it is stopped, starting the consumer again
/// (with capped back-off) whenever it ends on its own: the broker cancelled
/// it, its channel or connection closed, a redeclare was refused. Each run
/// and each loss is reported to `consumption`. `first` is the channel the
/// subscription was declared on.
pub fn start(
    mut live: watch::Receiver<Option<Live>>,
    config: RabbitConfig,
    first: (Live, Channel),
    subscription: &Subscription,
    handler: Arc<dyn Handler>,
    consumption: Consumption,
) -> Consuming {
    let subscription = subscription.clone();
    let (switch, mut stop) = Consuming::switch();
    let task = tokio::spawn(async move {
        let name = subscription.name.clone();
        let mut restarts = Restarts::new();
        let mut next = Some(first);
        loop {
            let opened = match next.take() {
                Some(ready) => Ok(ready),
                None => tokio::select! {
                    () = stop.requested() => return,
                    opened = reopen(&mut live, &config, &subscription) => opened,
                },
            };
            let cause = match opened {
                Ok((current, channel)) => {
                    restarts.started();
                    match consume(&current, channel, &subscription, handler.clone(), &consumption, &mut stop).await {
                        Ended::Stopped => {
                            consumption.forget(&name);
                            return;
                        }
                        Ended::Lost(cause) => cause,
                    }
                }
                Err(cause) => cause,
            };
            consumption.lost(&name, &cause);
            if !restarts.wait(&mut stop).await {
                consumption.forget(&name);
                return;
            }
        }
    });
    Consuming::new(switch, vec![task])
}

/// A channel on the live connection (waiting for one), with the exchange
/// and the subscription's queues declared again: a deleted queue comes
/// back.
async fn reopen(
    live: &mut watch::Receiver<Option<Live>>,
    config: &RabbitConfig,
    subscription: &Subscription,
) -> Result<(Live, Channel), String> {
    let current = live.wait_for(Option::is_some).await.map_err(|_| "the broker is gone".to_owned())?.clone();
    let current = current.ok_or("not connected")?;
    // The exchange too: the subscription's bindings need it.
    amqp::ensure_exchange(&current.connection, config).await.map_err(|e| format!("cannot find the exchange: {e}"))?;
    topology::declare_subscription(&current.connection, config, subscription)
        .await
        .map_err(|e| format!("cannot declare the subscription's queues: {e}"))?;
    let channel = current.connection.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
    Ok((current, channel))
}

/// One run of the consumer on `channel`, until it is stopped or ends. It
/// counts as consuming once the broker has taken the `basic.consume`.
async fn consume(
    live: &Live,
    channel: Channel,
    subscription: &Subscription,
    handler: Arc<dyn Handler>,
    consumption: &Consumption,
    stop: &mut Stop,
) -> Ended {
    let names = amqp::names(subscription);
    let mover = match live.connection.create_channel().await {
        Ok(mover) => mover,
        Err(error) => return Ended::Lost(format!("cannot open the moving channel: {error}")),
    };
    if let Err(error) = mover.confirm_select(ConfirmSelectOptions::default()).await {
        return Ended::Lost(format!("cannot enable confirms: {error}"));
    }
    let mover = Arc::new(Mutex::new(mover));
    if let Err(error) = channel.basic_qos(subscription.prefetch, BasicQosOptions::default()).await {
        return Ended::Lost(format!("cannot set the prefetch: {error}"));
    }
    let tag = format!("{}-{}", subscription.name, uuid::Uuid::new_v4().simple());
    let mut deliveries = match channel
        .basic_consume(
            names.main.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    {
        Ok(deliveries) => deliveries,
        Err(error) => return Ended::Lost(format!("cannot consume from {}: {error}", names.main)),
    };
    consumption.consuming(&subscription.name);
    let shared = Arc::new((names, subscription.clone(), handler, mover));
    // Each running handler holds a clone; `recv` returns `None` once
    // every one of them has finished.
    let (running, mut all_finished) = mpsc::channel::<()>(1);
    let ended = loop {
        let delivery = tokio::select! {
            biased;
            () = stop.requested() => break Ended::Stopped,
            delivery = deliveries.next() => match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => break Ended::Lost(format!("consuming failed: {error}")),
                None => break Ended::Lost(
                    "the broker ended the consumer (its queue deleted, or its channel or connection closed)".into(),
                ),
            },
        };
        let (shared, running) = (shared.clone(), running.clone());
        let in_flight = consuming::InFlight::start(&subscription.name);
        tokio::spawn(async move {
            let (names, subscription, handler, mover) = &*shared;
            process(delivery, names, subscription, handler.as_ref(), mover).await;
            drop((in_flight, running));
        });
    };
    if let Ended::Stopped = ended {
        // The broker sends no more. Handlers already running settle their
        // messages on this channel, so it stays open until they have;
        // closing it then returns whatever was sent but not taken to the
        // queue, for the other consumers.
        let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
        drop(running);
        let _ = all_finished.recv().await;
        let _ = channel.close(200, "unsubscribed".into()).await;
    }
    ended
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
    let outcome = consuming::handle(handler, &ours).instrument(span.clone()).await;
    let next = judge(outcome, attempt, subscription, names);
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
                let extra = [
                    (headers::DEATH_REASON, reason),
                    (headers::DEATH_QUEUE, names.main.clone()),
                    (headers::DEATH_TIME, chrono::Utc::now().to_rfc3339()),
                ];
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

/// Where a handler's result sends its message.
fn judge(outcome: Result<(), HandlerError>, attempt: u32, subscription: &Subscription, names: &Names) -> Next {
    match outcome {
        Ok(()) => Next::Ack,
        Err(_) if subscription.kind == SubscriptionKind::DeadLetters => Next::Requeue,
        Err(HandlerError::Transient(reason)) if attempt < subscription.max_attempts() => {
            let queue = names.retries[subscription.retry_level(attempt)].0.clone();
            Next::Retry { queue, attempt: attempt + 1, reason }
        }
        Err(HandlerError::Transient(reason) | HandlerError::Permanent(reason)) => Next::DeadLetter { reason, attempt },
    }
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
