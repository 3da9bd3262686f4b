//! Typed handling: a service declares the event types it handles and gets
//! decoded payloads. Anything it cannot read is dead-lettered with the
//! reason, never retried and never allowed to stall the queue.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::broker::{Delivery, Handler, HandlerError};
use super::envelope::{Envelope, Event};

type Route = Arc<dyn Fn(Envelope) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

#[derive(Clone, Default)]
pub struct EventRouter {
    routes: HashMap<&'static str, Route>,
}

impl EventRouter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles events of type `E` with `handler(envelope, payload)`.
    pub fn on<E, F, Fut>(mut self, handler: F) -> Self
    where
        E: Event,
        F: Fn(Envelope, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.routes.insert(
            E::TYPE,
            Arc::new(move |envelope: Envelope| {
                let handler = handler.clone();
                Box::pin(async move {
                    let payload = envelope.decode::<E>().map_err(|e| HandlerError::Permanent(e.to_string()))?;
                    handler(envelope, payload).await
                })
            }),
        );
        self
    }

    /// The types to bind the service's queue to.
    pub fn types(&self) -> Vec<&'static str> {
        let mut types: Vec<&'static str> = self.routes.keys().copied().collect();
        types.sort_unstable();
        types
    }
}

impl Handler for EventRouter {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let envelope = Envelope::from_bytes(&delivery.body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let Some(route) = self.routes.get(envelope.event_type.as_str()) else {
                return Err(HandlerError::Permanent(format!("unknown event type {}", envelope.event_type)));
            };
            route(envelope).await
        })
    }
}
