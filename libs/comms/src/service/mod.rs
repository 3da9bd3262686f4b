//! The service skeleton: what every service does the same way, as plain
//! functions and types, so a service's own files hold only what is its own.
//!
//! A service's `startup.rs` is one [`Builder::build`] call: the library
//! opens the pool and runs the migrations, connects messaging, hands the
//! service a [`Context`] to build its state, subscriptions and background
//! tasks from, and binds the listeners. The service returns its [`Parts`]:
//! its state, its REST API and (optionally) its gRPC services. Its `main.rs`
//! is one [`main`] call.
//!
//! [`Application::run_until_stopped`] serves until shutdown, then stops in
//! this order, and this cleanup runs however serving ends, also when
//! start-up fails half way:
//!
//! 1. leave discovery (callers stop picking this instance);
//! 2. stop accepting; gRPC health turns NOT_SERVING; long streams and
//!    background tasks are told to stop ([`Context::stopping`]);
//! 3. let requests in flight finish within the shutdown grace;
//! 4. stop consuming, then stop the outbox relay after its batch;
//! 5. wait for the background tasks;
//! 6. close the pool (no connection is left behind in PostgreSQL);
//! 7. (in `main`) flush telemetry, last, so the shutdown itself is traced.

mod application;
mod builder;
mod context;
mod main;
mod parts;
mod serve;

pub use application::Application;
pub use builder::Builder;
pub use context::Context;
pub use main::main;
pub use parts::Parts;
