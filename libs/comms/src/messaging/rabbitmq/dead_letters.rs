//! A subscription's dead-letter queue, read and settled by an operator.
//!
//! Listing takes every message with `basic.get` and puts each back: a copy
//! at the queue's tail (in the same order, all of them taken first), then
//! the original acknowledged. Not a nack with requeue: RabbitMQ 3.10's
//! quorum queues leave a requeued message out of the queue's message count
//! until it is delivered again, so after one listing the depth would read
//! 0. A replay publishes a copy to the subscription's own main queue
//! through its direct exchange, which no other subscriber is bound to.
//! Every copy is confirmed before its original is acknowledged; a listing
//! cut short between the two leaves a message twice, never lost.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};

use super::RabbitBroker;
use super::amqp::{self, Names};
use crate::messaging::broker::{BrokerError, Subscription, headers};
use crate::messaging::dead_letters::{DeadLetter, DeadLetterQueues, Which, is_death_header};

/// At most this many are read at once; more wait for the next run.
const AT_ONCE: usize = 10_000;

impl DeadLetterQueues for RabbitBroker {
    fn list<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>> {
        Box::pin(async move {
            let (names, channel) = self.dead_letter_channel(subscription).await?;
            let taken = take_all(&channel, &names.dead_letters).await?;
            let letters = taken.iter().map(|(_, letter)| letter.clone()).collect();
            give_back(&channel, &names, taken).await?;
            Ok(letters)
        })
    }

    fn replay<'a>(
        &'a self,
        subscription: &'a Subscription,
        which: Which<'a>,
    ) -> BoxFuture<'a, Result<Vec<String>, BrokerError>> {
        Box::pin(async move {
            let (names, channel) = self.dead_letter_channel(subscription).await?;
            let taken = take_all(&channel, &names.dead_letters).await?;
            let mut replayed = Vec::new();
            let mut kept = Vec::new();
            for (delivery, letter) in taken {
                if !which.takes(&letter.id) {
                    kept.push((delivery, letter));
                    continue;
                }
                let properties = delivery.properties.clone().with_headers(revived(&delivery.properties));
                if !copied(&channel, &names.direct, &names.main, &delivery.data, properties).await {
                    // Unacknowledged, it and the rest go back when the
                    // channel closes: nothing is lost.
                    return Err(BrokerError::Unavailable(format!(
                        "the copy of {} was not confirmed; it stays a dead letter (replayed before it: {replayed:?})",
                        letter.id
                    )));
                }
                delivery.ack(BasicAckOptions::default()).await.map_err(unavailable)?;
                replayed.push(letter.id);
            }
            give_back(&channel, &names, kept).await?;
            Ok(replayed)
        })
    }

    fn purge<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move {
            let (names, channel) = self.dead_letter_channel(subscription).await?;
            let purged =
                match channel.queue_purge(names.dead_letters.as_str().into(), QueuePurgeOptions::default()).await {
                    Ok(purged) => purged,
                    Err(error) if missing(&error) => 0,
                    Err(error) => return Err(refused(error)),
                };
            let _ = channel.close(200, "OK".into()).await;
            Ok(u64::from(purged))
        })
    }

    fn depth<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move {
            let (names, channel) = self.dead_letter_channel(subscription).await?;
            let passive = QueueDeclareOptions { passive: true, ..Default::default() };
            let waiting =
                match channel.queue_declare(names.dead_letters.as_str().into(), passive, FieldTable::default()).await {
                    Ok(queue) => queue.message_count(),
                    Err(error) if missing(&error) => 0,
                    Err(error) => return Err(refused(error)),
                };
            let _ = channel.close(200, "OK".into()).await;
            Ok(u64::from(waiting))
        })
    }
}

impl RabbitBroker {
    /// The subscription's queue names, and a channel with confirms on.
    async fn dead_letter_channel(&self, subscription: &Subscription) -> Result<(Names, Channel), BrokerError> {
        let subscription = Subscription { name: self.config.queue(&subscription.name), ..subscription.clone() };
        let live = self.connected_now().await?;
        let channel = live.connection.create_channel().await.map_err(unavailable)?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(unavailable)?;
        Ok((amqp::names(&subscription), channel))
    }
}

/// Takes every message of `queue` (up to [`AT_ONCE`]), unacknowledged.
async fn take_all(channel: &Channel, queue: &str) -> Result<Vec<(lapin::message::Delivery, DeadLetter)>, BrokerError> {
    let mut taken = Vec::new();
    while taken.len() < AT_ONCE {
        let message = match channel.basic_get(queue.into(), BasicGetOptions::default()).await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            // Never declared: its subscription has not started yet.
            Err(error) if missing(&error) => break,
            Err(error) => return Err(refused(error)),
        };
        let letter = read(&message.delivery);
        taken.push((message.delivery, letter));
    }
    Ok(taken)
}

/// Puts `taken` back at the tail of the dead-letter queue, in its order:
/// each copy confirmed, then its original acknowledged.
async fn give_back(
    channel: &Channel,
    names: &Names,
    taken: Vec<(lapin::message::Delivery, DeadLetter)>,
) -> Result<(), BrokerError> {
    for (delivery, letter) in taken {
        let properties = delivery.properties.clone();
        if !copied(channel, &names.direct, &names.dead_letters, &delivery.data, properties).await {
            // This one and the rest go back unacknowledged as the channel
            // closes.
            return Err(BrokerError::Unavailable(format!("putting {} back was not confirmed", letter.id)));
        }
        delivery.ack(BasicAckOptions::default()).await.map_err(unavailable)?;
    }
    let _ = channel.close(200, "OK".into()).await;
    Ok(())
}

/// Publishes `body` through `direct` to the queue bound as `queue`, and
/// says whether the broker confirmed it there.
async fn copied(channel: &Channel, direct: &str, queue: &str, body: &[u8], properties: BasicProperties) -> bool {
    let options = BasicPublishOptions { mandatory: true, ..Default::default() };
    match channel.basic_publish(direct.into(), queue.into(), options, body, properties).await {
        Ok(confirm) => matches!(confirm.await, Ok(Confirmation::Ack(None))),
        Err(_) => false,
    }
}

fn read(delivery: &lapin::message::Delivery) -> DeadLetter {
    let properties = &delivery.properties;
    let (strings, attempt) = amqp::read_headers(properties);
    let mut headers: BTreeMap<String, String> = strings.into_iter().collect();
    headers.insert(headers::ATTEMPT.into(), attempt.to_string());
    // What the broker dead-lettered itself has its time in `x-death` only.
    if let Some(time) = first_death_time(properties) {
        headers.entry(headers::DEATH_TIME.into()).or_insert(time);
    }
    let text = |value: &Option<lapin::types::ShortString>| value.as_ref().map(|s| s.to_string()).unwrap_or_default();
    DeadLetter::read(text(properties.message_id()), text(properties.kind()), headers, delivery.data.clone())
}

fn first_death_time(properties: &lapin::BasicProperties) -> Option<String> {
    let table = properties.headers().as_ref()?;
    let AMQPValue::FieldArray(deaths) = table.inner().get("x-death")? else { return None };
    let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else { return None };
    let AMQPValue::Timestamp(seconds) = first.inner().get("time")? else { return None };
    let time = chrono::DateTime::from_timestamp(i64::try_from(*seconds).ok()?, 0)?;
    Some(time.to_rfc3339())
}

/// The headers of a replayed copy: no death, and a first attempt.
fn revived(properties: &lapin::BasicProperties) -> FieldTable {
    let mut table = FieldTable::default();
    if let Some(old) = properties.headers().as_ref() {
        for (key, value) in old.inner() {
            if !is_death_header(key.as_str()) {
                table.insert(key.clone(), value.clone());
            }
        }
    }
    table.insert(headers::ATTEMPT.into(), AMQPValue::LongInt(1));
    table
}

/// The broker's answer about a queue that does not exist (404).
fn missing(error: &lapin::Error) -> bool {
    amqp::refused_because(error, "NOT_FOUND")
}

fn unavailable(error: lapin::Error) -> BrokerError {
    BrokerError::Unavailable(error.to_string())
}

fn refused(error: lapin::Error) -> BrokerError {
    BrokerError::Refused(error.to_string())
}
