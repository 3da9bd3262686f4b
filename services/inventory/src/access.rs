//! Who may call each of the inventory service's operations (deny by
//! default: `comms::auth`).

use comms::auth::{AccessTable, Allow};

pub static ACCESS: AccessTable = AccessTable::new(&[
    // Product reads are public at the gateway (under its identity) and open
    // to any signed-in user.
    ("GET /products", Allow::users().and_services(&["gateway"])),
    ("GET /products/{sku}", Allow::users().and_services(&["gateway"])),
    ("POST /products", Allow::roles(&["admin"])),
    ("PATCH /products/{sku}", Allow::roles(&["admin"])),
    ("POST /products/{sku}/restock", Allow::roles(&["admin"])),
    // Prices for an order being placed.
    ("/inventory.v1.InventoryService/GetProducts", Allow::services(&["order"])),
    ("/inventory.v1.InventoryService/WatchStock", Allow::roles(&["admin"])),
]);
