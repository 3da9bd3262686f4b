//! Typed, transactional handling of domain events: the one way a service
//! consumes them.
//!
//! A service lists the event types it handles, each with a plain `async fn`:
//!
//! ```ignore
//! EventRouter::with_state(state).on(reservations::on_order_placed).on(reservations::on_order_cancelled)
//! ```
//!
//! where a handler is
//! `async fn(&State, &mut PgConnection, &Envelope, Payload) -> Result<(), HandlerError>`.
//! The library does the rest, the same way for every service: decode the
//! envelope and payload (anything unreadable is dead-lettered with the
//! reason, never retried), open the transaction, record the event in the
//! inbox (a duplicate never reaches the handler), run the handler in that
//! transaction (whatever it writes, the outbox included, commits with the
//! inbox row or not at all), and commit. A database error is classified
//! once (`comms::db::is_transient`), so `?` is all a handler writes.
//!
//! Because handlers only get a connection, the library may apply several
//! deliveries in ONE transaction ([`Consumer::apply_batch`]), each inside a
//! savepoint so that a failure still dead-letters only its own message.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use sqlx::{Acquire, PgConnection, PgPool};

use super::broker::{Delivery, Handler, HandlerError};
use super::envelope::{Envelope, Event};
use super::inbox;

/// A handler of events of type `E` with state `S`: implemented by every
/// `async fn(&S, &mut PgConnection, &Envelope, E) -> Result<(), HandlerError>`.
pub trait EventHandler<'a, S: 'a, E>: Send + Sync + 'static {
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'a;
    fn call(&self, state: &'a S, tx: &'a mut PgConnection, envelope: &'a Envelope, event: E) -> Self::Future;
}

impl<'a, S: 'a, E, F, Fut> EventHandler<'a, S, E> for F
where
    F: Fn(&'a S, &'a mut PgConnection, &'a Envelope, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'a,
{
    type Future = Fut;

    fn call(&self, state: &'a S, tx: &'a mut PgConnection, envelope: &'a Envelope, event: E) -> Fut {
        self(state, tx, envelope, event)
    }
}

type Route<S> = Arc<
    dyn for<'a> Fn(&'a S, &'a mut PgConnection, &'a Envelope) -> BoxFuture<'a, Result<(), HandlerError>> + Send + Sync,
>;

/// The event types a service handles, and how.
pub struct EventRouter<S> {
    state: Arc<S>,
    routes: HashMap<&'static str, Route<S>>,
    settled: Option<Arc<AtomicU64>>,
}

impl<S: Send + Sync + 'static> EventRouter<S> {
    /// A router whose handlers all get `state`.
    pub fn with_state(state: Arc<S>) -> Self {
        Self { state, routes: HashMap::new(), settled: None }
    }

    /// Counts into `counter` every delivery this router settles
    /// successfully, duplicates included: how much of a queue's work one
    /// replica did.
    pub fn count_settled(mut self, counter: Arc<AtomicU64>) -> Self {
        self.settled = Some(counter);
        self
    }

    /// Handles events of type `E` with `handler`.
    pub fn on<E: Event>(mut self, handler: impl for<'a> EventHandler<'a, S, E>) -> Self {
        let handler = Arc::new(handler);
        let route = typed(move |state, tx, envelope| {
            let handler = handler.clone();
            Box::pin(async move {
                let event = envelope.decode::<E>().map_err(|e| HandlerError::Permanent(e.to_string()))?;
                handler.call(state, tx, envelope, event).await
            })
        });
        self.routes.insert(E::TYPE, Arc::new(route));
        self
    }

    /// The types to bind the service's queue to, sorted.
    pub fn types(&self) -> Vec<&'static str> {
        let mut types: Vec<&'static str> = self.routes.keys().copied().collect();
        types.sort_unstable();
        types
    }

    /// The handler a broker drives: applies each delivery in a transaction
    /// of `db`, recording it in the inbox as `consumer`.
    pub fn consumer(self, db: PgPool, consumer: impl Into<String>) -> Consumer<S> {
        Consumer { router: self, db, name: consumer.into() }
    }
}

/// Pins down the higher-ranked signature of a route closure (closures do
/// not infer one from a later coercion).
fn typed<S, F>(route: F) -> F
where
    F: for<'a> Fn(&'a S, &'a mut PgConnection, &'a Envelope) -> BoxFuture<'a, Result<(), HandlerError>>,
{
    route
}

/// An [`EventRouter`] bound to its database and inbox name.
pub struct Consumer<S> {
    router: EventRouter<S>,
    db: PgPool,
    name: String,
}

/// What became of one delivery inside its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Handled,
    /// Already in the inbox: the handler did not run.
    Duplicate,
}

impl<S: Send + Sync + 'static> Consumer<S> {
    /// Applies `deliveries` in ONE transaction: both effects and inbox rows
    /// of every delivery that succeeds commit together. Each runs inside a
    /// savepoint, so one that fails is rolled back alone and gets its own
    /// error (to retry or dead-letter just that message). If the commit
    /// fails, every delivery fails with it.
    pub async fn apply_batch(&self, deliveries: &[Delivery]) -> Vec<Result<Applied, HandlerError>> {
        let mut tx = match self.db.begin().await {
            Ok(tx) => tx,
            Err(error) => {
                let error = HandlerError::from(error);
                return deliveries.iter().map(|_| Err(error.clone())).collect();
            }
        };
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            outcomes.push(self.in_savepoint(&mut tx, delivery).await);
        }
        if let Err(error) = tx.commit().await {
            let error = HandlerError::from(error);
            return outcomes.into_iter().map(|outcome| outcome.and(Err(error.clone()))).collect();
        }
        outcomes.iter().for_each(|outcome| self.settled(outcome));
        outcomes
    }

    async fn in_savepoint(&self, tx: &mut PgConnection, delivery: &Delivery) -> Result<Applied, HandlerError> {
        let mut savepoint = tx.begin().await?;
        let applied = self.apply(&mut savepoint, delivery).await?;
        savepoint.commit().await?;
        Ok(applied)
    }

    /// Decodes, records in the inbox and runs the handler, all on `tx`.
    async fn apply(&self, tx: &mut PgConnection, delivery: &Delivery) -> Result<Applied, HandlerError> {
        let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let Some(route) = self.router.routes.get(envelope.event_type.as_str()) else {
            return Err(HandlerError::Permanent(format!("unknown event type {}", envelope.event_type)));
        };
        if !inbox::first_delivery(tx, &self.name, envelope.id).await? {
            tracing::debug!(event_id = %envelope.id, "duplicate delivery ignored");
            return Ok(Applied::Duplicate);
        }
        route(&self.router.state, tx, &envelope).await?;
        Ok(Applied::Handled)
    }

    fn settled(&self, outcome: &Result<Applied, HandlerError>) {
        if let (Some(counter), Ok(_)) = (&self.router.settled, outcome) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<S: Send + Sync + 'static> Handler for Consumer<S> {
    /// One delivery, one transaction (no savepoint needed).
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let mut tx = self.db.begin().await?;
            // A duplicate commits nothing: the rollback on drop is enough.
            let applied = self.apply(&mut tx, delivery).await?;
            if applied == Applied::Handled {
                tx.commit().await?;
            }
            self.settled(&Ok(applied));
            Ok(())
        })
    }
}
