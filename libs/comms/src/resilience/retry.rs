//! Retries: when a call may be repeated, how long to wait, and how many
//! retries the whole process may spend.
//!
//! - **What is retried.** Exactly the statuses 408, 429, 500, 502, 503 and
//!   504, and transport failures. Nothing else: a 400, 404, 409 or 422 will
//!   fail the same way again.
//! - **When it is safe.** A request is repeated only if doing it twice is
//!   harmless: an idempotent method (GET, HEAD, OPTIONS, PUT, DELETE), a
//!   request that carries an `Idempotency-Key`, or a failure before any
//!   byte was sent (a refused connection), which the upstream never saw.
//!   (TRACE counts as idempotent too, as RFC 9110 defines it.)
//! - **How long to wait.** Exponential backoff from 50 ms, doubling, capped
//!   at 2 s, with "equal jitter" (half fixed, half random) so that clients
//!   failing together do not retry together yet each wait still grows. A
//!   `Retry-After` header (seconds or an HTTP-date) replaces the backoff: the
//!   upstream knows best when it can take traffic again.
//! - **Deadline.** No attempt starts, and no backoff sleeps, past the call's
//!   total deadline; a `Retry-After` beyond it ends the call with the
//!   response in hand.
//! - **Budget.** Retries may add at most 20 % to the traffic of the last
//!   10 s, plus a floor of 5 per second so that a quiet caller can still
//!   retry. When an upstream is fully down, this is what keeps a fleet of
//!   callers from multiplying its load by the attempt count (as Envoy's and
//!   Finagle's retry budgets do).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use tokio::time::Instant;

/// The statuses worth another attempt.
pub const RETRYABLE_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Clone, Debug)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub budget_ratio: f64,
    pub budget_min_per_sec: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            budget_ratio: 0.2,
            budget_min_per_sec: 5,
        }
    }
}

pub fn is_retryable_status(status: StatusCode) -> bool {
    RETRYABLE_STATUSES.contains(&status.as_u16())
}

/// Whether sending this request twice is harmless.
pub fn is_safe_to_repeat(method: &Method, headers: &HeaderMap) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE)
        || headers.contains_key(IDEMPOTENCY_KEY)
}

/// The wait before attempt `retry` (1 for the first retry).
pub fn backoff(config: &RetryConfig, retry: u32) -> Duration {
    let exp = config.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    let capped = exp.min(config.max_delay);
    let half = capped / 2;
    half + half.mul_f64(fastrand::f64())
}

/// `Retry-After` as a wait from now: delta-seconds or an HTTP-date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A process-wide allowance of retries per upstream, refilled by traffic.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_sec: u32,
    /// Ten 1 s buckets: (start, requests, retries).
    buckets: Mutex<[(Option<Instant>, u32, u32); 10]>,
}

impl RetryBudget {
    pub fn new(config: &RetryConfig) -> Self {
        Self {
            ratio: config.budget_ratio,
            min_per_sec: config.budget_min_per_sec,
            buckets: Mutex::new([(None, 0, 0); 10]),
        }
    }

    /// Counts an original request (not a retry).
    pub fn deposit(&self) {
        self.update(|bucket| bucket.1 += 1);
    }

    /// Takes one retry from the budget, if there is one left.
    pub fn try_withdraw(&self) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("budget lock");
        let window = Duration::from_secs(10);
        let (requests, retries) = buckets
            .iter()
            .filter(|(start, _, _)| matches!(start, Some(s) if now.duration_since(*s) < window))
            .fold((0u32, 0u32), |(q, r), b| (q + b.1, r + b.2));
        let allowed = f64::from(self.min_per_sec) * window.as_secs_f64() + self.ratio * f64::from(requests);
        if f64::from(retries) + 1.0 > allowed {
            return false;
        }
        Self::current(&mut buckets, now).2 += 1;
        true
    }

    fn update(&self, f: impl FnOnce(&mut (Option<Instant>, u32, u32))) {
        let mut buckets = self.buckets.lock().expect("budget lock");
        f(Self::current(&mut buckets, Instant::now()));
    }

    fn current(buckets: &mut [(Option<Instant>, u32, u32); 10], now: Instant) -> &mut (Option<Instant>, u32, u32) {
        if !matches!(buckets[9].0, Some(start) if now.duration_since(start) < Duration::from_secs(1)) {
            buckets.rotate_left(1);
            buckets[9] = (Some(now), 0, 0);
        }
        &mut buckets[9]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let config = RetryConfig::default();
        for retry in 1..=10 {
            let full = config.base_delay.saturating_mul(1 << (retry - 1)).min(config.max_delay);
            let wait = backoff(&config, retry);
            assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait:?} outside [{:?}, {full:?}]", full / 2);
        }
        assert!(backoff(&config, 30) <= config.max_delay);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert("retry-after", "Sun, 06 Nov 1994 08:49:49 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(12)));
        headers.insert("retry-after", "Sun, 06 Nov 1994 08:00:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO), "a date in the past means now");
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn only_idempotent_or_keyed_requests_are_safe_to_repeat() {
        let mut headers = HeaderMap::new();
        assert!(is_safe_to_repeat(&Method::GET, &headers));
        assert!(is_safe_to_repeat(&Method::PUT, &headers));
        assert!(!is_safe_to_repeat(&Method::POST, &headers));
        assert!(!is_safe_to_repeat(&Method::PATCH, &headers));
        headers.insert(IDEMPOTENCY_KEY, "k-1".parse().unwrap());
        assert!(is_safe_to_repeat(&Method::POST, &headers));
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_allows_the_floor_plus_a_share_of_traffic() {
        let budget = RetryBudget::new(&RetryConfig::default());
        for _ in 0..100 {
            budget.deposit();
        }
        // 5/s over 10 s = 50, plus 20 % of 100 requests = 20.
        let granted = (0..1000).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 70);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(budget.try_withdraw(), "the window rolls on and the budget refills");
    }
}
