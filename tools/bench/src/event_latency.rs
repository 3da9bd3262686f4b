//! `bench event-latency`: how long an event takes from the producer's
//! COMMIT to the consumer's committed effect, through the whole reliable
//! path: outbox row, NOTIFY, relay, RabbitMQ with confirms, consumer, inbox.
//!
//! The producer writes events at a fixed rate (open loop: it does not wait
//! for effects), each in its own transaction, and notes the instant its
//! COMMIT returned. The consumer applies each event the way services do
//! (inbox and effect in one transaction) and notes the instant its COMMIT
//! returned. Both clocks are this process's, so the difference is exact.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use comms::Shutdown;
use comms::messaging::rabbitmq::{RabbitBroker, RabbitConfig};
use comms::messaging::{
    Delivery, Envelope, Event, Handler, HandlerError, MessageBroker, OutboxRelay, RelayConfig, Subscription, inbox,
    outbox,
};
use futures::future::BoxFuture;
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::scratch::{self, QUEUE_EXPIRY, ScratchDatabase};
use crate::stats::Samples;
use crate::tick::Tick;

const CONSUMER: &str = "bench-consumer";

/// How long stragglers may take after the producer stops.
const DRAIN: Duration = Duration::from_secs(10);

/// Written at the same rate before the measured events, and not counted.
const WARM_UP: Duration = Duration::from_secs(2);

/// The producer, the relay's two connections and the consumer's prefetch
/// (16 handlers at once), with room to spare.
const CONNECTIONS: u32 = 24;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Any database on the server; the run creates and drops its own.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    #[arg(long, default_value = crate::DEFAULT_AMQP)]
    amqp: String,
    /// Events per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// How long the producer writes.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The relay's claim cycles (`RelayConfig::workers`; services use the
    /// default, 2). 1 shows what the second one buys.
    #[arg(long)]
    relay_workers: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    rate: f64,
    /// Events applied, i.e. latencies measured.
    count: u64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Events never applied (including any the producer failed to write).
    errors: u64,
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    anyhow::ensure!(args.rate > 0.0 && args.rate.is_finite(), "--rate must be a positive number");
    let db = ScratchDatabase::create(&args.database_url, CONNECTIONS).await?;
    let measured = measure(&args, &db.pool).await;
    // Dropped whatever happened: a failed run must not leave it behind.
    db.drop().await.context("drop the scratch database")?;
    measured
}

async fn measure(args: &Args, pool: &PgPool) -> anyhow::Result<Report> {
    outbox::install(pool).await?;
    sqlx::raw_sql("CREATE TABLE effects (event_id uuid PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        .execute(pool)
        .await?;

    let namespace = scratch::namespace();
    let mut config = RabbitConfig::new(args.amqp.clone(), "bench-event-latency");
    config.exchange = format!("{namespace}{}", config.exchange);
    config.prefix = namespace;
    config.queue_expiry = Some(QUEUE_EXPIRY);
    // Gone with the last binding, i.e. when the consumer's queue expires.
    config.exchange_auto_delete = true;
    let broker: Arc<dyn MessageBroker> = RabbitBroker::connect(config).await.context("connect to RabbitMQ")?;

    let (applied_tx, mut applied_rx) = mpsc::unbounded_channel();
    let consumer = Arc::new(Consumer { pool: pool.clone(), applied: applied_tx });
    let subscription = broker.subscribe(Subscription::events(CONSUMER, &[Tick::TYPE]), consumer).await?;
    let stop_relay = Shutdown::new();
    let mut relay_config = RelayConfig::default();
    relay_config.workers = args.relay_workers.unwrap_or(relay_config.workers);
    let relay = OutboxRelay::new(pool.clone(), broker.clone(), "rabbitmq", relay_config);
    let relay = tokio::spawn(relay.run(stop_relay.clone()));

    // Steady state is what is measured: the first events also pay for
    // opening the pool's connections and the consumer's first deliveries
    // (seen as 100–200 ms in the first tenth of a second, enough to set the
    // p99 of a whole run). They are written, applied and not counted.
    eprintln!("event-latency: warming up for {} s", WARM_UP.as_secs());
    let warm_up = produce(pool, args.rate, WARM_UP).await;
    collect_applied(&mut applied_rx, &warm_up.committed).await;

    eprintln!("event-latency: {} events/s for {} s", args.rate, args.seconds);
    let produced = produce(pool, args.rate, Duration::from_secs(args.seconds)).await;
    let applied = collect_applied(&mut applied_rx, &produced.committed).await;

    stop_relay.trigger();
    let _ = relay.await;
    broker.unsubscribe(subscription).await?;

    let mut samples = Samples::default();
    let mut never_applied = 0;
    for (id, committed_at) in &produced.committed {
        match applied.get(id) {
            Some(applied_at) => samples.record(applied_at.saturating_duration_since(*committed_at)),
            None => never_applied += 1,
        }
    }
    if never_applied > 0 {
        eprintln!("event-latency: {never_applied} committed events were not applied within {DRAIN:?} of the end");
    }
    let count = samples.len() as u64;
    let sorted = samples.sorted();
    Ok(Report {
        rate: args.rate,
        count,
        p50_ms: sorted.percentile(0.50),
        p90_ms: sorted.percentile(0.90),
        p99_ms: sorted.percentile(0.99),
        max_ms: sorted.max(),
        errors: never_applied + produced.failed,
    })
}

/// When each of `committed` was applied, as far as they were within
/// [`DRAIN`]; reports of other events are skipped.
async fn collect_applied(
    applied_rx: &mut mpsc::UnboundedReceiver<(Uuid, Instant)>,
    committed: &HashMap<Uuid, Instant>,
) -> HashMap<Uuid, Instant> {
    let mut applied = HashMap::new();
    let deadline = Instant::now() + DRAIN;
    while applied.len() < committed.len() {
        match tokio::time::timeout_at(deadline, applied_rx.recv()).await {
            Ok(Some((id, at))) if committed.contains_key(&id) => {
                applied.entry(id).or_insert(at);
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    applied
}

struct Produced {
    /// Event id → when its COMMIT returned.
    committed: HashMap<Uuid, Instant>,
    failed: u64,
}

/// Writes one event every 1/`rate` s for `duration`. A late tick is made
/// up at once (tokio's burst), so the rate holds on average.
async fn produce(pool: &PgPool, rate: f64, duration: Duration) -> Produced {
    let mut produced = Produced { committed: HashMap::new(), failed: 0 };
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    for n in 0.. {
        ticks.tick().await;
        if started.elapsed() >= duration {
            break;
        }
        let envelope = Tick::sized(n, 0).envelope();
        match write(pool, &envelope).await {
            Ok(()) => {
                produced.committed.insert(envelope.id, Instant::now());
            }
            Err(error) => {
                if produced.failed == 0 {
                    eprintln!("event-latency: the producer failed to write an event: {error}");
                }
                produced.failed += 1;
            }
        }
    }
    produced
}

async fn write(pool: &PgPool, envelope: &Envelope) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    outbox::enqueue(&mut tx, envelope).await?;
    tx.commit().await
}

/// Applies each event once, as a service's consumer does, and reports when
/// its effect committed.
struct Consumer {
    pool: PgPool,
    applied: mpsc::UnboundedSender<(Uuid, Instant)>,
}

impl Handler for Consumer {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let transient = |e: sqlx::Error| HandlerError::Transient(e.to_string());
            let mut tx = self.pool.begin().await.map_err(transient)?;
            if !inbox::first_delivery(&mut tx, CONSUMER, envelope.id).await.map_err(transient)? {
                return Ok(());
            }
            sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
                .bind(envelope.id)
                .execute(&mut *tx)
                .await
                .map_err(transient)?;
            tx.commit().await.map_err(transient)?;
            // No receiver means the run is over and no longer counting.
            let _ = self.applied.send((envelope.id, Instant::now()));
            Ok(())
        })
    }
}
