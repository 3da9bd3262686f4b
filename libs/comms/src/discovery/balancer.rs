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
//! registry call on the request path. The set is turned into pickable
//! members once per change, not once per call, so a pick is a lock, a few
//! atomic loads and two reference-count increments.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
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

impl Stats {
    fn ejected(&self, now: Instant) -> bool {
        matches!(*self.ejected_until.lock().expect("stats lock"), Some(until) if now < until)
    }
}

/// An instance and what the balancer knows of it.
#[derive(Debug)]
struct Member {
    instance: Arc<Instance>,
    stats: Arc<Stats>,
}

/// The instance set as last seen on the watch, ready to pick from.
/// Rebuilt only when discovery sends a change, so a pick allocates nothing.
#[derive(Debug)]
struct LiveSet {
    watch: watch::Receiver<Vec<Instance>>,
    members: Arc<[Member]>,
}

impl LiveSet {
    /// The members, and whether the set was rebuilt just now.
    fn current(&mut self) -> (Arc<[Member]>, bool) {
        let changed = self.watch.has_changed().unwrap_or(false);
        if changed {
            let instances = self.watch.borrow_and_update().clone();
            // Keep the stats of instances that stay, so an ejection or the
            // in-flight count survives an unrelated change to the set.
            let stats_of = |id: &str| {
                self.members.iter().find(|m| m.instance.id == id).map_or_else(Arc::default, |m| m.stats.clone())
            };
            self.members = instances
                .into_iter()
                .map(|instance| Member { stats: stats_of(&instance.id), instance: Arc::new(instance) })
                .collect();
        }
        (self.members.clone(), changed)
    }
}

#[derive(Debug)]
pub struct Balancer {
    service: Arc<str>,
    strategy: BalanceStrategy,
    ejection: EjectionConfig,
    live: Mutex<LiveSet>,
    next: AtomicUsize,
    /// Moves on each change of the instance set, so that what a client
    /// keeps per address can follow it ([`Balancer::generation`]).
    generation: AtomicU64,
}

/// The instance chosen for one call. Report the outcome; dropping it ends
/// the call's in-flight count either way.
#[derive(Debug)]
pub struct Picked {
    pub instance: Arc<Instance>,
    stats: Arc<Stats>,
    ejection: EjectionConfig,
    service: Arc<str>,
}

impl Balancer {
    pub fn new(
        service: impl Into<String>,
        mut instances: watch::Receiver<Vec<Instance>>,
        strategy: BalanceStrategy,
        ejection: EjectionConfig,
    ) -> Self {
        let members = instances
            .borrow_and_update()
            .iter()
            .map(|instance| Member { instance: Arc::new(instance.clone()), stats: Arc::default() })
            .collect();
        let live = LiveSet { watch: instances, members };
        Self {
            service: service.into().into(),
            strategy,
            ejection,
            live: Mutex::new(live),
            next: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// The instances known right now.
    pub fn instances(&self) -> Vec<Instance> {
        self.members().iter().map(|m| Instance::clone(&m.instance)).collect()
    }

    fn members(&self) -> Arc<[Member]> {
        let (members, changed) = self.live.lock().expect("balancer lock").current();
        if changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        members
    }

    /// A number that changes whenever the instance set has: compare it with
    /// the one last seen to know when to drop state kept for addresses
    /// that left.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn pick(&self) -> Result<Picked, NoInstances> {
        let members = self.members();
        if members.is_empty() {
            return Err(NoInstances { service: self.service.to_string() });
        }
        let now = Instant::now();
        // Candidates are the healthy members, or all of them if none is.
        let healthy = members.iter().filter(|m| !m.stats.ejected(now)).count();
        let candidate = |k: usize| -> &Member {
            if healthy == 0 {
                &members[k]
            } else {
                members.iter().filter(|m| !m.stats.ejected(now)).nth(k).expect("k < healthy")
            }
        };
        let n = if healthy == 0 { members.len() } else { healthy };

        let chosen = match (self.strategy, n) {
            (_, 1) => candidate(0),
            (BalanceStrategy::RoundRobin, n) => candidate(self.next.fetch_add(1, Ordering::Relaxed) % n),
            (BalanceStrategy::PowerOfTwoChoices, n) => {
                // Two distinct candidates at random; the less busy one wins.
                let a = fastrand::usize(..n);
                let b = (a + 1 + fastrand::usize(..n - 1)) % n;
                let (a, b) = (candidate(a), candidate(b));
                if b.stats.in_flight.load(Ordering::Relaxed) < a.stats.in_flight.load(Ordering::Relaxed) {
                    b
                } else {
                    a
                }
            }
        };
        chosen.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Picked {
            instance: chosen.instance.clone(),
            stats: chosen.stats.clone(),
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
            metrics::counter!("lb_ejections_total", "service" => self.service.to_string()).increment(1);
        }
    }
}

impl Drop for Picked {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
