//! Inventory's answers to `order.placed`, which settle a PENDING order:
//! `inventory.reserved` confirms it, `inventory.rejected` rejects it.
//!
//! Each delivery is applied in the transaction the library opens for it,
//! with its inbox row and the event it causes (`order.confirmed` / `order.rejected`, with the incoming
//! envelope as causation), so a redelivery changes nothing and an event is
//! emitted exactly when the status changes. Only a PENDING order moves: one
//! cancelled meanwhile stays CANCELLED (its `order.cancelled` already told
//! inventory to release the stock).

use std::sync::Arc;

use comms::messaging::{Envelope, EventRouter, HandlerError, outbox};
use events::{InventoryRejected, InventoryReserved, OrderConfirmed, OrderRejected, ShortLine};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db;
use crate::domain::OrderStatus;

/// The handlers, by event type. They need nothing but their transaction.
pub fn router() -> EventRouter<()> {
    EventRouter::with_state(Arc::new(())).on(on_reserved).on(on_rejected)
}

async fn on_reserved(
    _: &(),
    tx: &mut PgConnection,
    envelope: &Envelope,
    event: InventoryReserved,
) -> Result<(), HandlerError> {
    settle(tx, envelope, event.order_id, Verdict::Confirm).await
}

async fn on_rejected(
    _: &(),
    tx: &mut PgConnection,
    envelope: &Envelope,
    event: InventoryRejected,
) -> Result<(), HandlerError> {
    settle(tx, envelope, event.order_id, Verdict::Reject(rejection_reason(&event.short))).await
}

enum Verdict {
    Confirm,
    Reject(String),
}

#[tracing::instrument(skip_all, fields(%order_id, event_id = %envelope.id, event_type = %envelope.event_type))]
async fn settle(
    tx: &mut PgConnection,
    envelope: &Envelope,
    order_id: Uuid,
    verdict: Verdict,
) -> Result<(), HandlerError> {
    let Some(order) = db::lock_order(tx, order_id).await? else {
        // order.placed is relayed only after the order commits, so an
        // answer about an unknown order is a bug somewhere: keep it for a
        // person (dead letter) rather than retry it.
        return Err(HandlerError::Permanent(format!("no order {order_id}")));
    };
    if order.status != OrderStatus::Pending {
        tracing::info!(status = %order.status, "order already settled; answer ignored");
        // Ok commits the inbox row anyway, so a redelivery is recognised.
        return Ok(());
    }
    let envelope = match verdict {
        Verdict::Confirm => {
            let order = db::set_status(tx, order, OrderStatus::Confirmed, None).await?;
            let event = OrderConfirmed {
                order_id,
                customer_id: order.customer_id,
                lines: order.event_lines(),
                total: order.total,
            };
            Envelope::new(crate::SERVICE.name, &event, Some(envelope))
        }
        Verdict::Reject(reason) => {
            let order = db::set_status(tx, order, OrderStatus::Rejected, Some(&reason)).await?;
            let event = OrderRejected { order_id, customer_id: order.customer_id, reason };
            Envelope::new(crate::SERVICE.name, &event, Some(envelope))
        }
    };
    outbox::enqueue(tx, &envelope).await?;
    tracing::info!(outcome = %envelope.event_type, "order settled");
    Ok(())
}

/// What the customer reads on a rejected order.
fn rejection_reason(short: &[ShortLine]) -> String {
    if short.is_empty() {
        return "rejected by inventory".into();
    }
    let lines: Vec<String> =
        short.iter().map(|s| format!("{} (requested {}, available {})", s.sku, s.requested, s.available)).collect();
    format!("insufficient stock: {}", lines.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_every_short_line() {
        let short = [
            ShortLine { sku: "A".into(), requested: 5, available: 2 },
            ShortLine { sku: "B".into(), requested: 1, available: 0 },
        ];
        assert_eq!(
            rejection_reason(&short),
            "insufficient stock: A (requested 5, available 2), B (requested 1, available 0)"
        );
        assert_eq!(rejection_reason(&[]), "rejected by inventory");
    }
}
