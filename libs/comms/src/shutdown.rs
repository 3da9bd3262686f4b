//! One shutdown signal for the whole process.
//!
//! SIGTERM (what orchestrators send) and Ctrl-C both trip the same
//! [`Shutdown`]; every server and worker waits on a clone of it, so they all
//! stop accepting work at the same moment and then drain.

use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Self { tx: std::sync::Arc::new(tx), rx }
    }

    /// A shutdown that trips when the process receives SIGTERM or Ctrl-C.
    pub fn on_signal() -> Self {
        let shutdown = Self::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received, draining");
            trigger.trigger();
        });
        shutdown
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has been triggered (at once if it already was).
    pub async fn wait(self) {
        let mut rx = self.rx;
        // An error means every sender is gone, which only happens at exit.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }

    /// Runs `work` every `period` until shutdown, for a service's
    /// housekeeping (a sweep, a pruning). The first run is one period after
    /// the start, not at it: start-up is when the pool is busiest opening
    /// connections, and housekeeping can wait. A run that takes longer than
    /// the period delays the next one instead of letting runs pile up, and a
    /// run in progress at shutdown finishes first. Returns a result so it
    /// can be handed to `Context::spawn` as it is.
    pub async fn every<F, Fut>(self, period: std::time::Duration, mut work: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stopped = self.wait();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                () = &mut stopped => return Ok(()),
                _ = ticks.tick() => work().await,
            }
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::Shutdown;

    #[tokio::test]
    async fn every_runs_each_period_from_one_period_after_the_start_and_stops_at_shutdown() {
        let shutdown = Shutdown::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = tokio::spawn(shutdown.clone().every(Duration::from_millis(50), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }));
        tokio::time::sleep(Duration::from_millis(25)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 0, "not at the start");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(runs.load(Ordering::SeqCst) >= 2, "then once a period");
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(1), task).await.expect("it stops at shutdown").unwrap().unwrap();
        let after = runs.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(runs.load(Ordering::SeqCst), after, "and runs no more");
    }
}
