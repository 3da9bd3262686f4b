//! Who may call each of the template service's operations (deny by
//! default: `comms::auth`). A new route or RPC is refused to everyone until
//! it is listed here.

use comms::auth::{AccessTable, Allow};

pub static ACCESS: AccessTable = AccessTable::new(&[
    ("POST /template/items", Allow::users()),
    // The handler shows an item to its owner or an admin only.
    ("GET /template/items/{id}", Allow::users()),
    // Any item by id, whoever owns it. // new-service: grpc
    ("/template.v1.TemplateService/GetItem", Allow::roles(&["admin"])), // new-service: grpc
]);
