//! The orders and order_lines tables. Functions take a connection so the
//! caller decides the transaction.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Line, Order, OrderStatus, Priced};

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    customer_id: Uuid,
    status: String,
    total: i64,
    reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OrderRow {
    fn with_lines(self, lines: Vec<Line>) -> sqlx::Result<Order> {
        // The table's CHECK allows only known statuses; this is a guard
        // against a migration and this code disagreeing.
        let status = OrderStatus::parse(&self.status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown order status {:?}", self.status).into()))?;
        Ok(Order {
            id: self.id,
            customer_id: self.customer_id,
            status,
            lines,
            total: self.total,
            reason: self.reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Writes a PENDING order and its lines.
#[tracing::instrument(skip_all, fields(%customer_id))]
pub async fn insert_order(conn: &mut PgConnection, customer_id: Uuid, priced: &Priced) -> sqlx::Result<Order> {
    let row = sqlx::query_as::<_, OrderRow>(
        "INSERT INTO orders (id, customer_id, status, total) VALUES ($1, $2, $3, $4)
         RETURNING id, customer_id, status, total, reason, created_at, updated_at",
    )
    .bind(Uuid::now_v7())
    .bind(customer_id)
    .bind(OrderStatus::Pending.as_str())
    .bind(priced.total)
    .fetch_one(&mut *conn)
    .await?;
    // One statement for all lines, whatever their number.
    let skus: Vec<&str> = priced.lines.iter().map(|l| l.sku.as_str()).collect();
    let quantities: Vec<i64> = priced.lines.iter().map(|l| l.quantity).collect();
    let prices: Vec<i64> = priced.lines.iter().map(|l| l.unit_price).collect();
    sqlx::query(
        "INSERT INTO order_lines (order_id, sku, quantity, unit_price)
         SELECT $1::uuid, * FROM unnest($2::text[], $3::bigint[], $4::bigint[])",
    )
    .bind(row.id)
    .bind(&skus)
    .bind(&quantities)
    .bind(&prices)
    .execute(&mut *conn)
    .await?;
    row.with_lines(priced.lines.clone())
}

#[tracing::instrument(skip(conn))]
pub async fn find_order(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Order>> {
    let row = sqlx::query_as::<_, OrderRow>(
        "SELECT id, customer_id, status, total, reason, created_at, updated_at FROM orders WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    with_lines(conn, row).await
}

/// The order, locked until the caller's transaction ends: status changes
/// (a cancellation racing inventory's answer) happen one at a time.
#[tracing::instrument(skip(conn))]
pub async fn lock_order(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Order>> {
    let row = sqlx::query_as::<_, OrderRow>(
        "SELECT id, customer_id, status, total, reason, created_at, updated_at FROM orders WHERE id = $1
         FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    with_lines(conn, row).await
}

/// Up to `limit` orders PENDING for longer than `older_than`, oldest
/// first, locked; rows another transaction holds are skipped, not waited
/// for (another instance is sweeping them).
#[tracing::instrument(skip(conn))]
pub async fn lock_overdue(conn: &mut PgConnection, older_than: Duration, limit: i64) -> sqlx::Result<Vec<Order>> {
    let rows = sqlx::query_as::<_, OrderRow>(
        "SELECT id, customer_id, status, total, reason, created_at, updated_at FROM orders
         WHERE status = 'PENDING' AND created_at < now() - make_interval(secs => $1)
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(older_than.as_secs_f64())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut orders = Vec::with_capacity(rows.len());
    for row in rows {
        orders.extend(with_lines(conn, Some(row)).await?);
    }
    Ok(orders)
}

async fn with_lines(conn: &mut PgConnection, row: Option<OrderRow>) -> sqlx::Result<Option<Order>> {
    let Some(row) = row else { return Ok(None) };
    let lines = lines_of(conn, &[row.id]).await?.remove(&row.id).unwrap_or_default();
    row.with_lines(lines).map(Some)
}

/// One page of a customer's orders, newest first, older than `before`
/// (keyset pagination on the UUIDv7 id: stable while new orders arrive).
#[tracing::instrument(skip(conn))]
pub async fn list_orders(
    conn: &mut PgConnection,
    customer_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Order>> {
    let rows = sqlx::query_as::<_, OrderRow>(
        "SELECT id, customer_id, status, total, reason, created_at, updated_at FROM orders
         WHERE customer_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(customer_id)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines = lines_of(conn, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let own = lines.remove(&row.id).unwrap_or_default();
            row.with_lines(own)
        })
        .collect()
}

/// The lines of several orders in one query, by order id, in sku order
/// (byte order, as `OrderRequest` sorts them).
async fn lines_of(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, Vec<Line>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        order_id: Uuid,
        #[sqlx(flatten)]
        line: Line,
    }
    let rows = sqlx::query_as::<_, Row>(
        "SELECT order_id, sku, quantity, unit_price FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, sku COLLATE \"C\"",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    let mut by_order: HashMap<Uuid, Vec<Line>> = HashMap::new();
    for row in rows {
        by_order.entry(row.order_id).or_default().push(row.line);
    }
    Ok(by_order)
}

/// Moves `order` to `status` (with `reason`, for a rejection) and returns
/// it as stored.
#[tracing::instrument(skip_all, fields(order_id = %order.id, %status))]
pub async fn set_status(
    conn: &mut PgConnection,
    order: Order,
    status: OrderStatus,
    reason: Option<&str>,
) -> sqlx::Result<Order> {
    let updated_at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE orders SET status = $2, reason = $3, updated_at = now() WHERE id = $1 RETURNING updated_at",
    )
    .bind(order.id)
    .bind(status.as_str())
    .bind(reason)
    .fetch_one(conn)
    .await?;
    Ok(Order { status, reason: reason.map(Into::into), updated_at, ..order })
}
