//! `bench patterns`: one logical call (about [`PAYLOAD_BYTES`] in, the same
//! back or processed) made four ways in one process, so the patterns are
//! compared on the same machine in the same minute:
//!
//! | pattern | one call |
//! |---|---|
//! | rest | `POST /echo` to axum, with reqwest |
//! | grpc | `grpc.health.v1.Health/Check` to tonic, with a bare channel |
//! | task | publish one task through comms; the worker has handled it |
//! | event | publish one event through comms; both subscribers have it |
//!
//! Each is measured twice: latency with one call in flight, then
//! throughput with `concurrency` in flight, `seconds` each.

mod messaging;
mod rpc;

use std::time::Duration;

use comms::Shutdown;
use comms::messaging::settings::BrokerSettings;
use serde::Serialize;

use crate::load::{self, Call};
use crate::scratch::{self, QUEUE_EXPIRY};

/// The size of one call's payload.
const PAYLOAD_BYTES: usize = 100;

/// How long a pattern may take to answer its first call: a Kafka consumer
/// group needs a few seconds to be assigned its partitions.
const WARM_UP: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The broker behind the task and event patterns.
    #[arg(long, default_value = "rabbitmq", value_parser = ["rabbitmq", "kafka"])]
    broker: String,
    #[arg(long, default_value = crate::DEFAULT_AMQP)]
    amqp: String,
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    kafka: String,
    /// Per pattern and per measurement (latency, then throughput).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Calls in flight while measuring throughput.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    broker: String,
    rest: Figures,
    grpc: Figures,
    task: Figures,
    event: Figures,
}

#[derive(Debug, Serialize)]
struct Figures {
    /// At concurrency 1.
    p50_ms: f64,
    p99_ms: f64,
    /// At `concurrency`.
    ops_per_sec: f64,
    /// Failed calls in either measurement, and a failed warm-up.
    errors: u64,
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    let stop_servers = Shutdown::new();
    let rest = rpc::rest(stop_servers.clone()).await?;
    let grpc = rpc::grpc(stop_servers.clone()).await?;
    let settings = BrokerSettings {
        broker: args.broker.clone(),
        amqp_url: args.amqp.clone(),
        amqp_password_file: None,
        kafka_brokers: args.kafka.clone(),
        broker_namespace: scratch::namespace(),
        broker_queue_expiry_secs: Some(QUEUE_EXPIRY.as_secs()),
        ..BrokerSettings::default()
    };
    let messaging = messaging::Messaging::start(settings).await?;

    let report = Report {
        rest: measure("rest", &rest, &args).await,
        grpc: measure("grpc", &grpc, &args).await,
        task: measure("task", &messaging.task(), &args).await,
        event: measure("event", &messaging.event(), &args).await,
        broker: args.broker,
    };
    stop_servers.trigger();
    messaging.stop().await?;
    Ok(report)
}

async fn measure(label: &str, call: &Call, args: &Args) -> Figures {
    let seconds = Duration::from_secs(args.seconds);
    let warm_up_errors = match load::warm_up(label, call, WARM_UP).await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("patterns: {error:#}");
            1
        }
    };
    eprintln!("patterns: {label}: latency at concurrency 1 for {seconds:?}");
    let latency = load::closed_loop(label, call, 1, seconds).await;
    eprintln!("patterns: {label}: throughput at concurrency {} for {seconds:?}", args.concurrency);
    let throughput = load::closed_loop(label, call, args.concurrency, seconds).await;
    let ops_per_sec = throughput.ops_per_sec();
    let errors = warm_up_errors + latency.errors + throughput.errors;
    let sorted = latency.samples.sorted();
    Figures { p50_ms: sorted.percentile(0.50), p99_ms: sorted.percentile(0.99), ops_per_sec, errors }
}
