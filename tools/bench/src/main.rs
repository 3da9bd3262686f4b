//! `bench`: measurements for `bench/run.py`. Each subcommand runs for a
//! bounded time against 127.0.0.1, then prints ONE JSON object on stdout
//! and nothing else there; progress and failures go to stderr. Latencies
//! are milliseconds (nearest-rank percentiles), throughput is per second,
//! and every failed operation is counted in an `errors` field.
//!
//! ```text
//! bench grpc --address 127.0.0.1:9081 --seconds 10 --concurrency 16 --server-pid 4242
//! bench publish --amqp amqp://guest:guest@127.0.0.1:5672/%2f --messages 20000 --window 100
//! bench event-latency --database-url postgres://postgres@127.0.0.1:5432/postgres --rate 200 --seconds 10
//! bench patterns --broker rabbitmq --seconds 5 --concurrency 16
//! ```
//!
//! No tracing subscriber is installed: comms' logs would go to stdout.

mod cpu;
mod event_latency;
mod grpc;
mod load;
mod patterns;
mod publish;
mod scratch;
mod stats;
mod tick;
mod token;

use clap::{Parser, Subcommand};

const DEFAULT_AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[derive(Parser, Debug)]
#[command(version, about = "Measurements of switchyard's communication patterns, as JSON")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Health checks through a bare tonic channel and through comms' GrpcChannel.
    Grpc(grpc::Args),
    /// Confirmed publishes through comms' RabbitMQ publisher and through raw lapin.
    Publish(publish::Args),
    /// From the producer's COMMIT to the consumer's committed effect, via the outbox.
    EventLatency(event_latency::Args),
    /// One call as REST, gRPC, a task and an event.
    Patterns(patterns::Args),
    /// A service token (for the nginx baseline), as a JSON string.
    Token(token::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = match Cli::parse().command {
        Command::Grpc(args) => serde_json::to_string(&grpc::run(args).await?)?,
        Command::Publish(args) => serde_json::to_string(&publish::run(args).await?)?,
        Command::EventLatency(args) => serde_json::to_string(&event_latency::run(args).await?)?,
        Command::Patterns(args) => serde_json::to_string(&patterns::run(args).await?)?,
        Command::Token(args) => serde_json::to_string(&token::run(args)?)?,
    };
    println!("{report}");
    Ok(())
}
