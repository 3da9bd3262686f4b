//! The transactional outbox: the event is written in the same transaction
//! as the state change it announces, so either both happen or neither.
//!
//! A relay ([`super::relay`]) publishes pending rows afterwards. Rows carry
//! the trace context of the request that wrote them, so the trace goes on
//! through the broker.

use std::collections::HashMap;

use sqlx::PgConnection;

use super::envelope::Envelope;

/// The tables the outbox and inbox need, created if absent. Every service
/// that publishes or consumes runs this at start-up (it is idempotent), so
/// the library owns its schema instead of each service copying it.
pub const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS comms_outbox (
    id            uuid PRIMARY KEY,
    event_type    text NOT NULL,
    envelope      jsonb NOT NULL,
    trace_context jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    next_attempt_at timestamptz NOT NULL DEFAULT now()
);
-- Set for a task (point-to-point) instead of a domain event.
ALTER TABLE comms_outbox ADD COLUMN IF NOT EXISTS task_queue text;
-- Set on a row the relay can never publish (it does not decode, or the
-- broker refuses it for good): skipped by every claim, kept for a person.
ALTER TABLE comms_outbox ADD COLUMN IF NOT EXISTS quarantined_at timestamptz;
CREATE INDEX IF NOT EXISTS comms_outbox_pending
    ON comms_outbox (next_attempt_at, created_at) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS comms_inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
-- For pruning (`retention`): finding expired rows without a full scan.
CREATE INDEX IF NOT EXISTS comms_outbox_published
    ON comms_outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS comms_inbox_processed ON comms_inbox (processed_at);
";

/// The channel the relay listens on.
pub const NOTIFY_CHANNEL: &str = "comms_outbox";

pub async fn install(pool: &sqlx::PgPool) -> sqlx::Result<()> {
    // Two replicas starting together may race on CREATE ... IF NOT EXISTS;
    // an advisory lock makes the second wait for the first.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(727274)").execute(&mut *tx).await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    tx.commit().await
}

/// Adds an event to the outbox inside the caller's transaction. The relay
/// is woken when (and only if) the transaction commits.
#[tracing::instrument(skip_all, fields(event_type = %envelope.event_type, event_id = %envelope.id))]
pub async fn enqueue(tx: &mut PgConnection, envelope: &Envelope) -> sqlx::Result<()> {
    insert(tx, envelope, None).await
}

/// Adds a task for the work queue `queue` inside the caller's transaction:
/// the point-to-point twin of [`enqueue`], just as reliable.
#[tracing::instrument(skip_all, fields(queue = %queue, task_type = %envelope.event_type, task_id = %envelope.id))]
pub async fn enqueue_task(tx: &mut PgConnection, queue: &str, envelope: &Envelope) -> sqlx::Result<()> {
    insert(tx, envelope, Some(queue)).await
}

async fn insert(tx: &mut PgConnection, envelope: &Envelope, task_queue: Option<&str>) -> sqlx::Result<()> {
    let mut trace_context = HashMap::new();
    crate::telemetry::inject_map(&mut trace_context);
    sqlx::query(
        "INSERT INTO comms_outbox (id, event_type, envelope, trace_context, task_queue) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(envelope.id)
    .bind(&envelope.event_type)
    .bind(sqlx::types::Json(envelope))
    .bind(sqlx::types::Json(trace_context))
    .bind(task_queue)
    .execute(&mut *tx)
    .await?;
    // NOTIFY is transactional: listeners hear it at commit, never before.
    sqlx::query("SELECT pg_notify($1, '')").bind(NOTIFY_CHANNEL).execute(&mut *tx).await?;
    Ok(())
}

/// A row the relay set aside: it can never be published as it is.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Quarantined {
    pub id: uuid::Uuid,
    pub event_type: String,
    /// Why (the decode error, or the broker's refusal).
    pub reason: Option<String>,
    pub quarantined_at: chrono::DateTime<chrono::Utc>,
}

/// Every quarantined row, oldest first. They stay until a person deletes
/// or repairs them: retention removes only published rows.
pub async fn quarantined(pool: &sqlx::PgPool) -> sqlx::Result<Vec<Quarantined>> {
    sqlx::query_as(
        "SELECT id, event_type, last_error AS reason, quarantined_at FROM comms_outbox
         WHERE quarantined_at IS NOT NULL ORDER BY quarantined_at",
    )
    .fetch_all(pool)
    .await
}
