//! A closed loop: `concurrency` tasks, each making one call after another
//! until the time is up, so exactly `concurrency` calls are in flight.
//! Successful calls give latencies; everything else is counted as an error
//! and never dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::stats::{Samples, per_second};

/// One logical operation. It resolves once the operation is complete by
/// its own definition (answer received, confirm received, effect seen).
pub type Call = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// A call still unfinished after this is an error, and its task goes on:
/// no measurement outlives its time by more than this.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What one or more runs measured.
#[derive(Debug, Default)]
pub struct Run {
    pub samples: Samples,
    pub errors: u64,
    /// From the start until the last call in flight at the end finished.
    pub elapsed: Duration,
}

impl Run {
    pub fn count(&self) -> u64 {
        self.samples.len() as u64
    }

    /// Successful calls per second.
    pub fn ops_per_sec(&self) -> f64 {
        per_second(self.count(), self.elapsed)
    }

    /// Adds another run of the same thing (alternating phases).
    pub fn absorb(&mut self, other: Run) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }
}

/// Runs `call` in a closed loop for `duration` at `concurrency`. The first
/// error is printed to stderr (the count alone does not say what broke).
pub async fn closed_loop(label: &str, call: &Call, concurrency: usize, duration: Duration) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let reported = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (call, reported, label) = (call.clone(), reported.clone(), label.to_owned());
        tasks.spawn(async move {
            let mut run = Run::default();
            while Instant::now() < deadline {
                let began = Instant::now();
                match attempt(&call).await {
                    Ok(()) => run.samples.record(began.elapsed()),
                    Err(error) => {
                        run.errors += 1;
                        if !reported.swap(true, Ordering::Relaxed) {
                            eprintln!("{label}: a call failed: {error:#}");
                        }
                    }
                }
            }
            run
        });
    }
    let mut total = Run::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(run) => total.absorb(run),
            // A panicked loop lost an unknown number of calls; at least one failed.
            Err(_) => total.errors += 1,
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// One call outside any measurement, retried for up to `within`: the first
/// call pays for connecting, and a fresh subscriber may need a moment to
/// start consuming.
pub async fn warm_up(label: &str, call: &Call, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        match attempt(call).await {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() >= deadline => return Err(error.context(format!("{label}: warm-up call"))),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// One call, bounded by [`CALL_TIMEOUT`].
async fn attempt(call: &Call) -> anyhow::Result<()> {
    match tokio::time::timeout(CALL_TIMEOUT, call()).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow::anyhow!("no completion within {CALL_TIMEOUT:?}")),
    }
}
