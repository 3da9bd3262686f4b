//! Whether each subscription is consuming right now.
//!
//! A consumer can stop without the process noticing: the broker cancels it
//! (its queue was deleted), its channel or connection closes, a redeclare
//! is refused. Each broker's consumers are supervised (restarted with
//! capped back-off, each subscription on its own) and report here, so the
//! outage is seen three ways: a log line with its cause, the gauge
//! `subscription_consuming{subscription}` (1 or 0), and the service's
//! health (`Messaging::health`: degraded while one is down, not live once
//! one has been down too long).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One subscription's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub consuming: bool,
    /// Since when it has been in this state.
    pub since: Instant,
    /// Why it last stopped (kept once it consumes again).
    pub cause: Option<String>,
    /// How often it has stopped and been started again.
    pub restarts: u64,
}

impl Status {
    /// How long it has not been consuming (zero while it is).
    pub fn down_for(&self) -> Duration {
        if self.consuming { Duration::ZERO } else { self.since.elapsed() }
    }
}

/// Cheap to clone; every clone is the same record.
#[derive(Clone, Debug, Default)]
pub struct Consumption(Arc<Mutex<BTreeMap<String, Status>>>);

impl Consumption {
    /// `subscription` is taking messages.
    pub(crate) fn consuming(&self, subscription: &str) {
        let mut states = self.lock();
        let before = states.get(subscription).cloned();
        let (cause, restarts) = match before {
            // Still consuming: it has been since `since`.
            Some(status) if status.consuming => return,
            Some(status) => {
                tracing::info!(%subscription, "consuming again");
                (status.cause, status.restarts + 1)
            }
            None => (None, 0),
        };
        states.insert(subscription.to_owned(), Status { consuming: true, since: Instant::now(), cause, restarts });
        metrics::gauge!("subscription_consuming", "subscription" => subscription.to_owned()).set(1.0);
    }

    /// `subscription` stopped taking messages, because of `cause`; its
    /// supervisor is trying again.
    pub(crate) fn lost(&self, subscription: &str, cause: &str) {
        tracing::warn!(%subscription, %cause, "a subscription stopped consuming; restarting it");
        let mut states = self.lock();
        // An outage is timed from its start, not from the latest failed try.
        let (since, restarts) = match states.get(subscription) {
            Some(status) if !status.consuming => (status.since, status.restarts),
            Some(status) => (Instant::now(), status.restarts),
            None => (Instant::now(), 0),
        };
        let status = Status { consuming: false, since, cause: Some(cause.to_owned()), restarts };
        states.insert(subscription.to_owned(), status);
        metrics::gauge!("subscription_consuming", "subscription" => subscription.to_owned()).set(0.0);
    }

    /// `subscription` was stopped on purpose: no longer watched.
    pub(crate) fn forget(&self, subscription: &str) {
        self.lock().remove(subscription);
    }

    /// Every subscription's state, by name.
    pub fn snapshot(&self) -> BTreeMap<String, Status> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Status>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::Consumption;

    #[test]
    fn an_outage_is_timed_from_its_start_and_ends_when_consuming_again() {
        let record = Consumption::default();
        record.consuming("orders");
        assert!(record.snapshot()["orders"].consuming);
        record.lost("orders", "queue deleted");
        let first = record.snapshot()["orders"].clone();
        record.lost("orders", "cannot redeclare");
        let second = record.snapshot()["orders"].clone();
        assert_eq!(second.since, first.since, "the outage started at the first loss");
        assert_eq!(second.cause.as_deref(), Some("cannot redeclare"), "the latest cause");
        record.consuming("orders");
        let back = record.snapshot()["orders"].clone();
        assert_eq!(back.down_for(), std::time::Duration::ZERO);
        assert_eq!((back.restarts, back.cause.as_deref()), (1, Some("cannot redeclare")), "the last cause is kept");
        record.forget("orders");
        assert!(record.snapshot().is_empty());
    }
}
