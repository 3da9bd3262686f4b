//! What the run measured: latencies per route, statuses, saga timings.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

#[derive(Default)]
pub struct Stats {
    /// Per route: every latency in microseconds (a run of minutes holds a
    /// few hundred thousand: sorting them at the end is exact and cheap).
    latencies: Mutex<BTreeMap<&'static str, Vec<u64>>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    confirmations: Mutex<Vec<u64>>,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub orders_confirmed: AtomicU64,
    pub orders_not_confirmed: AtomicU64,
    sign_up_failures: AtomicU64,
}

impl Stats {
    pub fn record(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !(200..300).contains(&status) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        *self.statuses.lock().expect("stats lock").entry(status).or_default() += 1;
        self.latencies.lock().expect("stats lock").entry(route).or_default().push(micros(elapsed));
    }

    pub fn confirmed(&self, elapsed: Duration) {
        self.orders_confirmed.fetch_add(1, Ordering::Relaxed);
        self.confirmations.lock().expect("stats lock").push(micros(elapsed));
    }

    pub fn not_confirmed(&self) {
        self.orders_not_confirmed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed_sign_up(&self, error: &anyhow::Error) {
        if self.sign_up_failures.fetch_add(1, Ordering::Relaxed) == 0 {
            eprintln!("a customer could not sign up: {error:#}");
        }
    }

    pub fn summary(&self, duration: Duration) -> Summary {
        let secs = duration.as_secs_f64();
        let routes = self
            .latencies
            .lock()
            .expect("stats lock")
            .iter_mut()
            .map(|(route, samples)| ((*route).to_owned(), Latency::of(samples, secs)))
            .collect();
        let mut confirmations = self.confirmations.lock().expect("stats lock").clone();
        let requests = self.requests.load(Ordering::Relaxed);
        Summary {
            duration_secs: secs,
            requests,
            requests_per_sec: requests as f64 / secs,
            errors: self.errors.load(Ordering::Relaxed),
            statuses: self.statuses.lock().expect("stats lock").iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            routes,
            orders_confirmed: self.orders_confirmed.load(Ordering::Relaxed),
            orders_not_confirmed: self.orders_not_confirmed.load(Ordering::Relaxed),
            placed_to_confirmed: Latency::of(&mut confirmations, secs),
            sign_up_failures: self.sign_up_failures.load(Ordering::Relaxed),
        }
    }
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub duration_secs: f64,
    pub requests: u64,
    pub requests_per_sec: f64,
    /// Requests answered with anything but 2xx, or not answered (status 0).
    pub errors: u64,
    pub statuses: BTreeMap<String, u64>,
    pub routes: BTreeMap<String, Latency>,
    pub orders_confirmed: u64,
    pub orders_not_confirmed: u64,
    /// From the 201 of `POST /api/orders` to CONFIRMED, as seen by polling.
    pub placed_to_confirmed: Latency,
    pub sign_up_failures: u64,
}

/// Milliseconds.
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub count: usize,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(samples: &mut [u64], secs: f64) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        Self {
            count: samples.len(),
            per_sec: samples.len() as f64 / secs,
            p50_ms: percentile(samples, 0.50),
            p90_ms: percentile(samples, 0.90),
            p99_ms: percentile(samples, 0.99),
            max_ms: samples[samples.len() - 1] as f64 / 1000.0,
        }
    }
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn percentile(sorted: &[u64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut samples: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let latency = Latency::of(&mut samples, 10.0);
        assert_eq!((latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(latency.per_sec, 10.0);
    }

    #[test]
    fn anything_but_2xx_is_an_error() {
        let stats = Stats::default();
        stats.record("GET /x", 200, Duration::from_millis(1));
        stats.record("GET /x", 429, Duration::from_millis(1));
        stats.record("GET /x", 0, Duration::from_millis(1));
        let summary = stats.summary(Duration::from_secs(1));
        assert_eq!((summary.requests, summary.errors), (3, 2));
        assert_eq!(summary.statuses.get("429"), Some(&1));
    }
}
