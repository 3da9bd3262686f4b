//! The domain events this service turns into notifications.
//!
//! For each event: work out the recipients and render their message, then
//! in ONE transaction record the event in the inbox, store one notification
//! per recipient, queue a delivery task for each through the outbox, and
//! announce each to the live streams. A redelivered event finds its inbox
//! row (and the unique key finds its notifications) and changes nothing.

use std::future::Future;
use std::sync::Arc;

use comms::messaging::{Envelope, Event, EventRouter, HandlerError, inbox, outbox};
use events::{LowStock, OrderCancelled, OrderConfirmed, OrderRejected, UserRegistered};
use sqlx::PgPool;
use uuid::Uuid;

use crate::delivery::{self, DeliverNotification};
use crate::domain::{Address, Draft, Message, Recipient, templates};
use crate::users::{Customer, UserDirectory};
use crate::{db, live};

/// This service's name in the inbox (and as the source of its tasks).
pub const CONSUMER: &str = "notification";

pub struct Consumers {
    db: PgPool,
    users: UserDirectory,
    operators: Vec<Address>,
}

impl Consumers {
    pub fn new(db: PgPool, users: UserDirectory, operators: Vec<Address>) -> Self {
        Self { db, users, operators }
    }

    /// The router to subscribe: one route per event type handled.
    pub fn router(self) -> EventRouter {
        let this = Arc::new(self);
        let router = EventRouter::new();
        let router = route(router, &this, Self::user_registered);
        let router = route(router, &this, Self::order_confirmed);
        let router = route(router, &this, Self::order_rejected);
        let router = route(router, &this, Self::order_cancelled);
        route(router, &this, Self::low_stock)
    }

    async fn user_registered(self: Arc<Self>, envelope: Envelope, event: UserRegistered) -> Result<(), HandlerError> {
        // The event carries what a welcome needs: no call to the user service.
        let Some(recipient) = user_recipient(event.user_id, &event.email) else {
            return Ok(());
        };
        let message = templates::welcome(&event.name);
        self.store(&envelope, &[Draft { recipient, message }]).await
    }

    async fn order_confirmed(self: Arc<Self>, envelope: Envelope, event: OrderConfirmed) -> Result<(), HandlerError> {
        self.to_customer(&envelope, event.customer_id, |c| templates::order_confirmed(&c.name, &event)).await
    }

    async fn order_rejected(self: Arc<Self>, envelope: Envelope, event: OrderRejected) -> Result<(), HandlerError> {
        self.to_customer(&envelope, event.customer_id, |c| templates::order_rejected(&c.name, &event)).await
    }

    async fn order_cancelled(self: Arc<Self>, envelope: Envelope, event: OrderCancelled) -> Result<(), HandlerError> {
        self.to_customer(&envelope, event.customer_id, |c| templates::order_cancelled(&c.name, &event)).await
    }

    async fn low_stock(self: Arc<Self>, envelope: Envelope, event: LowStock) -> Result<(), HandlerError> {
        let message = templates::low_stock(&event);
        let drafts: Vec<Draft> = self
            .operators
            .iter()
            .map(|address| Draft {
                recipient: Recipient { user_id: None, address: address.clone() },
                message: message.clone(),
            })
            .collect();
        self.store(&envelope, &drafts).await
    }

    /// A message for the customer, whose address and name come from the
    /// user service. The call is made before the transaction opens (no
    /// connection held across the network), so a redelivered event costs
    /// one lookup before the inbox turns it away.
    async fn to_customer(
        &self,
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
        self.store(envelope, &[Draft { recipient, message }]).await
    }

    #[tracing::instrument(skip_all, fields(event_id = %envelope.id, event_type = %envelope.event_type))]
    async fn store(&self, envelope: &Envelope, drafts: &[Draft]) -> Result<(), HandlerError> {
        let transient = |e: sqlx::Error| HandlerError::Transient(format!("database: {e}"));
        let mut tx = self.db.begin().await.map_err(transient)?;
        if !inbox::first_delivery(&mut tx, CONSUMER, envelope.id).await.map_err(transient)? {
            tracing::info!("event already handled; ignoring the duplicate");
            return Ok(());
        }
        let mut stored = 0;
        for draft in drafts {
            let Some(notification) =
                db::insert(&mut tx, envelope.id, &envelope.event_type, draft).await.map_err(transient)?
            else {
                continue;
            };
            let task = DeliverNotification { notification_id: notification.id };
            let task = Envelope::new(CONSUMER, &task, Some(envelope));
            outbox::enqueue_task(&mut tx, delivery::QUEUE, &task).await.map_err(transient)?;
            live::announce(&mut tx, notification.id).await.map_err(transient)?;
            stored += 1;
        }
        tx.commit().await.map_err(transient)?;
        tracing::info!(stored, "notifications stored");
        Ok(())
    }
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

/// Routes events of type `E` to `handler`, sharing `this`.
fn route<E, F, Fut>(router: EventRouter, this: &Arc<Consumers>, handler: F) -> EventRouter
where
    E: Event,
    F: Fn(Arc<Consumers>, Envelope, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let this = this.clone();
    router.on(move |envelope, event| handler(this.clone(), envelope, event))
}
