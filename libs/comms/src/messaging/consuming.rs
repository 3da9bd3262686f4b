//! A running consumer's lifecycle, the same for every broker: `stop` stops
//! taking messages and lets the handlers already running finish and settle
//! their messages (ack, or store the offset) before the consumer lets go;
//! `abort` ends it at once, for a connection that is gone anyway.

use tokio::sync::watch;
use tokio::task::JoinHandle;

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
