//! Liveness and readiness over HTTP.
//!
//! `/health/live` says the process can still do its job at all: restart it
//! if not. It fails only on what a restart could fix (a subscription that
//! has not consumed for longer than its restore deadline).
//!
//! `/health/ready` says it can do useful work now. A dependency it cannot
//! work without (the database) failing makes it 503: send it no traffic. A
//! dependency it can work around (the broker: the outbox keeps events until
//! it is back) failing makes it `degraded`, still 200: it keeps serving and
//! stays in discovery, and the body says what is wrong (DESIGN.md rule 7).
//! From the moment shutdown starts it is 503 as well ([`Draining`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::future::{BoxFuture, join_all};
use serde_json::{Value, json};

/// One thing the service checks about itself.
pub trait HealthCheck: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Whether the service is unready (or, among liveness checks, dead)
    /// while this fails. A check that is not required only degrades it.
    fn required(&self) -> bool {
        true
    }
}

impl HealthCheck for sqlx::PgPool {
    fn name(&self) -> &'static str {
        "database"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { sqlx::query("SELECT 1").execute(self).await.map(|_| ()).map_err(|e| e.to_string()) })
    }
}

/// Fails from the moment shutdown starts: a draining instance is not
/// ready. Discovery's checks and load balancers then stop sending it new
/// work while what it holds finishes; without this it would answer 200
/// until its listener closed, and take new requests it may not finish.
pub struct Draining(pub crate::shutdown::Shutdown);

impl HealthCheck for Draining {
    fn name(&self) -> &'static str {
        "draining"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let draining = self.0.is_triggered();
        Box::pin(async move { if draining { Err("shutting down".to_owned()) } else { Ok(()) } })
    }
}

/// What each endpoint checks.
#[derive(Clone, Default)]
pub struct Checks {
    pub ready: Vec<Arc<dyn HealthCheck>>,
    pub live: Vec<Arc<dyn HealthCheck>>,
}

pub fn router(checks: Checks) -> Router {
    let (ready, live) = (Arc::new(checks.ready), Arc::new(checks.live));
    Router::new()
        .route("/health/live", get(report).with_state(live))
        .route("/health/ready", get(report).with_state(ready))
}

/// Each check's name, whether it is required, and why it failed if it did.
/// A hung dependency must not hang the probe (the orchestrator would time
/// out and learn nothing about which dependency is at fault): each check
/// has 2 s.
async fn run(checks: &[Arc<dyn HealthCheck>]) -> Vec<(&'static str, bool, Option<String>)> {
    let timeout = std::time::Duration::from_secs(2);
    join_all(checks.iter().map(|c| async move {
        let failed = match tokio::time::timeout(timeout, c.check()).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => Some("timed out".to_owned()),
        };
        (c.name(), c.required(), failed)
    }))
    .await
}

/// Whether every required check passes: ready, possibly degraded (what
/// gRPC health reports as SERVING).
pub async fn ready(checks: &[Arc<dyn HealthCheck>]) -> bool {
    run(checks).await.iter().all(|(_, required, failed)| !*required || failed.is_none())
}

async fn report(State(checks): State<Arc<Vec<Arc<dyn HealthCheck>>>>) -> (StatusCode, axum::Json<Value>) {
    let results = run(&checks).await;
    let down = results.iter().any(|(_, required, failed)| *required && failed.is_some());
    let degraded = results.iter().any(|(_, _, failed)| failed.is_some());
    let (status, word) = match (down, degraded) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "down"),
        (false, true) => (StatusCode::OK, "degraded"),
        (false, false) => (StatusCode::OK, "up"),
    };
    let checks: serde_json::Map<_, _> = results
        .into_iter()
        .map(|(name, required, failed)| {
            let outcome = match failed {
                None => json!({ "status": "up" }),
                Some(error) => json!({ "status": if required { "down" } else { "degraded" }, "error": error }),
            };
            (name.to_owned(), outcome)
        })
        .collect();
    (status, axum::Json(json!({ "status": word, "checks": checks })))
}
