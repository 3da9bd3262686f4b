//! `bench publish`: what the comms RabbitMQ publisher costs over raw lapin,
//! publishing the same persistent, mandatory, confirmed messages in the
//! same windows (send a window, then await all its confirms).
//!
//! Both sides publish to a quorum queue of their own, declared alike, so
//! the difference is the client, not the queue: comms declares every queue
//! as a quorum queue, and a classic queue confirms at a different cost.
//! Both send the same frames: raw lapin builds each message's properties
//! with `message_properties`, as the comms broker does (ids, type,
//! timestamp, trace and attempt headers), since a real publisher sends
//! them too. Messages are built before the clock starts; only publishing
//! is timed. The sides take turns window by window (comms then lapin, then
//! lapin then comms, and so on): a quorum queue's confirms come at the
//! rhythm of its log flushes and stalls, and with longer turns each side
//! measured that rhythm more than its client (runs of the same build
//! ranged from ×0.63 to ×1.18 with turns of 2,500 messages).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use comms::messaging::rabbitmq::{RabbitBroker, RabbitConfig, message_properties};
use comms::messaging::{Destination, MessageBroker, OutgoingMessage};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties};
use serde::Serialize;
use tokio::time::Instant;

use crate::scratch::{self, QUEUE_EXPIRY};
use crate::stats::{per_second, ratio};
use crate::tick::Tick;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value = crate::DEFAULT_AMQP)]
    amqp: String,
    /// Messages per side.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Messages sent before their confirms are awaited.
    #[arg(long, default_value_t = 100)]
    window: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    comms: Side,
    lapin: Side,
    /// comms msgs/s ÷ lapin msgs/s.
    ratio_throughput: f64,
}

/// Confirmed messages per second; `count` is the confirmed messages.
#[derive(Debug, Default, Serialize)]
struct Side {
    msgs_per_sec: f64,
    count: u64,
    errors: u64,
}

/// What one side's turns added up to.
#[derive(Default)]
struct Tally {
    confirmed: u64,
    errors: u64,
    elapsed: Duration,
    first_error: Option<String>,
}

impl Tally {
    fn outcome(&mut self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.confirmed += 1,
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    fn side(self, label: &str) -> Side {
        if let Some(error) = &self.first_error {
            eprintln!("publish {label}: {} of the messages failed; the first: {error}", self.errors);
        }
        Side { msgs_per_sec: per_second(self.confirmed, self.elapsed), count: self.confirmed, errors: self.errors }
    }
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    let window = args.window.max(1);
    let namespace = scratch::namespace();
    let mut config = RabbitConfig::new(args.amqp.clone(), "bench-publish");
    config.exchange = format!("{namespace}{}", config.exchange);
    config.prefix.clone_from(&namespace);
    config.queue_expiry = Some(QUEUE_EXPIRY);
    let broker = RabbitBroker::connect(config.clone()).await.context("comms: connect")?;
    broker.declare_task_queue("comms").await.context("comms: declare the task queue")?;
    let raw = RawPublisher::open(&args.amqp, format!("{namespace}lapin")).await.context("lapin: open")?;

    let messages: Vec<OutgoingMessage> = (0..args.messages.max(1))
        .map(|n| {
            let destination = Destination::Task { queue: "comms".into() };
            OutgoingMessage::from_envelope(&Tick::sized(n as u64, 0).envelope(), destination, HashMap::new())
        })
        .collect();
    let body_bytes = messages.first().map_or(0, |m| m.body.len());
    eprintln!("publish: {} messages of {body_bytes} bytes per side, windows of {window}", messages.len());

    let (mut comms, mut lapin) = (Tally::default(), Tally::default());
    for (n, batch) in messages.chunks(window).enumerate() {
        // Each window is sent by both sides back to back, the first side
        // alternating, so a stall in the broker falls on both alike.
        for comms_turn in if n % 2 == 0 { [true, false] } else { [false, true] } {
            let started = Instant::now();
            if comms_turn {
                for outcome in broker.publish(batch).await {
                    comms.outcome(outcome.map_err(|e| e.to_string()));
                }
                comms.elapsed += started.elapsed();
            } else {
                raw.publish(batch, &mut lapin).await;
                lapin.elapsed += started.elapsed();
            }
        }
    }

    drop(broker);
    let queues = [format!("{namespace}comms"), raw.close().await?];
    scratch::delete_rabbit(&args.amqp, &queues, &[config.exchange]).await.context("delete the run's queues")?;
    let (comms, lapin) = (comms.side("comms"), lapin.side("lapin"));
    let ratio_throughput = ratio(comms.msgs_per_sec, lapin.msgs_per_sec);
    Ok(Report { comms, lapin, ratio_throughput })
}

/// Publishing with nothing but lapin: one confirmed channel, persistent
/// mandatory messages to a queue by name through the default exchange.
struct RawPublisher {
    connection: Connection,
    channel: Channel,
    queue: String,
}

impl RawPublisher {
    async fn open(uri: &str, queue: String) -> lapin::Result<Self> {
        let connection = Connection::connect(uri, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        let mut arguments = FieldTable::default();
        // Declared as comms declares a task queue (quorum, expiring), so
        // that only the client differs between the two sides.
        arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        let expiry = i32::try_from(QUEUE_EXPIRY.as_millis()).unwrap_or(i32::MAX);
        arguments.insert("x-expires".into(), AMQPValue::LongInt(expiry));
        let options = QueueDeclareOptions { durable: true, ..Default::default() };
        channel.queue_declare(queue.as_str().into(), options, arguments).await?;
        Ok(Self { connection, channel, queue })
    }

    /// Sends the whole window, then awaits every confirm.
    async fn publish(&self, window: &[OutgoingMessage], tally: &mut Tally) {
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        let mut confirms = Vec::with_capacity(window.len());
        for message in window {
            let properties = message_properties(message, 1, &[]);
            let sent =
                self.channel.basic_publish("".into(), self.queue.as_str().into(), options, &message.body, properties);
            confirms.push(sent.await);
        }
        for sent in confirms {
            let outcome = match sent {
                Err(error) => Err(error.to_string()),
                Ok(confirm) => match confirm.await {
                    Ok(Confirmation::Ack(None)) => Ok(()),
                    Ok(Confirmation::Ack(Some(_))) => Err("returned: unroutable".to_owned()),
                    Ok(Confirmation::Nack(_)) => Err("nacked".to_owned()),
                    // confirm_select was accepted, so every publish is confirmed.
                    Ok(Confirmation::NotRequested) => Err("no confirm".to_owned()),
                    Err(error) => Err(error.to_string()),
                },
            };
            tally.outcome(outcome);
        }
    }

    /// Closes the connection; returns the queue, for deletion.
    async fn close(self) -> lapin::Result<String> {
        self.connection.close(200, "OK".into()).await?;
        Ok(self.queue)
    }
}
