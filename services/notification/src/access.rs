//! Who may call each of the notification service's operations (deny by
//! default: `comms::auth`). Each user reads their own notifications only.

use comms::auth::{AccessTable, Allow};

pub static ACCESS: AccessTable =
    AccessTable::new(&[("GET /notifications", Allow::users()), ("GET /notifications/stream", Allow::users())]);
