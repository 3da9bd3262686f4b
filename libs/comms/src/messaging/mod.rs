//! Reliable messaging: envelopes, the broker abstraction, the transactional
//! outbox and its relay, the inbox, and typed routing. Services never touch
//! a broker client directly.

pub mod broker;
mod consuming;
pub mod consumption;
pub mod dead_letters;
pub mod envelope;
mod health_checks;
pub mod inbox;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod outbox;
pub mod rabbitmq;
pub mod relay;
pub mod retention;
pub mod router;
pub mod runtime;
pub mod settings;
pub mod spans;

pub use broker::{
    BrokerError, Delivery, Destination, Handler, HandlerError, MessageBroker, OutgoingMessage, PublishError,
    Subscription, SubscriptionId, SubscriptionKind,
};
pub use consumption::Consumption;
pub use envelope::{DecodeError, Envelope, Event};
pub use relay::{CrashPoint, OutboxRelay, RelayConfig, RelayError};
pub use retention::Retention;
pub use router::{Applied, Consumer, EventHandler, EventRouter};
pub use runtime::Messaging;
