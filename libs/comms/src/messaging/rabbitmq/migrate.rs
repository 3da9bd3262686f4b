//! Changing the arguments of a queue that already exists.
//!
//! RabbitMQ fixes a queue's arguments when it is declared and refuses a
//! later declaration with others (406, "inequivalent arg"). A release that
//! changes them (a dead-letter target, a delivery limit) would then leave
//! every consumer of a queue an earlier release declared unable to start.
//! Instead the queue is replaced and its messages kept:
//!
//! 1. a holding queue, `QUEUE.moving`, gets the queue's bindings, so what is
//!    published from now on reaches it;
//! 2. the queue's messages move to it, each one removed only after the
//!    broker confirmed its copy, and the queue, once drained, is deleted;
//! 3. the queue is declared with its new arguments and bindings;
//! 4. the holding queue loses its bindings, its messages move back, and it
//!    is deleted.
//!
//! A message published during steps 1 and 2 can end up in both queues:
//! delivery is at least once anyway, and consumers deduplicate (the
//! inbox). A replacement cut short leaves the holding queue behind; every
//! declaration finishes one it finds ([`finish`]). While an instance of
//! the earlier release still consumes from the queue, step 2 refuses to
//! delete it and the declaration fails; the subscription's supervisor
//! tries again with back-off, and the replacement goes ahead once that
//! instance has stopped.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Confirmation, Connection};

use super::RabbitConfig;
use super::amqp::{self, Binding};

/// The holding queue of `queue` during a replacement.
pub fn holding(queue: &str) -> String {
    format!("{queue}.moving")
}

/// Replaces `queue` with one declared with `args` and `bindings`, keeping
/// its messages (steps 1 to 4 above).
pub async fn replace(
    connection: &Connection,
    config: &RabbitConfig,
    queue: &str,
    args: FieldTable,
    bindings: &[Binding],
) -> lapin::Result<()> {
    let holding = holding(queue);
    let direct = direct_exchange(config, bindings)?;
    tracing::warn!(
        queue,
        holding = %holding,
        "the queue exists with other arguments (an earlier release's); replacing it, its messages kept"
    );
    let channel = confirming(connection).await?;
    unused(&channel, queue).await?;
    declare_holding(&channel, config, &holding).await?;
    amqp::bind(&channel, config, &holding, bindings).await?;
    amqp::bind(&channel, config, &holding, &[Binding { exchange: direct.clone(), key: holding.clone() }]).await?;
    let moved = move_all(&channel, queue, &direct, &holding).await?;
    // Quorum queues refuse `if-unused` and `if-empty` on delete, so the
    // check is ours. It is enough: whatever reaches the queue from here on
    // reaches the holding queue too, so deleting it loses only copies.
    unused(&channel, queue).await?;
    channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await?;
    let options = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(queue.into(), options, args).await?;
    amqp::bind(&channel, config, queue, bindings).await?;
    let _ = channel.close(200, "OK".into()).await;
    finish(connection, config, queue, bindings).await?;
    tracing::warn!(queue, moved, "queue replaced with its new arguments");
    Ok(())
}

/// Step 4, if `queue` has a holding queue: its messages move back to
/// `queue`, and it is deleted. Nothing happens if there is none.
pub async fn finish(
    connection: &Connection,
    config: &RabbitConfig,
    queue: &str,
    bindings: &[Binding],
) -> lapin::Result<()> {
    let holding = holding(queue);
    let probe = connection.create_channel().await?;
    if probe.queue_declare(holding.as_str().into(), passive(), FieldTable::default()).await.is_err() {
        // Not found (the usual case): that answer closed the channel.
        return Ok(());
    }
    let _ = probe.close(200, "OK".into()).await;
    let direct = direct_exchange(config, bindings)?;
    let channel = confirming(connection).await?;
    // Unbound first, so what is published from now on reaches `queue` only.
    for binding in bindings {
        channel
            .queue_unbind(
                holding.as_str().into(),
                binding.exchange.as_str().into(),
                binding.key.as_str().into(),
                FieldTable::default(),
            )
            .await?;
    }
    let moved = move_all(&channel, &holding, &direct, queue).await?;
    // Unbound and drained, and nobody consumes from it.
    channel.queue_delete(holding.as_str().into(), QueueDeleteOptions::default()).await?;
    let _ = channel.close(200, "OK".into()).await;
    tracing::info!(queue, holding = %holding, moved, "messages moved back from the holding queue");
    Ok(())
}

/// Moves every message of `from` to the queue bound to `direct` by the
/// name `to`, with its properties and headers, each acknowledged on `from`
/// only after the broker confirmed its copy. Returns how many moved.
async fn move_all(channel: &Channel, from: &str, direct: &str, to: &str) -> lapin::Result<u64> {
    let mut moved = 0;
    while let Some(message) = channel.basic_get(from.into(), BasicGetOptions::default()).await? {
        let delivery = message.delivery;
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        let confirm = channel
            .basic_publish(direct.into(), to.into(), options, &delivery.data, delivery.properties.clone())
            .await?;
        match confirm.await? {
            Confirmation::Ack(None) => {
                delivery.ack(BasicAckOptions::default()).await?;
            }
            // Unacknowledged, it goes back to `from` when the channel closes.
            other => return Err(refused(format!("moving a message from {from} to {to} was not confirmed: {other:?}"))),
        }
        moved += 1;
    }
    Ok(moved)
}

/// Refuses to go on while someone consumes from `queue`: an instance of
/// the earlier release, whose unacknowledged messages would go with it.
async fn unused(channel: &Channel, queue: &str) -> lapin::Result<()> {
    let existing = channel.queue_declare(queue.into(), passive(), FieldTable::default()).await?;
    match existing.consumer_count() {
        0 => Ok(()),
        n => Err(refused(format!(
            "{queue} exists with other arguments and {n} consumer(s) still take from it (an earlier release?); \
             it is replaced once they have stopped"
        ))),
    }
}

async fn declare_holding(channel: &Channel, config: &RabbitConfig, holding: &str) -> lapin::Result<()> {
    let args = amqp::queue_args(config, true);
    let options = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(holding.into(), options, args).await.map(|_| ())
}

/// The exchange moves go through: the queue's direct exchange, which every
/// queue of a subscription is bound to by its own name.
fn direct_exchange(config: &RabbitConfig, bindings: &[Binding]) -> lapin::Result<String> {
    bindings
        .iter()
        .find(|b| b.exchange != config.exchange)
        .map(|b| b.exchange.clone())
        .ok_or_else(|| refused("the queue has no direct exchange to move its messages through".into()))
}

async fn confirming(connection: &Connection) -> lapin::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(channel)
}

fn passive() -> QueueDeclareOptions {
    QueueDeclareOptions { passive: true, ..Default::default() }
}

fn refused(reason: String) -> lapin::Error {
    std::io::Error::other(reason).into()
}
