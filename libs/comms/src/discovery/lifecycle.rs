//! Registering a process for as long as it serves.
//!
//! The order on shutdown matters: leave the registry first, then stop
//! listening. Otherwise, for up to one watch round trip, callers keep
//! picking an instance that refuses their connections.

use std::sync::Arc;
use std::time::Duration;

use super::{Registration, ServiceRegistry};
use crate::shutdown::Shutdown;

/// Registers every registration (retrying in the background if the
/// registry is down at start) and returns the shutdown that servers should
/// wait on: it trips once `shutdown` has tripped and the deregistrations
/// have been sent (each bounded by 2 s, so a dead registry cannot hold up
/// the exit).
pub async fn register_until(
    registry: Arc<dyn ServiceRegistry>,
    registrations: Vec<Registration>,
    shutdown: Shutdown,
) -> Shutdown {
    for registration in &registrations {
        match registry.register(registration).await {
            Ok(()) => tracing::info!(id = %registration.id, service = %registration.name, "registered"),
            Err(error) => {
                tracing::warn!(id = %registration.id, %error, "registration failed; retrying in the background");
                tokio::spawn(keep_registering(registry.clone(), registration.clone(), shutdown.clone()));
            }
        }
    }
    let stop_serving = Shutdown::new();
    let trigger = stop_serving.clone();
    tokio::spawn(async move {
        shutdown.wait().await;
        for registration in &registrations {
            let outcome = tokio::time::timeout(Duration::from_secs(2), registry.deregister(&registration.id)).await;
            match outcome {
                Ok(Ok(())) => tracing::info!(id = %registration.id, "deregistered"),
                Ok(Err(error)) => tracing::warn!(id = %registration.id, %error, "deregistration failed"),
                Err(_) => tracing::warn!(id = %registration.id, "deregistration timed out"),
            }
        }
        trigger.trigger();
    });
    stop_serving
}

async fn keep_registering(registry: Arc<dyn ServiceRegistry>, registration: Registration, shutdown: Shutdown) {
    let mut wait = Duration::from_secs(1);
    while !shutdown.is_triggered() {
        tokio::time::sleep(wait).await;
        if registry.register(&registration).await.is_ok() {
            tracing::info!(id = %registration.id, "registered after retrying");
            return;
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}
