//! `bench grpc`: what the comms gRPC channel costs over a bare tonic
//! channel, calling `grpc.health.v1.Health/Check` on a running service.
//!
//! Both sides share the target, so they take turns rather than run side by
//! side: four rounds, bare first in odd rounds and comms first in even ones
//! (an eighth of the time each turn), so drift in the machine or the
//! service during the run, and any advantage of going first or second, is
//! spread over both.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use comms::client::UpstreamConfig;
use comms::client::grpc::GrpcChannel;
use futures::future::BoxFuture;
use serde::Serialize;
use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::load::{self, Call, Run};
use crate::stats::ratio;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The service's gRPC address, `127.0.0.1:PORT`.
    #[arg(long)]
    address: String,
    /// The whole measurement, both sides together.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Calls in flight on each side.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    bare: Side,
    comms: Side,
    /// comms ops/s ÷ bare ops/s.
    ratio_throughput: f64,
}

#[derive(Debug, Serialize)]
struct Side {
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    count: u64,
    errors: u64,
}

impl Side {
    fn of(run: Run) -> Self {
        let (ops_per_sec, count, errors) = (run.ops_per_sec(), run.count(), run.errors);
        let sorted = run.samples.sorted();
        Self { ops_per_sec, p50_ms: sorted.percentile(0.50), p99_ms: sorted.percentile(0.99), count, errors }
    }
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    let bare_channel = Endpoint::from_shared(format!("http://{}", args.address))?
        .connect()
        .await
        .with_context(|| format!("connect to {}", args.address))?;
    let bare = health_check(HealthClient::new(bare_channel), String::new(), |mut client, request| {
        Box::pin(async move { client.check(request).await })
    });
    // Discovery is a fixed list of one; the rest of the stack (breaker,
    // bulkhead, balancer, deadline, trace injection) is what it always is.
    let comms_channel = GrpcChannel::for_address(UpstreamConfig::new("bench-target"), &args.address);
    let comms = health_check(HealthClient::new(comms_channel), String::new(), |mut client, request| {
        Box::pin(async move { client.check(request).await })
    });

    load::warm_up("grpc bare", &bare, Duration::from_secs(5)).await?;
    load::warm_up("grpc comms", &comms, Duration::from_secs(5)).await?;
    let phase = Duration::from_secs_f64(args.seconds as f64 / 8.0);
    let (mut bare_run, mut comms_run) = (Run::default(), Run::default());
    for round in 1..=4 {
        eprintln!("grpc: round {round} of 4, {phase:?} per side at concurrency {}", args.concurrency);
        for bare_turn in if round % 2 == 1 { [true, false] } else { [false, true] } {
            if bare_turn {
                bare_run.absorb(load::closed_loop("grpc bare", &bare, args.concurrency, phase).await);
            } else {
                comms_run.absorb(load::closed_loop("grpc comms", &comms, args.concurrency, phase).await);
            }
        }
    }
    let (bare, comms) = (Side::of(bare_run), Side::of(comms_run));
    let ratio_throughput = ratio(comms.ops_per_sec, bare.ops_per_sec);
    Ok(Report { bare, comms, ratio_throughput })
}

type Answer = Result<tonic::Response<HealthCheckResponse>, tonic::Status>;

/// A health check of `service` ("" is the whole server) as a [`Call`]; an
/// answer other than SERVING is a failure too. `check` makes the RPC, so
/// the client's transport type never has to be spelled out here.
pub fn health_check<C, F>(client: C, service: String, check: F) -> Call
where
    C: Clone + Send + Sync + 'static,
    F: Fn(C, HealthCheckRequest) -> BoxFuture<'static, Answer> + Send + Sync + 'static,
{
    Arc::new(move || {
        let answer = check(client.clone(), HealthCheckRequest { service: service.clone() });
        Box::pin(async move {
            match answer.await?.into_inner().status() {
                ServingStatus::Serving => Ok(()),
                other => Err(anyhow::anyhow!("health status {other:?}, not SERVING")),
            }
        })
    })
}
