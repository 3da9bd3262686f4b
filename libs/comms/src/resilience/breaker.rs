//! A circuit breaker: stop calling an upstream that is failing, give it time
//! to recover, then let a single probe find out whether it has.
//!
//! Semantics follow Polly v8 and Resilience4j's time-based breaker:
//!
//! - **Closed.** Outcomes are counted over a rolling window
//!   ([`BreakerConfig::window`], 10 s in ten 1 s buckets). The breaker opens
//!   when the window holds at least [`BreakerConfig::min_throughput`] calls
//!   (default 20: below that a ratio is noise; two failures out of three say
//!   nothing) and the failure ratio reaches [`BreakerConfig::failure_ratio`]
//!   (default 0.5).
//! - **Open.** Calls fail at once with [`BreakerOpen`], carrying how long the
//!   break still lasts, without touching the upstream. The break lasts
//!   [`BreakerConfig::break_duration`] (default 5 s: long enough for a
//!   restarting instance, short enough that users barely notice).
//! - **Half-open.** After the break, exactly one call goes through as a
//!   probe; every other call is rejected until the probe reports. Success
//!   closes the breaker with a fresh window; failure opens it again.
//! - **A probe that never returns** cannot hold the breaker half-open: after
//!   [`BreakerConfig::probe_timeout`] (default 10 s) the next call becomes a
//!   new probe. A probe that is dropped without an outcome (its caller was
//!   cancelled) counts as a failure for the same reason.
//!
//! Every state change is logged and counted in
//! `circuit_breaker_transitions_total{breaker, to}`; the current state is the
//! gauge `circuit_breaker_state{breaker}` (0 closed, 1 open, 2 half-open).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct BreakerConfig {
    pub failure_ratio: f64,
    pub min_throughput: u32,
    pub window: Duration,
    pub break_duration: Duration,
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_ratio: 0.5,
            min_throughput: 20,
            window: Duration::from_secs(10),
            break_duration: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(10),
        }
    }
}

/// The call was rejected without reaching the upstream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit for {breaker} is open: retry in {}ms", remaining.as_millis())]
pub struct BreakerOpen {
    pub breaker: String,
    /// Until the breaker lets a probe through (zero while a probe is out).
    pub remaining: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

const BUCKETS: usize = 10;

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// `probe_deadline` is `None` until a probe is admitted.
    HalfOpen {
        probe_deadline: Option<Instant>,
    },
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// Rolling window: (bucket start, calls, failures), oldest first.
    buckets: [(Option<Instant>, u32, u32); BUCKETS],
}

#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Admission to call the upstream. Report the outcome with
/// [`Permit::success`] or [`Permit::failure`]; dropping it unreported means
/// the call was cancelled.
#[derive(Debug)]
#[must_use = "report the call's outcome"]
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    reported: bool,
}

impl CircuitBreaker {
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Arc<Self> {
        let breaker = Arc::new(Self {
            name: name.into(),
            config,
            inner: Mutex::new(Inner { state: State::Closed, buckets: [(None, 0, 0); BUCKETS] }),
        });
        metrics::gauge!("circuit_breaker_state", "breaker" => breaker.name.clone()).set(0.0);
        breaker
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> BreakerState {
        match self.inner.lock().expect("breaker lock").state {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make one call now.
    pub fn try_acquire(self: &Arc<Self>) -> Result<Permit, BreakerOpen> {
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("breaker lock");
        let probe = match inner.state {
            State::Closed => false,
            State::Open { until } if now < until => return Err(self.open(until - now)),
            State::Open { .. } => {
                self.transition(&mut inner, State::HalfOpen { probe_deadline: Some(now + self.config.probe_timeout) });
                true
            }
            State::HalfOpen { probe_deadline: Some(deadline) } if now < deadline => {
                return Err(self.open(Duration::ZERO));
            }
            // No probe out, or the last one hung past its deadline.
            State::HalfOpen { .. } => {
                inner.state = State::HalfOpen { probe_deadline: Some(now + self.config.probe_timeout) };
                true
            }
        };
        Ok(Permit { breaker: self.clone(), probe, reported: false })
    }

    fn open(&self, remaining: Duration) -> BreakerOpen {
        BreakerOpen { breaker: self.name.clone(), remaining }
    }

    fn record(&self, probe: bool, failed: bool) {
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("breaker lock");
        match inner.state {
            State::HalfOpen { .. } if probe => {
                if failed {
                    self.transition(&mut inner, State::Open { until: now + self.config.break_duration });
                } else {
                    inner.buckets = [(None, 0, 0); BUCKETS];
                    self.transition(&mut inner, State::Closed);
                }
            }
            State::Closed => {
                self.count(&mut inner, now, failed);
                let (calls, failures) = self.totals(&inner, now);
                if calls >= self.config.min_throughput
                    && f64::from(failures) / f64::from(calls) >= self.config.failure_ratio
                {
                    tracing::warn!(breaker = %self.name, calls, failures, "failure ratio reached, opening");
                    self.transition(&mut inner, State::Open { until: now + self.config.break_duration });
                }
            }
            // Late outcomes of calls admitted before the breaker opened say
            // nothing about the upstream now.
            _ => {}
        }
    }

    fn bucket_len(&self) -> Duration {
        self.config.window / BUCKETS as u32
    }

    fn count(&self, inner: &mut Inner, now: Instant, failed: bool) {
        let len = self.bucket_len();
        let newest = inner.buckets[BUCKETS - 1];
        if !matches!(newest.0, Some(start) if now < start + len) {
            inner.buckets.rotate_left(1);
            inner.buckets[BUCKETS - 1] = (Some(now), 0, 0);
        }
        let bucket = &mut inner.buckets[BUCKETS - 1];
        bucket.1 += 1;
        bucket.2 += u32::from(failed);
    }

    fn totals(&self, inner: &Inner, now: Instant) -> (u32, u32) {
        let window = self.config.window;
        inner
            .buckets
            .iter()
            .filter(|(start, _, _)| matches!(start, Some(s) if now.duration_since(*s) < window))
            .fold((0, 0), |(c, f), (_, calls, failures)| (c + calls, f + failures))
    }

    fn transition(&self, inner: &mut Inner, to: State) {
        inner.state = to;
        let state = match inner.state {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        };
        tracing::info!(breaker = %self.name, to = state.as_str(), "circuit breaker changed state");
        metrics::counter!("circuit_breaker_transitions_total", "breaker" => self.name.clone(), "to" => state.as_str())
            .increment(1);
        metrics::gauge!("circuit_breaker_state", "breaker" => self.name.clone()).set(state.gauge());
    }
}

impl Permit {
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record(self.probe, false);
    }

    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.record(self.probe, true);
    }

    /// Reports an outcome decided elsewhere.
    pub fn report(self, failed: bool) {
        if failed { self.failure() } else { self.success() }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        // A cancelled ordinary call says nothing about the upstream; a
        // cancelled probe must not leave the breaker waiting for it.
        if !self.reported && self.probe {
            self.breaker.record(true, true);
        }
    }
}
