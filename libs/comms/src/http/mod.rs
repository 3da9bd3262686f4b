//! HTTP server plumbing shared by every service.

pub mod caller;
pub mod extract;
pub mod metrics;
pub mod problem;
pub mod request_id;
pub mod server;
pub mod trace;

pub use caller::Caller;
pub use extract::{ApiJson, ApiQuery};
pub use problem::Problem;
pub use server::{ServerLimits, serve, service_router, with_standard_layers};
