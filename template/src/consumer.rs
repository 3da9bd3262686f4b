//! The event consumer: each event it receives, recorded exactly once.
//!
//! The library runs [`record`] in the transaction it opens for a delivery,
//! which also writes the event's inbox row: the two commit together or not
//! at all, and a redelivery finds the inbox row and never reaches
//! [`record`]. A database error is retried, or dead-lettered when retrying
//! cannot help (`comms::db` classifies).

use std::sync::Arc;

use comms::messaging::{Envelope, Event, EventRouter, HandlerError};
use events::UserRegistered;
use sqlx::PgConnection;

/// The event types the service consumes, each recorded by [`record`]. It
/// needs no state, only its transaction.
pub fn router() -> EventRouter<()> {
    EventRouter::with_state(Arc::new(()))
        // One line per type consumed.
        .on(record::<UserRegistered>)
}

/// Records that the event arrived, with the subject it is about.
#[tracing::instrument(skip_all, fields(event_id = %envelope.id, event_type = %envelope.event_type))]
async fn record<E: Event>(_: &(), tx: &mut PgConnection, envelope: &Envelope, event: E) -> Result<(), HandlerError> {
    sqlx::query("INSERT INTO received (event_id, event_type, subject, received_at) VALUES ($1, $2, $3, now())")
        .bind(envelope.id)
        .bind(E::TYPE)
        .bind(event.subject())
        .execute(tx)
        .await?;
    Ok(())
}
