//! The outbox relay: publishes committed outbox rows, marking each one
//! published only after the broker confirmed it.
//!
//! - **Claiming.** A batch is selected `FOR UPDATE SKIP LOCKED` inside a
//!   transaction held until the rows are marked, so any number of relays
//!   (one per replica) share the work and never publish a row twice
//!   between them.
//! - **Waking.** The relay LISTENs for the NOTIFY that `outbox::enqueue`
//!   sends at commit, so events go out within milliseconds; polling
//!   ([`RelayConfig::poll_interval`], default 5 s) is only the fallback for
//!   a lost notification or a lost listener connection.
//! - **Crashing.** If the relay dies after claiming, its transaction rolls
//!   back and the rows are claimed again. If it dies after the confirm but
//!   before marking, the rows are published again: at least once, never
//!   lost; consumers' inboxes absorb the duplicate.
//! - **Unroutable events** (no queue bound for the type) are not marked
//!   published: the relay logs an error, counts
//!   `outbox_unroutable_total{event_type}`, and retries the row with
//!   backoff (5 s doubling to 5 min) until a queue exists.
//! - **A broker outage** is not the rows' fault. A batch whose every row
//!   failed for want of the broker (no connection, or no confirm within
//!   [`RelayConfig::confirm_timeout`]) is rolled back: its rows are
//!   released with no attempt counted, and the relay waits a moment before
//!   it claims again. The claim transaction is never held past the timeout.
//! - **A row that can never go out** (it does not decode, or the broker
//!   refuses it for good) is quarantined: marked, logged, counted in
//!   `outbox_quarantined_total`, listed by [`super::outbox::quarantined`],
//!   and skipped by every later claim, so it never blocks the rows behind
//!   it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use sqlx::types::Json;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

use super::broker::{Destination, MessageBroker, OutgoingMessage, PublishError};
use super::envelope::Envelope;
use super::outbox::NOTIFY_CHANNEL;
use super::spans;
use crate::shutdown::Shutdown;

#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Rows per claim (default 100): one window of confirms in flight.
    pub batch_size: i64,
    /// Claim cycles running side by side (default 2): at most this many
    /// batches are awaiting confirms at once. Order across batches is not
    /// kept, as it never is between replicas; consumers must not rely on it.
    pub workers: usize,
    pub poll_interval: Duration,
    /// How long a batch waits for the broker's confirms (default 10 s).
    /// Past it the whole batch counts as a broker outage.
    pub confirm_timeout: Duration,
    /// For tests of the crash windows: stop dead at this point, as a killed
    /// process would.
    pub crash_at: Option<CrashPoint>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            workers: 2,
            poll_interval: Duration::from_secs(5),
            confirm_timeout: Duration::from_secs(10),
            crash_at: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// Rows claimed, nothing published.
    AfterClaim,
    /// Rows published and confirmed, not yet marked.
    AfterConfirm,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("relay stopped at {0:?} (test crash point)")]
    Crashed(CrashPoint),
    /// Every row of the batch failed for want of the broker; they were
    /// released with no attempt counted.
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(String),
}

/// How long a worker waits after a broker outage before it claims again.
const AFTER_OUTAGE: Duration = Duration::from_secs(1);

pub struct OutboxRelay {
    pool: PgPool,
    broker: Arc<dyn MessageBroker>,
    config: RelayConfig,
    system: &'static str,
}

/// A claimed row as stored: decoded one by one, so one bad row cannot fail
/// the claim of every other.
#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    envelope: Json<serde_json::Value>,
    trace_context: Json<serde_json::Value>,
    task_queue: Option<String>,
}

struct Row {
    id: Uuid,
    envelope: Envelope,
    trace_context: std::collections::HashMap<String, String>,
    task_queue: Option<String>,
}

impl Claimed {
    fn decode(self) -> Result<Row, (Uuid, String)> {
        let envelope = serde_json::from_value(self.envelope.0).map_err(|e| (self.id, format!("undecodable: {e}")))?;
        // A trace context that does not decode only loses the trace.
        let trace_context = serde_json::from_value(self.trace_context.0).unwrap_or_default();
        Ok(Row { id: self.id, envelope, trace_context, task_queue: self.task_queue })
    }
}

impl OutboxRelay {
    /// `system` names the broker in spans (`rabbitmq`, `kafka`).
    pub fn new(pool: PgPool, broker: Arc<dyn MessageBroker>, system: &'static str, config: RelayConfig) -> Self {
        Self { pool, broker, config, system }
    }

    /// Runs until shutdown: [`RelayConfig::workers`] claim cycles drain the
    /// outbox side by side, then wait for a NOTIFY or the poll.
    pub async fn run(self, shutdown: Shutdown) {
        let this = Arc::new(self);
        // `notify_one` wakes one idle worker, or leaves a permit for the next
        // one to finish its batch: a NOTIFY is never lost between workers.
        let wake = Arc::new(Notify::new());
        // Listening before the first drain: a commit in between still wakes.
        let mut listener = this.listen().await;
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..this.config.workers.max(1) {
            workers.spawn(this.clone().work(wake.clone(), shutdown.clone()));
        }
        loop {
            let notified = async {
                match listener.as_mut() {
                    Some(l) => {
                        if let Err(error) = l.recv().await {
                            // Notifications sent while it was down are gone;
                            // the wake below makes a worker drain anyway.
                            tracing::warn!(%error, "outbox listener lost; it reconnects on the next wait");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = notified => wake.notify_one(),
                // A worker ends only at shutdown or at a test crash point;
                // either way the relay stops as a whole, as a process would.
                _ = workers.join_next() => break,
            }
        }
        if shutdown.is_triggered() {
            // Let batches in flight finish and be marked.
            while workers.join_next().await.is_some() {}
        } else {
            workers.abort_all();
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let listening = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "outbox relay cannot LISTEN; polling only");
                None
            }
        }
    }

    /// One claim cycle after another until the outbox is drained, then a
    /// wait for the next wake-up. Several workers claim disjoint rows
    /// (`SKIP LOCKED`), so an event committed while one batch waits for its
    /// confirms goes out in the next worker's batch instead of queueing
    /// behind it.
    async fn work(self: Arc<Self>, wake: Arc<Notify>, shutdown: Shutdown) {
        loop {
            loop {
                match self.publish_batch().await {
                    Ok(n) if n as i64 == self.config.batch_size => continue,
                    Ok(_) => break,
                    Err(RelayError::Crashed(point)) => {
                        tracing::warn!(?point, "outbox relay stopped at its crash point");
                        return;
                    }
                    Err(RelayError::BrokerUnavailable(error)) => {
                        tracing::warn!(%error, "broker unavailable; the batch is released, nothing counted");
                        tokio::time::sleep(AFTER_OUTAGE).await;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "outbox relay batch failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
                () = shutdown.clone().wait() => return,
            }
        }
    }

    /// One claim → publish → mark cycle. Returns how many rows it claimed.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        let claimed: Vec<Claimed> = sqlx::query_as(
            "SELECT id, envelope, trace_context, task_queue FROM comms_outbox
             WHERE published_at IS NULL AND quarantined_at IS NULL AND next_attempt_at <= now()
             ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.config.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        if self.config.crash_at == Some(CrashPoint::AfterClaim) {
            return Err(RelayError::Crashed(CrashPoint::AfterClaim));
        }
        let mut rows = Vec::with_capacity(count);
        for row in claimed {
            match row.decode() {
                Ok(row) => rows.push(row),
                Err((id, reason)) => quarantine(&mut tx, id, &reason).await?,
            }
        }

        let outcomes = self.publish(&rows).await;
        if self.config.crash_at == Some(CrashPoint::AfterConfirm) {
            return Err(RelayError::Crashed(CrashPoint::AfterConfirm));
        }
        let all_unavailable =
            !rows.is_empty() && outcomes.iter().all(|outcome| matches!(outcome, Err(PublishError::Unavailable(_))));
        if all_unavailable {
            tx.rollback().await?;
            let error = outcomes.into_iter().find_map(Result::err).map(|e| e.to_string()).unwrap_or_default();
            return Err(RelayError::BrokerUnavailable(error));
        }
        let mut published = Vec::new();
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                Ok(()) => published.push(row.id),
                Err(PublishError::Refused(reason)) => quarantine(&mut tx, row.id, &reason).await?,
                Err(error) => self.record_failure(&mut tx, row, &error).await?,
            }
        }
        // The mark need not wait for the disk: if it is lost in a crash,
        // the rows are simply published again, and consumers' inboxes absorb
        // the copies. Skipping the flush takes a WAL fsync off every cycle.
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
        sqlx::query("UPDATE comms_outbox SET published_at = now() WHERE id = ANY($1)")
            .bind(&published)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::counter!("outbox_published_total").increment(published.len() as u64);
        Ok(count)
    }

    /// Publishes `rows` and waits for their confirms, at most
    /// [`RelayConfig::confirm_timeout`]: past it every row is Unavailable.
    async fn publish(&self, rows: &[Row]) -> Vec<Result<(), PublishError>> {
        if rows.is_empty() {
            return Vec::new();
        }
        let mut spans_ = Vec::with_capacity(rows.len());
        let messages: Vec<OutgoingMessage> = rows
            .iter()
            .map(|row| {
                let envelope = &row.envelope;
                let parent = crate::telemetry::extract_map(&row.trace_context);
                let destination = match &row.task_queue {
                    Some(queue) => Destination::Task { queue: queue.clone() },
                    None => Destination::Event,
                };
                let target = row.task_queue.as_deref().unwrap_or(&envelope.event_type);
                let span = spans::producer(self.system, target, &envelope.event_type, &envelope.id.to_string(), parent);
                let headers = spans::context_headers(&span);
                spans_.push(span);
                OutgoingMessage::from_envelope(envelope, destination, headers)
            })
            .collect();
        let publishing =
            self.broker.publish(&messages).instrument(tracing::info_span!("outbox relay batch", rows = rows.len()));
        let timeout = self.config.confirm_timeout;
        match tokio::time::timeout(timeout, publishing).await {
            Ok(outcomes) => outcomes,
            Err(_) => {
                let error = PublishError::Unavailable(format!("no confirm within {} ms", timeout.as_millis()));
                vec![Err(error); rows.len()]
            }
        }
    }

    async fn record_failure(
        &self,
        tx: &mut sqlx::PgConnection,
        row: &Row,
        error: &PublishError,
    ) -> Result<(), sqlx::Error> {
        let event_type = &row.envelope.event_type;
        if matches!(error, PublishError::Unroutable(_)) {
            tracing::error!(event_id = %row.id, %event_type, "event is unroutable: no queue is bound for its type; it stays in the outbox");
            metrics::counter!("outbox_unroutable_total", "event_type" => event_type.clone()).increment(1);
        } else if matches!(error, PublishError::Unavailable(_)) {
            // The broker's trouble, not the row's: tried again soon, with no
            // attempt counted against it.
            tracing::warn!(event_id = %row.id, %event_type, %error, "publishing failed; will retry");
            sqlx::query(
                "UPDATE comms_outbox SET last_error = $2, next_attempt_at = now() + interval '1 second' WHERE id = $1",
            )
            .bind(row.id)
            .bind(error.to_string())
            .execute(tx)
            .await?;
            return Ok(());
        } else {
            tracing::warn!(event_id = %row.id, %event_type, %error, "publishing failed; will retry");
        }
        sqlx::query(
            "UPDATE comms_outbox SET attempts = attempts + 1, last_error = $2,
                 next_attempt_at = now() + least(interval '5 seconds' * power(2, attempts), interval '5 minutes')
             WHERE id = $1",
        )
        .bind(row.id)
        .bind(error.to_string())
        .execute(tx)
        .await?;
        Ok(())
    }
}

/// Sets `id` aside for good (see the module documentation).
async fn quarantine(tx: &mut sqlx::PgConnection, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    tracing::error!(event_id = %id, %reason, "outbox row quarantined: it can never be published as it is");
    metrics::counter!("outbox_quarantined_total").increment(1);
    sqlx::query("UPDATE comms_outbox SET quarantined_at = now(), last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(tx)
        .await?;
    Ok(())
}
