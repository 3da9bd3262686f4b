//! Client-side load balancing over a watched instance set, with passive
//! ejection of instances that keep failing.
//!
//! - **Round robin** spreads calls evenly; right when instances are alike.
//! - **Power of two choices** picks two instances at random and sends the
//!   call to the one with fewer calls in flight. A slow instance piles up
//!   in-flight calls and so stops being chosen, without any health probe
//!   (Mitzenmacher; tower's and Finagle's default for the same reason).
//! - **Passive ejection.** An instance whose calls fail
//!   [`EjectionConfig::consecutive_failures`] times in a row (default 5:
//!   one blip is not a verdict) is left out for
//!   [`EjectionConfig::cool_off`] (default 30 s), then tried again. If every
//!   instance is ejected, all are used: a degraded upstream beats none.
//! - No instances at all is a typed error, [`NoInstances`], naming the
//!   service, never a hang or an empty URL.
//!
//! Picking reads the instance set from the watch channel: there is no
//! registry call on the request path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::Instance;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BalanceStrategy {
    RoundRobin,
    PowerOfTwoChoices,
}

#[derive(Clone, Copy, Debug)]
pub struct EjectionConfig {
    pub consecutive_failures: u32,
    pub cool_off: Duration,
}

impl Default for EjectionConfig {
    fn default() -> Self {
        Self { consecutive_failures: 5, cool_off: Duration::from_secs(30) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no instances available for {service}")]
pub struct NoInstances {
    pub service: String,
}

#[derive(Debug, Default)]
struct Stats {
    in_flight: AtomicUsize,
    consecutive_failures: AtomicU32,
    ejected_until: Mutex<Option<Instant>>,
}

#[derive(Debug)]
pub struct Balancer {
    service: String,
    strategy: BalanceStrategy,
    ejection: EjectionConfig,
    instances: watch::Receiver<Vec<Instance>>,
    stats: Mutex<HashMap<String, Arc<Stats>>>,
    next: AtomicUsize,
}

/// The instance chosen for one call. Report the outcome; dropping it ends
/// the call's in-flight count either way.
#[derive(Debug)]
pub struct Picked {
    pub instance: Instance,
    stats: Arc<Stats>,
    ejection: EjectionConfig,
    service: String,
}

impl Balancer {
    pub fn new(
        service: impl Into<String>,
        instances: watch::Receiver<Vec<Instance>>,
        strategy: BalanceStrategy,
        ejection: EjectionConfig,
    ) -> Self {
        Self {
            service: service.into(),
            strategy,
            ejection,
            instances,
            stats: Mutex::default(),
            next: AtomicUsize::new(0),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// The instances known right now.
    pub fn instances(&self) -> Vec<Instance> {
        self.instances.borrow().clone()
    }

    pub fn pick(&self) -> Result<Picked, NoInstances> {
        let instances = self.instances.borrow().clone();
        if instances.is_empty() {
            return Err(NoInstances { service: self.service.clone() });
        }
        let now = Instant::now();
        let all: Vec<(Instance, Arc<Stats>)> = {
            let mut stats = self.stats.lock().expect("balancer lock");
            // Forget instances that left, so the map tracks the live set.
            stats.retain(|id, _| instances.iter().any(|i| &i.id == id));
            instances.into_iter().map(|i| (i.clone(), stats.entry(i.id).or_default().clone())).collect()
        };
        let healthy: Vec<&(Instance, Arc<Stats>)> = all
            .iter()
            .filter(|(_, s)| !matches!(*s.ejected_until.lock().expect("stats lock"), Some(until) if now < until))
            .collect();
        let candidates: Vec<&(Instance, Arc<Stats>)> = if healthy.is_empty() { all.iter().collect() } else { healthy };

        let chosen = match (self.strategy, candidates.len()) {
            (_, 1) => candidates[0],
            (BalanceStrategy::RoundRobin, n) => candidates[self.next.fetch_add(1, Ordering::Relaxed) % n],
            (BalanceStrategy::PowerOfTwoChoices, n) => {
                let a = fastrand::usize(..n);
                let b = (a + 1 + fastrand::usize(..n - 1)) % n;
                let load = |i: usize| candidates[i].1.in_flight.load(Ordering::Relaxed);
                if load(b) < load(a) { candidates[b] } else { candidates[a] }
            }
        };
        chosen.1.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Picked {
            instance: chosen.0.clone(),
            stats: chosen.1.clone(),
            ejection: self.ejection,
            service: self.service.clone(),
        })
    }
}

impl Picked {
    /// Records the call's outcome for passive ejection.
    pub fn report(&self, failed: bool) {
        if !failed {
            self.stats.consecutive_failures.store(0, Ordering::Relaxed);
            return;
        }
        let failures = self.stats.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.ejection.consecutive_failures {
            self.stats.consecutive_failures.store(0, Ordering::Relaxed);
            *self.stats.ejected_until.lock().expect("stats lock") = Some(Instant::now() + self.ejection.cool_off);
            tracing::warn!(service = %self.service, instance = %self.instance.id, failures,
                cool_off_secs = self.ejection.cool_off.as_secs(), "ejecting failing instance");
            metrics::counter!("lb_ejections_total", "service" => self.service.clone()).increment(1);
        }
    }
}

impl Drop for Picked {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
