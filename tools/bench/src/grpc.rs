//! `bench grpc`: what the comms gRPC channel costs over a bare tonic
//! channel, calling `grpc.health.v1.Health/Check` on a running service.
//!
//! Both sides share the target, so they take turns rather than run side by
//! side: four rounds, bare first in odd rounds and comms first in even ones
//! (an eighth of the time each turn), so drift in the machine or the
//! service during the run, and any advantage of going first or second, is
//! spread over both.
//!
//! Both sides also report the CPU time per call of this process and, given
//! its pid, of the service: on a 2-core machine client and server share the
//! CPUs, so a difference in calls per second is a difference in CPU per call
//! somewhere, and these two figures say where.

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

use crate::cpu;
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
    /// The service's process id: with it, the report also gives the
    /// server's CPU time per call on each side.
    #[arg(long)]
    server_pid: Option<u32>,
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
    /// CPU time per successful call in this process (the client side).
    client_cpu_us_per_call: f64,
    /// CPU time per successful call in the service, if its pid was given.
    server_cpu_us_per_call: Option<f64>,
}

/// One side's calls and the CPU both processes spent on them.
#[derive(Default)]
struct Turns {
    run: Run,
    client_cpu: Duration,
    server_cpu: Duration,
}

impl Turns {
    /// Runs one turn of `call`, adding its calls and CPU time.
    async fn take(&mut self, label: &str, call: &Call, args: &Args, phase: Duration) -> anyhow::Result<()> {
        let server = args.server_pid.map(|pid| pid.to_string());
        let (client_before, server_before) = (cpu::used("self")?, server.as_deref().map(cpu::used).transpose()?);
        self.run.absorb(load::closed_loop(label, call, args.concurrency, phase).await);
        self.client_cpu += cpu::used("self")?.saturating_sub(client_before);
        if let (Some(pid), Some(before)) = (server.as_deref(), server_before) {
            self.server_cpu += cpu::used(pid)?.saturating_sub(before);
        }
        Ok(())
    }

    fn side(self, server_measured: bool) -> Side {
        let (ops_per_sec, count, errors) = (self.run.ops_per_sec(), self.run.count(), self.run.errors);
        let per_call = |cpu: Duration| cpu.as_secs_f64() * 1e6 / count.max(1) as f64;
        let sorted = self.run.samples.sorted();
        Side {
            ops_per_sec,
            p50_ms: sorted.percentile(0.50),
            p99_ms: sorted.percentile(0.99),
            count,
            errors,
            client_cpu_us_per_call: per_call(self.client_cpu),
            server_cpu_us_per_call: server_measured.then(|| per_call(self.server_cpu)),
        }
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
    let (mut bare_turns, mut comms_turns) = (Turns::default(), Turns::default());
    for round in 1..=4 {
        eprintln!("grpc: round {round} of 4, {phase:?} per side at concurrency {}", args.concurrency);
        for bare_turn in if round % 2 == 1 { [true, false] } else { [false, true] } {
            if bare_turn {
                bare_turns.take("grpc bare", &bare, &args, phase).await?;
            } else {
                comms_turns.take("grpc comms", &comms, &args, phase).await?;
            }
        }
    }
    let measured = args.server_pid.is_some();
    let (bare, comms) = (bare_turns.side(measured), comms_turns.side(measured));
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
