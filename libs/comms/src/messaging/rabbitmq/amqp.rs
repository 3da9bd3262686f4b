//! Between our messages and AMQP frames: properties, headers, topology.

use std::collections::HashMap;
use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};

use super::RabbitConfig;
use crate::messaging::broker::{OutgoingMessage, Subscription, SubscriptionKind, headers};

/// The AMQP properties and headers of a message: persistent, with the
/// envelope's ids in the standard properties so stock tools can read them.
pub fn properties(message: &OutgoingMessage, attempt: u32, extra: &[(&str, String)]) -> BasicProperties {
    let mut table = FieldTable::default();
    for (key, value) in &message.headers {
        table.insert(key.as_str().into(), AMQPValue::LongString(value.as_str().into()));
    }
    table.insert(headers::SOURCE.into(), AMQPValue::LongString(message.source.as_str().into()));
    table.insert(
        headers::SCHEMA_VERSION.into(),
        AMQPValue::LongInt(i32::try_from(message.schema_version).unwrap_or(i32::MAX)),
    );
    table.insert(headers::ATTEMPT.into(), AMQPValue::LongInt(i32::try_from(attempt).unwrap_or(i32::MAX)));
    for (key, value) in extra {
        table.insert((*key).into(), AMQPValue::LongString(value.as_str().into()));
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(message.id.to_string().into())
        .with_correlation_id(short(&message.correlation_id))
        .with_timestamp(u64::try_from(message.timestamp.timestamp()).unwrap_or(0))
        .with_type(short(&message.event_type))
        .with_content_type("application/json".into())
        .with_app_id(short(&message.source))
        .with_headers(table)
}

/// AMQP short strings hold 255 bytes; longer values are cut, not a panic.
fn short(value: &str) -> ShortString {
    let mut end = value.len().min(255);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].into()
}

/// The string headers of a delivery (trace context, reasons) and its attempt.
pub fn read_headers(properties: &BasicProperties) -> (HashMap<String, String>, u32) {
    let mut strings = HashMap::new();
    let mut attempt = 1;
    if let Some(table) = properties.headers().as_ref() {
        for (key, value) in table.inner() {
            match value {
                AMQPValue::LongString(s) => {
                    strings.insert(key.to_string(), String::from_utf8_lossy(s.as_bytes()).into_owned());
                }
                AMQPValue::LongInt(n) if key.as_str() == headers::ATTEMPT => attempt = u32::try_from(*n).unwrap_or(1),
                AMQPValue::LongLongInt(n) if key.as_str() == headers::ATTEMPT => {
                    attempt = u32::try_from(*n).unwrap_or(1)
                }
                _ => {}
            }
        }
    }
    (strings, attempt.max(1))
}

/// Rebuilds an outgoing message from a delivery, to move it to a retry or
/// dead-letter queue with its identity intact.
pub fn message_from_delivery(delivery: &lapin::message::Delivery, headers: HashMap<String, String>) -> OutgoingMessage {
    let p = &delivery.properties;
    let text = |v: &Option<ShortString>| v.as_ref().map(|s| s.to_string()).unwrap_or_default();
    OutgoingMessage {
        destination: crate::messaging::Destination::Event,
        id: p.message_id().as_ref().and_then(|s| s.as_str().parse().ok()).unwrap_or_else(uuid::Uuid::now_v7),
        event_type: text(p.kind()),
        subject: None,
        correlation_id: text(p.correlation_id()),
        source: text(p.app_id()),
        schema_version: match header_value(p, headers::SCHEMA_VERSION) {
            Some(AMQPValue::LongInt(v)) => u32::try_from(*v).unwrap_or(1),
            _ => 1,
        },
        timestamp: p
            .timestamp()
            .and_then(|t| chrono::DateTime::from_timestamp(i64::try_from(t).ok()?, 0))
            .unwrap_or_else(chrono::Utc::now),
        body: delivery.data.clone(),
        headers,
    }
}

fn header_value<'a>(properties: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(key)
}

/// Queue names, all derived from the subscription's name.
pub struct Names {
    pub main: String,
    pub dead_letters: String,
    /// One per distinct delay ([`Subscription::retry_levels`]).
    pub retries: Vec<(String, Duration)>,
    /// The exchange moves between them go through.
    pub direct: String,
}

pub fn names(subscription: &Subscription) -> Names {
    let name = &subscription.name;
    let main = match subscription.kind {
        SubscriptionKind::Events { .. } => format!("{name}.events"),
        SubscriptionKind::Tasks => name.clone(),
        SubscriptionKind::DeadLetters => format!("{name}.dlq"),
    };
    let retries = subscription
        .retry_levels()
        .into_iter()
        .enumerate()
        .map(|(i, delay)| (format!("{name}.retry.{}", i + 1), delay))
        .collect();
    Names { main, dead_letters: format!("{name}.dlq"), retries, direct: direct_exchange(name) }
}

pub fn queue_args(config: &RabbitConfig, quorum: bool) -> FieldTable {
    let mut args = FieldTable::default();
    if quorum {
        // Replicated and durable: the queue a service's events wait in.
        args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    }
    if let Some(expiry) = config.queue_expiry {
        args.insert("x-expires".into(), AMQPValue::LongInt(i32::try_from(expiry.as_millis()).unwrap_or(i32::MAX)));
    }
    args
}

/// The domain-events exchange, declared only if missing: a service's own
/// broker user may publish to it and bind to it, but not configure it (so
/// it cannot delete it either); deploy/rabbitmq/init.sh declares it. A
/// user that may (guest under `just dev`, a test's namespace) declares it
/// here.
pub async fn ensure_exchange(connection: &lapin::Connection, config: &RabbitConfig) -> lapin::Result<()> {
    let probe = connection.create_channel().await?;
    let passive = ExchangeDeclareOptions { passive: true, ..Default::default() };
    let name = config.exchange.as_str();
    if probe.exchange_declare(name.into(), ExchangeKind::Topic, passive, FieldTable::default()).await.is_ok() {
        let _ = probe.close(200, "OK".into()).await;
        return Ok(());
    }
    // The failed passive declare closed that channel.
    let channel = connection.create_channel().await?;
    let options =
        ExchangeDeclareOptions { durable: true, auto_delete: config.exchange_auto_delete, ..Default::default() };
    channel.exchange_declare(name.into(), ExchangeKind::Topic, options, FieldTable::default()).await?;
    let _ = channel.close(200, "OK".into()).await;
    Ok(())
}

/// Where a queue is bound: an exchange and a routing key.
pub struct Binding {
    pub exchange: String,
    pub key: String,
}

/// Binds `queue` to each binding's exchange, declaring the direct ones
/// (every exchange but the events exchange, which [`ensure_exchange`]
/// declares).
pub async fn bind(channel: &Channel, config: &RabbitConfig, queue: &str, bindings: &[Binding]) -> lapin::Result<()> {
    for binding in bindings {
        if binding.exchange != config.exchange {
            let options = ExchangeDeclareOptions {
                durable: true,
                auto_delete: config.exchange_auto_delete,
                ..Default::default()
            };
            channel
                .exchange_declare(
                    binding.exchange.as_str().into(),
                    ExchangeKind::Direct,
                    options,
                    FieldTable::default(),
                )
                .await?;
        }
        channel
            .queue_bind(
                queue.into(),
                binding.exchange.as_str().into(),
                binding.key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// The direct exchange of the subscription (or task queue) `name`.
pub fn direct_exchange(name: &str) -> String {
    format!("{name}.direct")
}

/// Whether the broker refused an operation with a reply text containing
/// `text` (a channel or connection error).
pub fn refused_because(error: &lapin::Error, text: &str) -> bool {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => amqp.get_message().as_str().contains(text),
        _ => false,
    }
}
