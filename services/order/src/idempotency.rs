//! The idempotency records of POST /orders: one per (customer, key), holding
//! the first answer so every retry of the same request gets it again.
//!
//! A record is written in the same transaction as the order it answers, so
//! there is never an order without its record or a record without its
//! order. Requests with the same key are serialised by [`lock`]; see
//! `placing` for why and what it costs.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::IdempotencyKey;

/// The answer given the first time, exactly as it was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub order_id: Uuid,
}

pub enum Recorded {
    /// The key is new.
    Nothing,
    /// The key answered this same request before.
    Same(StoredResponse),
    /// The key answered a different request.
    Different,
}

/// Takes the transaction-scoped lock of this (customer, key), waiting for
/// whoever holds it to commit or roll back.
///
/// The two-integer form of the advisory lock is a key space of its own,
/// apart from the single-bigint locks the comms library takes; the first
/// integer names what is locked. Two keys that hash alike merely wait for
/// each other.
#[tracing::instrument(skip_all)]
pub async fn lock(conn: &mut PgConnection, customer_id: Uuid, key: &IdempotencyKey) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('order.idempotency'), hashtext($1::text || ':' || $2))")
        .bind(customer_id)
        .bind(key.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// What the key answered before, if anything. `canonical` is the request
/// in canonical form; only its sha256 is stored.
#[tracing::instrument(skip_all)]
pub async fn find(
    conn: &mut PgConnection,
    customer_id: Uuid,
    key: &IdempotencyKey,
    canonical: &str,
) -> sqlx::Result<Recorded> {
    let row: Option<(bool, i16, String, Uuid)> = sqlx::query_as(
        "SELECT fingerprint = sha256(convert_to($3, 'UTF8')), response_status, response_body, order_id
         FROM idempotency_keys WHERE customer_id = $1 AND key = $2",
    )
    .bind(customer_id)
    .bind(key.as_str())
    .bind(canonical)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => Recorded::Nothing,
        Some((false, ..)) => Recorded::Different,
        Some((true, status, body, order_id)) => {
            Recorded::Same(StoredResponse { status: u16::try_from(status).unwrap_or(500), body, order_id })
        }
    })
}

/// Records the answer to a new key.
#[tracing::instrument(skip_all, fields(order_id = %response.order_id))]
pub async fn record(
    conn: &mut PgConnection,
    customer_id: Uuid,
    key: &IdempotencyKey,
    canonical: &str,
    response: &StoredResponse,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO idempotency_keys (customer_id, key, fingerprint, order_id, response_status, response_body)
         VALUES ($1, $2, sha256(convert_to($3, 'UTF8')), $4, $5, $6)",
    )
    .bind(customer_id)
    .bind(key.as_str())
    .bind(canonical)
    .bind(response.order_id)
    .bind(i16::try_from(response.status).unwrap_or(i16::MAX))
    .bind(&response.body)
    .execute(conn)
    .await?;
    Ok(())
}
