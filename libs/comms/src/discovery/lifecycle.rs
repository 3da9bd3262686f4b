//! Registering a process for as long as it serves.
//!
//! The order on shutdown matters: leave the registry first, then stop
//! listening. Otherwise, for up to one watch round trip, callers keep
//! picking an instance that refuses their connections.
//!
//! And a registration is not made once: a Consul agent that restarts with
//! an empty catalog, or loses its state, forgets every instance on it while
//! they keep serving. So each registration is looked up again every check
//! interval and made again if the registry no longer has it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::{Registration, ServiceRegistry};
use crate::shutdown::Shutdown;

/// Registers every registration, keeps it registered (registering again
/// within one check interval of the registry losing it, or of a first
/// attempt that failed), and returns the shutdown that servers should wait
/// on: it trips once `shutdown` has tripped and the deregistrations have
/// been sent (each bounded by 2 s, so a dead registry cannot hold up the
/// exit).
pub async fn register_until(
    registry: Arc<dyn ServiceRegistry>,
    registrations: Vec<Registration>,
    shutdown: Shutdown,
) -> Shutdown {
    // Held while a keeper checks and registers, and taken for good before
    // deregistering: no registration can land after its deregistration.
    let leaving = Arc::new(Mutex::new(false));
    for registration in &registrations {
        match registry.register(registration).await {
            Ok(()) => tracing::info!(id = %registration.id, service = %registration.name, "registered"),
            Err(error) => {
                tracing::warn!(id = %registration.id, %error, "registration failed; retrying in the background")
            }
        }
        tokio::spawn(keep_registered(registry.clone(), registration.clone(), shutdown.clone(), leaving.clone()));
    }
    let stop_serving = Shutdown::new();
    let trigger = stop_serving.clone();
    tokio::spawn(async move {
        shutdown.wait().await;
        let mut left = leaving.lock().await;
        *left = true;
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

/// Every check interval until shutdown: is `registration` still there? If
/// not (or if the registry cannot say), register it again.
async fn keep_registered(
    registry: Arc<dyn ServiceRegistry>,
    registration: Registration,
    shutdown: Shutdown,
    leaving: Arc<Mutex<bool>>,
) {
    let every = registration.check.interval.max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = shutdown.clone().wait() => return,
            () = tokio::time::sleep(every) => {}
        }
        let left = leaving.lock().await;
        if *left {
            return;
        }
        // Bounded: a shutdown waits for this lock before it deregisters.
        let renewed = tokio::time::timeout(Duration::from_secs(2), renew(registry.as_ref(), &registration)).await;
        if renewed.is_err() {
            tracing::debug!(id = %registration.id, "registration not checked in time; next interval");
        }
        drop(left);
    }
}

async fn renew(registry: &dyn ServiceRegistry, registration: &Registration) {
    match registry.is_registered(&registration.id).await {
        Ok(true) => return,
        Ok(false) => tracing::warn!(id = %registration.id, "the registry has lost this instance; registering again"),
        Err(error) => tracing::debug!(id = %registration.id, %error, "registration not checked"),
    }
    match registry.register(registration).await {
        Ok(()) => tracing::info!(id = %registration.id, service = %registration.name, "registered again"),
        Err(error) => tracing::debug!(id = %registration.id, %error, "registering again failed; next interval"),
    }
}
