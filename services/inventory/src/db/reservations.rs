//! The reservations of orders: one row per order inventory has heard of
//! (see the migration for what each status means), and the lines of the
//! reserved ones.

use events::OrderLine;
use sqlx::PgConnection;
use uuid::Uuid;

/// What an order is first recorded as (its row then moves on to
/// `rejected` or `released` through the updates below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Reserved,
    /// Cancelled before its order.placed was handled.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Records `status` for an order inventory has not heard of, returning
/// whether it had not. The insert is what serialises two events of one
/// order: a concurrent claim of the same order waits for this transaction
/// and then finds the row.
#[tracing::instrument(skip(conn))]
pub async fn claim(conn: &mut PgConnection, order_id: Uuid, status: Status) -> sqlx::Result<bool> {
    let inserted =
        sqlx::query("INSERT INTO reservations (order_id, status) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING")
            .bind(order_id)
            .bind(status.as_str())
            .execute(conn)
            .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The order's status as text, for the log.
pub async fn status_of(conn: &mut PgConnection, order_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = $1").bind(order_id).fetch_optional(conn).await
}

pub async fn mark_rejected(conn: &mut PgConnection, order_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE reservations SET status = 'rejected' WHERE order_id = $1")
        .bind(order_id)
        .execute(conn)
        .await
        .map(|_| ())
}

#[tracing::instrument(skip(conn, lines))]
pub async fn insert_lines(conn: &mut PgConnection, order_id: Uuid, lines: &[OrderLine]) -> sqlx::Result<()> {
    let line_nos: Vec<i32> = (1..).take(lines.len()).collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let quantities: Vec<i64> = lines.iter().map(|l| l.quantity).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.unit_price).collect();
    sqlx::query(
        "INSERT INTO reservation_lines (order_id, line_no, sku, quantity, unit_price)
         SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[])",
    )
    .bind(order_id)
    .bind(line_nos)
    .bind(skus)
    .bind(quantities)
    .bind(prices)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Moves a reserved order to released, returning whether it was reserved.
/// The conditional update is the once-only guard: a second release of the
/// same order (whatever its event id) waits on the row lock, then finds the
/// order no longer reserved.
#[tracing::instrument(skip(conn))]
pub async fn release(conn: &mut PgConnection, order_id: Uuid) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE reservations SET status = 'released', released_at = now()
         WHERE order_id = $1 AND status = 'reserved'",
    )
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The lines of a reserved order, as the order listed them.
pub async fn lines(conn: &mut PgConnection, order_id: Uuid) -> sqlx::Result<Vec<OrderLine>> {
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT sku, quantity, unit_price FROM reservation_lines WHERE order_id = $1 ORDER BY line_no")
            .bind(order_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(sku, quantity, unit_price)| OrderLine { sku, quantity, unit_price }).collect())
}
