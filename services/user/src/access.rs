//! Who may call each of the user service's operations (deny by default:
//! `comms::auth`). Handlers still check ownership: a customer reaches
//! `/users/{id}` here, and only their own account in the handler.

use comms::auth::{AccessTable, Allow};

pub static ACCESS: AccessTable = AccessTable::new(&[
    // Public at the gateway: reached under the gateway's identity.
    ("POST /auth/register", Allow::services(&["gateway"])),
    ("POST /auth/login", Allow::services(&["gateway"])),
    // Open by nature: the public keys that verify every token.
    ("GET /.well-known/jwks.json", Allow::open()),
    ("GET /users", Allow::roles(&["admin"])),
    // The notification service reads a recipient's address and name.
    ("GET /users/{id}", Allow::users().and_services(&["notification"])),
    ("PATCH /users/{id}", Allow::users()),
    ("DELETE /users/{id}", Allow::users()),
    // The order service checks a customer exists.
    ("/user.v1.UserService/GetUser", Allow::services(&["order"])),
    // Bulk and administrative RPCs: every email, any account.
    ("/user.v1.UserService/CreateUser", Allow::roles(&["admin"])),
    ("/user.v1.UserService/ListUsers", Allow::roles(&["admin"])),
    ("/user.v1.UserService/UpdateUsers", Allow::roles(&["admin"])),
]);
