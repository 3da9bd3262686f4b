//! The facts tables and the queries that aggregate them. Writes take the
//! caller's transaction (the consumer's, which also holds the inbox row);
//! reads take the pool.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Metric, OrderFact, OrdersByStatus, Point, SkuSales, Stage, Summary, TOP_SKUS, Window};

/// The channel a committed change is announced on, to every instance.
pub const CHANGED_CHANNEL: &str = "analytics_changed";

/// Records what an order event says. Set-once columns keep the first
/// value; each stage's time keeps the earliest seen, so the row ends the
/// same whatever order its events arrive in.
#[tracing::instrument(skip_all, fields(order_id = %fact.order_id))]
pub async fn record_order(tx: &mut PgConnection, fact: &OrderFact, at: DateTime<Utc>) -> sqlx::Result<()> {
    let stage_at = |stage: Stage| (fact.stage == stage).then_some(at);
    sqlx::query(
        "INSERT INTO order_facts
             (order_id, customer_id, total, lines, placed_at, confirmed_at, rejected_at, cancelled_at, expired_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (order_id) DO UPDATE SET
             total = COALESCE(order_facts.total, EXCLUDED.total),
             lines = COALESCE(order_facts.lines, EXCLUDED.lines),
             placed_at = LEAST(order_facts.placed_at, EXCLUDED.placed_at),
             confirmed_at = LEAST(order_facts.confirmed_at, EXCLUDED.confirmed_at),
             rejected_at = LEAST(order_facts.rejected_at, EXCLUDED.rejected_at),
             cancelled_at = LEAST(order_facts.cancelled_at, EXCLUDED.cancelled_at),
             expired_at = LEAST(order_facts.expired_at, EXCLUDED.expired_at)",
    )
    .bind(fact.order_id)
    .bind(fact.customer_id)
    .bind(fact.total)
    .bind(fact.lines.as_ref().map(Json))
    .bind(stage_at(Stage::Placed))
    .bind(stage_at(Stage::Confirmed))
    .bind(stage_at(Stage::Rejected))
    .bind(stage_at(Stage::Cancelled))
    .bind(stage_at(Stage::Expired))
    .execute(tx)
    .await
    .map(|_| ())
}

#[tracing::instrument(skip(tx))]
pub async fn record_registration(tx: &mut PgConnection, user_id: Uuid, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO registrations (user_id, registered_at) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET registered_at = LEAST(registrations.registered_at, EXCLUDED.registered_at)",
    )
    .bind(user_id)
    .bind(at)
    .execute(tx)
    .await
    .map(|_| ())
}

/// Counts one event in the minute of its own time. Only ever called in
/// the transaction that records the event's first delivery.
#[tracing::instrument(skip(tx))]
pub async fn count_event(tx: &mut PgConnection, event_type: &str, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO event_minutes (event_type, minute, events) VALUES ($1, date_trunc('minute', $2::timestamptz), 1)
         ON CONFLICT (event_type, minute) DO UPDATE SET events = event_minutes.events + 1",
    )
    .bind(event_type)
    .bind(at)
    .execute(tx)
    .await
    .map(|_| ())
}

/// Announces a change to every listening instance. PostgreSQL delivers it
/// when (and only if) the transaction commits.
pub async fn notify_changed(tx: &mut PgConnection) -> sqlx::Result<()> {
    comms::db::ChangeFeed::notify(tx, CHANGED_CHANNEL, "").await
}

/// Every aggregate, read from one snapshot of the database so the numbers
/// agree with each other.
#[tracing::instrument(skip_all)]
pub async fn load_summary(db: &PgPool) -> sqlx::Result<Summary> {
    #[derive(sqlx::FromRow)]
    struct Totals {
        registrations: i64,
        #[sqlx(flatten)]
        orders_by_status: OrdersByStatus,
        revenue: i64,
        events_applied: i64,
    }
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let totals = sqlx::query_as::<_, Totals>(
        "SELECT (SELECT count(*) FROM registrations) AS registrations,
                count(*) FILTER (WHERE status = 'PENDING') AS pending,
                count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed,
                count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
                count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
                count(*) FILTER (WHERE status = 'EXPIRED') AS expired,
                saturate(COALESCE(sum(total) FILTER (WHERE status = 'CONFIRMED'), 0)) AS revenue,
                (SELECT saturate(COALESCE(sum(events), 0)) FROM event_minutes) AS events_applied
         FROM order_facts",
    )
    .fetch_one(&mut *tx)
    .await?;
    let top_skus = sqlx::query_as::<_, SkuSales>(
        "SELECT line->>'sku' AS sku,
                saturate(sum((line->>'quantity')::numeric)) AS units,
                saturate(sum((line->>'quantity')::numeric * (line->>'unit_price')::numeric)) AS revenue
         FROM order_facts, jsonb_array_elements(lines) AS line
         WHERE status = 'CONFIRMED'
         GROUP BY line->>'sku'
         ORDER BY revenue DESC, sku
         LIMIT $1",
    )
    .bind(TOP_SKUS)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Summary {
        registrations: totals.registrations,
        orders_by_status: totals.orders_by_status,
        revenue: totals.revenue,
        top_skus,
        events_applied: totals.events_applied,
        at: Utc::now(),
    })
}

/// One point per minute of the window, ending with the current minute;
/// minutes without events are 0.
#[tracing::instrument(skip(db))]
pub async fn load_series(db: &PgPool, metric: Metric, window: Window) -> sqlx::Result<Vec<Point>> {
    sqlx::query_as::<_, Point>(
        "SELECT m.minute, COALESCE(e.events, 0) AS events
         FROM generate_series(
                  date_trunc('minute', now()) - make_interval(mins => $2 - 1),
                  date_trunc('minute', now()),
                  interval '1 minute'
              ) AS m(minute)
         LEFT JOIN event_minutes e ON e.event_type = $1 AND e.minute = m.minute
         ORDER BY m.minute",
    )
    .bind(metric.as_str())
    .bind(i32::from(window.minutes()))
    .fetch_all(db)
    .await
}
