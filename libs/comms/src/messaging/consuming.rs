//! A running consumer's lifecycle, the same for every broker: `stop` stops
//! taking messages and lets the handlers already running finish and settle
//! their messages (ack, or store the offset) before the consumer lets go;
//! `abort` ends it at once, for a connection that is gone anyway. A consumer
//! that ends on its own is started again after [`Restarts`]' back-off, and
//! a handler's panic is a failure like any other ([`handle`]).

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::broker::{Delivery, Handler, HandlerError};

/// The tasks consuming one subscription, and the switch that stops them.
pub(crate) struct Consuming {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Consuming {
    /// The switch, and the signal each consumer task watches.
    pub(crate) fn switch() -> (watch::Sender<bool>, Stop) {
        let (stop, signal) = watch::channel(false);
        (stop, Stop(signal))
    }

    pub(crate) fn new(stop: watch::Sender<bool>, tasks: Vec<JoinHandle<()>>) -> Self {
        Self { tasks, stop }
    }

    /// Stops taking messages and returns at once; the tasks finish what
    /// they hold on their own.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(true);
    }

    /// Ends every task now; a running handler is cut off and its message
    /// redelivered.
    pub(crate) fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// What a consumer task watches between messages.
#[derive(Clone)]
pub(crate) struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once the consumer is told to stop (or its switch is gone).
    pub(crate) async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// How long a supervisor waits before starting a consumer that ended on
/// its own again: 200 ms, doubling to 30 s, and from the start once a
/// consumer has run for 30 s (its trouble is a new one).
pub(crate) struct Restarts {
    next: Duration,
    started: Instant,
}

impl Restarts {
    const FIRST: Duration = Duration::from_millis(200);
    const CAP: Duration = Duration::from_secs(30);

    pub(crate) fn new() -> Self {
        Self { next: Self::FIRST, started: Instant::now() }
    }

    /// A consumer starts now.
    pub(crate) fn started(&mut self) {
        self.started = Instant::now();
    }

    /// The consumer ended: waits the back-off, or returns `false` at once if
    /// it is told to stop meanwhile.
    pub(crate) async fn wait(&mut self, stop: &mut Stop) -> bool {
        if self.started.elapsed() >= Self::CAP {
            self.next = Self::FIRST;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(Self::CAP);
        tokio::select! {
            () = stop.requested() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}

/// Counts a delivery in `deliveries_in_flight{subscription}` from the moment
/// it reaches its handler until it is settled (acknowledged, sent to retry
/// or dead-lettered): what this instance holds, and what the broker would
/// hand to another instance if it died now.
pub(crate) struct InFlight(String);

impl InFlight {
    pub(crate) fn start(subscription: &str) -> Self {
        // And every delivery counted once: how the work spreads over the
        // instances of a service, each read from its own metrics.
        metrics::counter!("deliveries_total", "subscription" => subscription.to_owned()).increment(1);
        metrics::gauge!("deliveries_in_flight", "subscription" => subscription.to_owned()).increment(1.0);
        Self(subscription.to_owned())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("deliveries_in_flight", "subscription" => self.0.clone()).decrement(1.0);
    }
}

/// Runs `handler` on `delivery`. A panic becomes a transient failure, so
/// the message is retried and in the end dead-lettered with the panic as
/// its reason, like any other failure: unsettled, it would be redelivered
/// at once and forever (Kafka), or hold a slot of the prefetch until its
/// channel closed (RabbitMQ).
pub(crate) async fn handle(handler: &dyn Handler, delivery: &Delivery) -> Result<(), HandlerError> {
    match AssertUnwindSafe(handler.handle(delivery)).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            metrics::counter!("handler_panics_total").increment(1);
            Err(HandlerError::Transient(format!("the handler panicked: {what}")))
        }
    }
}
