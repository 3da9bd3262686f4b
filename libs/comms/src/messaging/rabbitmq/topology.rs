//! Declaring what a subscription uses: its queues with their arguments
//! and bindings. A queue that exists with other arguments (an earlier
//! release's) is replaced, its messages kept ([`super::migrate`]).

use lapin::Connection;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};

use super::amqp::{Binding, bind, names, queue_args, refused_because};
use super::{RabbitConfig, migrate};
use crate::messaging::broker::{Subscription, SubscriptionKind};

/// A main or task queue: what the broker itself gives up on (a message
/// redelivered `delivery_limit` times, say by a handler that panics on
/// it) goes to the subscription's dead-letter queue, never away.
///
/// `at-least-once` keeps a dead letter in its queue until the dead-letter
/// queue has confirmed it (the default, at-most-once, drops it if that
/// fails); RabbitMQ allows it only with `reject-publish` overflow.
fn main_queue_args(config: &RabbitConfig, direct: &str, dead_letters: &str) -> FieldTable {
    let mut args = queue_args(config, true);
    args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(direct.into()));
    args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(dead_letters.into()));
    args.insert("x-dead-letter-strategy".into(), AMQPValue::LongString("at-least-once".into()));
    args.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(i32::try_from(config.delivery_limit).unwrap_or(i32::MAX)),
    );
    args
}

/// A dead-letter queue has no delivery limit: listing it returns messages
/// to it, and no count of that may drop one. RabbitMQ 4 gives quorum
/// queues a limit of 20 unless told -1; RabbitMQ 3 has none and refuses -1
/// (see [`declare_dead_letter_queue`]).
fn dead_letter_queue_args(config: &RabbitConfig, unlimited: bool) -> FieldTable {
    let mut args = queue_args(config, true);
    if unlimited {
        args.insert("x-delivery-limit".into(), AMQPValue::LongInt(-1));
    }
    args
}

/// Declares `queue` with `args` and `bindings`; a queue that exists with
/// other arguments (an earlier release's) is replaced, its messages kept
/// ([`super::migrate`]).
async fn declare(
    connection: &Connection,
    config: &RabbitConfig,
    queue: &str,
    args: FieldTable,
    bindings: &[Binding],
) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    let options = QueueDeclareOptions { durable: true, ..Default::default() };
    match channel.queue_declare(queue.into(), options, args.clone()).await {
        Ok(_) => {
            bind(&channel, config, queue, bindings).await?;
            // A holding queue left by a replacement cut short: finish it.
            migrate::finish(connection, config, queue, bindings).await?;
            let _ = channel.close(200, "OK".into()).await;
            Ok(())
        }
        Err(error) if inequivalent(&error) => migrate::replace(connection, config, queue, args, bindings).await,
        Err(error) => Err(error),
    }
}

/// The broker's answer to a declaration whose arguments differ from the
/// existing queue's (406 PRECONDITION_FAILED).
fn inequivalent(error: &lapin::Error) -> bool {
    refused_because(error, "inequivalent arg")
}

/// A dead-letter queue, with no delivery limit on either RabbitMQ.
async fn declare_dead_letter_queue(
    connection: &Connection,
    config: &RabbitConfig,
    queue: &str,
    bindings: &[Binding],
) -> lapin::Result<()> {
    match declare(connection, config, queue, dead_letter_queue_args(config, true), bindings).await {
        // RabbitMQ 3 refuses a negative limit, and has no default one: the
        // queue without the argument is the same queue there. (The client
        // cannot see the server's version, so its answer tells.)
        Err(error) if refused_because(&error, "x-delivery-limit") && !inequivalent(&error) => {
            declare(connection, config, queue, dead_letter_queue_args(config, false), bindings).await
        }
        other => other,
    }
}

/// A task queue, bound to its own direct exchange ([`direct_exchange`]),
/// dead-lettering to its own dead-letter queue as its subscription's main
/// queue does: the publisher and the worker declare it alike.
pub async fn declare_task_queue(connection: &Connection, config: &RabbitConfig, queue: &str) -> lapin::Result<()> {
    let names = names(&Subscription::tasks(queue));
    let args = main_queue_args(config, &names.direct, &names.dead_letters);
    declare(connection, config, queue, args, &[direct_binding(&names.direct, queue)]).await
}

fn direct_binding(direct: &str, queue: &str) -> Binding {
    Binding { exchange: direct.to_owned(), key: queue.to_owned() }
}

/// Everything a subscription consumes from or moves messages to.
pub async fn declare_subscription(
    connection: &Connection,
    config: &RabbitConfig,
    subscription: &Subscription,
) -> lapin::Result<()> {
    let names = names(subscription);
    if subscription.kind == SubscriptionKind::DeadLetters {
        return declare_dead_letter_queue(
            connection,
            config,
            &names.main,
            &[direct_binding(&names.direct, &names.main)],
        )
        .await;
    }
    let dead_letters = [direct_binding(&names.direct, &names.dead_letters)];
    declare_dead_letter_queue(connection, config, &names.dead_letters, &dead_letters).await?;
    let channel = connection.create_channel().await?;
    for (retry, delay) in &names.retries {
        // A retry queue holds a message for its delay, then the broker
        // dead-letters it back to the main queue through the direct exchange.
        let mut args = queue_args(config, false);
        args.insert("x-message-ttl".into(), AMQPValue::LongInt(i32::try_from(delay.as_millis()).unwrap_or(i32::MAX)));
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(names.direct.as_str().into()));
        args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(names.main.as_str().into()));
        let options = QueueDeclareOptions { durable: true, ..Default::default() };
        channel.queue_declare(retry.as_str().into(), options, args).await?;
        bind(&channel, config, retry, &[direct_binding(&names.direct, retry)]).await?;
    }
    let _ = channel.close(200, "OK".into()).await;
    let mut bindings = vec![direct_binding(&names.direct, &names.main)];
    if let SubscriptionKind::Events { types } = &subscription.kind {
        bindings.extend(types.iter().map(|t| Binding { exchange: config.exchange.clone(), key: t.clone() }));
    }
    let args = main_queue_args(config, &names.direct, &names.dead_letters);
    declare(connection, config, &names.main, args, &bindings).await
}
