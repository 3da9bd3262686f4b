//! The inventory service's own settings, read from `INVENTORY_*`
//! environment variables beside the ones every service reads
//! (`comms::settings::ServiceSettings`: `INVENTORY_HOST`, `_HTTP_PORT`
//! 8083, `_GRPC_PORT` 9083, `_METRICS_PORT` 7083, `_DATABASE_URL`, `_DATABASE_MAX_CONNECTIONS`,
//! `_SHUTDOWN_GRACE_SECS`, `_CONSUL_URL`, `_ADVERTISE_HOST`, and the
//! unprefixed broker variables; defaults from [`crate::SERVICE`]).
//!
//! | variable | default |
//! |---|---|
//! | `INVENTORY_LOW_STOCK_THRESHOLD` | `5`; `inventory.low_stock` is emitted when stock falls from above it to at or below it |
//! | `INVENTORY_WATCH_BUFFER` | `256`; stock changes a `WatchStock` reader may fall behind before it is dropped |
//! | `INVENTORY_SEED_DEMO_PRODUCTS` | `false`; `true` inserts a few demo products at start (once) |

use serde::{Deserialize, Serialize};

pub type Settings = comms::settings::Settings<InventorySettings>;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct InventorySettings {
    pub low_stock_threshold: u32,
    pub watch_buffer: usize,
    pub seed_demo_products: bool,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self { low_stock_threshold: 5, watch_buffer: 256, seed_demo_products: false }
    }
}
