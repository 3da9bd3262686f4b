//! Who may call each of the analytics service's operations (deny by
//! default: `comms::auth`).

use comms::auth::{AccessTable, Allow};

pub static ACCESS: AccessTable = AccessTable::new(&[
    ("GET /analytics/summary", Allow::roles(&["admin"])),
    ("GET /analytics/series", Allow::roles(&["admin"])),
    ("/analytics.v1.AnalyticsService/StreamMetrics", Allow::roles(&["admin"])),
]);
