//! The domain events this service turns into notifications.
//!
//! For each event, in the transaction the library opened with its inbox
//! row: work out the recipients and render their message, store one notification
//! per recipient, queue a delivery task for each through the outbox, and
//! announce each to the live streams. A redelivered event finds its inbox
//! row (and the unique key finds its notifications) and changes nothing.

use std::sync::Arc;

use comms::messaging::{Envelope, EventRouter, HandlerError, outbox};
use events::{LowStock, OrderCancelled, OrderConfirmed, OrderExpired, OrderRejected, UserRegistered};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::delivery::{self, DeliverNotification};
use crate::domain::{Address, Draft, Message, Recipient, templates};
use crate::users::{Customer, UserDirectory};
use crate::{db, live};

/// What the handlers share: who to ask for a customer's address, and who
/// hears about low stock.
pub(crate) struct Consumers {
    pub(crate) users: UserDirectory,
    pub(crate) operators: Vec<Address>,
}

impl Consumers {
    /// The router to subscribe: one route per event type handled.
    pub(crate) fn router(self) -> EventRouter<Self> {
        EventRouter::with_state(Arc::new(self))
            .on(Self::user_registered)
            .on(Self::order_confirmed)
            .on(Self::order_rejected)
            .on(Self::order_cancelled)
            .on(Self::order_expired)
            .on(Self::low_stock)
    }

    async fn user_registered(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope,
        event: UserRegistered,
    ) -> Result<(), HandlerError> {
        // The event carries what a welcome needs: no call to the user service.
        let Some(recipient) = user_recipient(event.user_id, &event.email) else {
            return Ok(());
        };
        let message = templates::welcome(&event.name);
        store(tx, envelope, &[Draft { recipient, message }]).await
    }

    async fn order_confirmed(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope,
        event: OrderConfirmed,
    ) -> Result<(), HandlerError> {
        self.to_customer(tx, envelope, event.customer_id, |c| templates::order_confirmed(&c.name, &event)).await
    }

    async fn order_rejected(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope,
        event: OrderRejected,
    ) -> Result<(), HandlerError> {
        self.to_customer(tx, envelope, event.customer_id, |c| templates::order_rejected(&c.name, &event)).await
    }

    async fn order_cancelled(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope,
        event: OrderCancelled,
    ) -> Result<(), HandlerError> {
        self.to_customer(tx, envelope, event.customer_id, |c| templates::order_cancelled(&c.name, &event)).await
    }

    async fn order_expired(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope,
        event: OrderExpired,
    ) -> Result<(), HandlerError> {
        self.to_customer(tx, envelope, event.customer_id, |c| templates::order_expired(&c.name, &event)).await
    }

    async fn low_stock(&self, tx: &mut PgConnection, envelope: &Envelope, event: LowStock) -> Result<(), HandlerError> {
        let message = templates::low_stock(&event);
        let drafts: Vec<Draft> = self
            .operators
            .iter()
            .map(|address| Draft {
                recipient: Recipient { user_id: None, address: address.clone() },
                message: message.clone(),
            })
            .collect();
        store(tx, envelope, &drafts).await
    }

    /// A message for the customer, whose address and name come from the
    /// user service. The call is made inside the delivery's transaction,
    /// after the inbox has turned duplicates away: it holds a connection
    /// across the call, bounded by the client's deadline.
    async fn to_customer(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope,
        customer_id: Uuid,
        render: impl FnOnce(&Customer) -> Message,
    ) -> Result<(), HandlerError> {
        let customer = match self.users.customer(customer_id).await {
            Ok(Some(customer)) => customer,
            Ok(None) => {
                // Retrying cannot bring the account back.
                tracing::info!(%customer_id, event_type = %envelope.event_type, "customer no longer exists; no notification");
                return Ok(());
            }
            Err(error) => return Err(HandlerError::Transient(format!("looking up customer {customer_id}: {error}"))),
        };
        let Some(recipient) = user_recipient(customer_id, &customer.email) else {
            return Ok(());
        };
        let message = render(&customer);
        store(tx, envelope, &[Draft { recipient, message }]).await
    }
}

/// One notification per draft, each with its delivery task (through the
/// outbox) and its announcement to the live streams, in the delivery's
/// transaction. The unique key finds a notification stored before.
#[tracing::instrument(skip_all, fields(event_id = %envelope.id, event_type = %envelope.event_type))]
async fn store(tx: &mut PgConnection, envelope: &Envelope, drafts: &[Draft]) -> Result<(), HandlerError> {
    let mut stored = 0;
    for draft in drafts {
        let Some(notification) = db::insert(tx, envelope.id, &envelope.event_type, draft).await? else {
            continue;
        };
        let task = DeliverNotification { notification_id: notification.id };
        let task = Envelope::new(crate::SERVICE.name, &task, Some(envelope));
        outbox::enqueue_task(tx, delivery::QUEUE, &task).await?;
        live::announce(tx, notification.id).await?;
        stored += 1;
    }
    tracing::info!(stored, "notifications stored");
    Ok(())
}

/// The recipient for a user, unless their address cannot take mail (then
/// nothing is stored: retrying would not change the address).
fn user_recipient(user_id: Uuid, email: &str) -> Option<Recipient> {
    match Address::parse(email) {
        Ok(address) => Some(Recipient { user_id: Some(user_id), address }),
        Err(reason) => {
            tracing::warn!(%user_id, %reason, "the user's address cannot take mail; no notification");
            None
        }
    }
}
