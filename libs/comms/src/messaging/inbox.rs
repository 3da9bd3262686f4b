//! The inbox: each consumer records the ids of the events it has applied,
//! in the same transaction as the effect. Brokers deliver at least once;
//! with the inbox, effects happen exactly once.

use sqlx::PgConnection;
use uuid::Uuid;

/// Whether this is the first time `consumer` sees `event_id`. Call inside
/// the transaction that applies the effect: if it commits, the id is
/// recorded; if it rolls back, so does the record.
pub async fn first_delivery(tx: &mut PgConnection, consumer: &str, event_id: Uuid) -> sqlx::Result<bool> {
    let inserted = sqlx::query("INSERT INTO comms_inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(consumer)
        .bind(event_id)
        .execute(tx)
        .await?;
    Ok(inserted.rows_affected() == 1)
}
