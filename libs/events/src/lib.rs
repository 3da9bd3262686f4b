//! The payloads of every domain event (and task) in the system, one type per
//! event type. Like `contracts` for gRPC, this crate is the only thing two
//! services share about messages: a producer and its consumers compile
//! against the same struct, so a renamed field breaks the build, not a saga.
//!
//! Amounts are integers in minor units (cents) of the system's one currency.
//! A payload change that old consumers cannot read bumps `SCHEMA_VERSION`.

pub mod inventory;
pub mod order;
pub mod template;
pub mod user;

pub use inventory::{InventoryRejected, InventoryReleased, InventoryReserved, LowStock, ShortLine};
pub use order::{OrderCancelled, OrderConfirmed, OrderExpired, OrderLine, OrderPlaced, OrderRejected};
pub use user::UserRegistered;

/// Every domain event type, for a consumer that takes them all (analytics)
/// and for documentation.
pub const ALL_TYPES: &[&str] = &[
    <UserRegistered as comms::messaging::Event>::TYPE,
    <OrderPlaced as comms::messaging::Event>::TYPE,
    <OrderConfirmed as comms::messaging::Event>::TYPE,
    <OrderRejected as comms::messaging::Event>::TYPE,
    <OrderCancelled as comms::messaging::Event>::TYPE,
    <OrderExpired as comms::messaging::Event>::TYPE,
    <InventoryReserved as comms::messaging::Event>::TYPE,
    <InventoryRejected as comms::messaging::Event>::TYPE,
    <InventoryReleased as comms::messaging::Event>::TYPE,
    <LowStock as comms::messaging::Event>::TYPE,
];

/// Implements `Event` with the type name and the field that is the subject.
macro_rules! event {
    ($ty:ty, $name:literal, $subject:ident) => {
        impl comms::messaging::Event for $ty {
            const TYPE: &'static str = $name;

            fn subject(&self) -> String {
                self.$subject.to_string()
            }
        }
    };
}
pub(crate) use event;
