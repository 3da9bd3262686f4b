//! Liveness and readiness over HTTP.
//!
//! `/health/live` says the process can answer at all (restart it if not);
//! `/health/ready` says it can do useful work now, which means every
//! dependency it cannot work without answers (send it no traffic if not).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::future::{BoxFuture, join_all};
use serde_json::{Value, json};

/// A dependency that must answer before the service is ready.
pub trait ReadinessCheck: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

impl ReadinessCheck for sqlx::PgPool {
    fn name(&self) -> &'static str {
        "database"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { sqlx::query("SELECT 1").execute(self).await.map(|_| ()).map_err(|e| e.to_string()) })
    }
}

type Checks = Arc<Vec<Arc<dyn ReadinessCheck>>>;

pub fn router(checks: Vec<Arc<dyn ReadinessCheck>>) -> Router {
    Router::new()
        .route("/health/live", get(|| async { axum::Json(json!({ "status": "up" })) }))
        .route("/health/ready", get(ready))
        .with_state(Arc::new(checks))
}

async fn ready(State(checks): State<Checks>) -> (StatusCode, axum::Json<Value>) {
    // A hung dependency must not hang the probe: the orchestrator would
    // time out and learn nothing about which dependency is at fault.
    let timeout = std::time::Duration::from_secs(2);
    let results = join_all(checks.iter().map(|c| async move {
        let outcome = match tokio::time::timeout(timeout, c.check()).await {
            Ok(Ok(())) => json!({ "status": "up" }),
            Ok(Err(error)) => json!({ "status": "down", "error": error }),
            Err(_) => json!({ "status": "down", "error": "timed out" }),
        };
        (c.name(), outcome)
    }))
    .await;
    let all_up = results.iter().all(|(_, outcome)| outcome["status"] == "up");
    let status = if all_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let checks: serde_json::Map<_, _> = results.into_iter().map(|(n, o)| (n.to_owned(), o)).collect();
    (status, axum::Json(json!({ "status": if all_up { "up" } else { "down" }, "checks": checks })))
}
