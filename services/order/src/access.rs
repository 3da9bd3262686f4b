//! Who may call each of the order service's operations (deny by default:
//! `comms::auth`). The REST handlers show a customer their own orders only.

use comms::auth::{AccessTable, Allow};

pub static ACCESS: AccessTable = AccessTable::new(&[
    ("POST /orders", Allow::users()),
    ("GET /orders", Allow::users()),
    ("GET /orders/{id}", Allow::users()),
    ("POST /orders/{id}/cancel", Allow::users()),
    // Any order by id, whoever placed it.
    ("/order.v1.OrderService/GetOrder", Allow::roles(&["admin"])),
]);
