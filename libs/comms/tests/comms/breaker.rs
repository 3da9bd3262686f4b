//! The circuit breaker, on the paused clock, through its tower layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use comms::client::{BreakerLayer, CallError};
use comms::resilience::{BreakerConfig, BreakerState, CircuitBreaker};
use tower::{Layer, ServiceExt, service_fn};

fn config() -> BreakerConfig {
    BreakerConfig {
        failure_ratio: 0.5,
        min_throughput: 10,
        window: Duration::from_secs(10),
        break_duration: Duration::from_secs(5),
        probe_timeout: Duration::from_secs(3),
    }
}

/// An upstream that fails while `failing` is set, counting every call; a
/// call sleeps for `delay` first.
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
    delay: Arc<std::sync::Mutex<Duration>>,
}

impl Upstream {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    fn service(
        &self,
        breaker: &Arc<CircuitBreaker>,
    ) -> impl tower::Service<(), Response = (), Error = CallError, Future: Send> + Clone + Send + 'static {
        let upstream = self.clone();
        let inner = service_fn(move |()| {
            let upstream = upstream.clone();
            async move {
                upstream.calls.fetch_add(1, Ordering::SeqCst);
                let delay = *upstream.delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                if upstream.failing.load(Ordering::SeqCst) {
                    Err(CallError::Transport { service: "up".into(), reason: "boom".into() })
                } else {
                    Ok(())
                }
            }
        });
        BreakerLayer::new(breaker.clone(), |r: &Result<(), CallError>| Some(r.is_err())).layer(inner)
    }
}

async fn call_n(
    svc: &(impl tower::Service<(), Response = (), Error = CallError, Future: Send> + Clone),
    n: usize,
) -> Vec<Result<(), CallError>> {
    let mut results = Vec::new();
    for _ in 0..n {
        results.push(svc.clone().oneshot(()).await);
    }
    results
}

#[tokio::test(start_paused = true)]
async fn it_stays_closed_below_the_minimum_throughput_even_when_everything_fails() {
    let breaker = CircuitBreaker::new("below-minimum", config());
    let upstream = Upstream::default();
    upstream.fail(true);
    let svc = upstream.service(&breaker);
    call_n(&svc, 9).await;
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(upstream.calls(), 9, "every call reached the upstream");
}

#[tokio::test(start_paused = true)]
async fn it_opens_at_the_ratio_and_then_fails_fast_without_calling_the_upstream() {
    let breaker = CircuitBreaker::new("opens", config());
    let upstream = Upstream::default();
    let svc = upstream.service(&breaker);
    call_n(&svc, 6).await; // 6 successes
    upstream.fail(true);
    call_n(&svc, 5).await; // 11 calls, 5 failures: 45 %
    assert_eq!(breaker.state(), BreakerState::Closed, "below the ratio");
    call_n(&svc, 1).await; // 12 calls, 6 failures: 50 %
    assert_eq!(breaker.state(), BreakerState::Open);

    let before = upstream.calls();
    tokio::time::advance(Duration::from_secs(2)).await;
    let rejected = call_n(&svc, 50).await;
    assert_eq!(upstream.calls(), before, "no call reached the upstream while open");
    for result in rejected {
        let Err(CallError::CircuitOpen(open)) = result else { panic!("expected a fast failure") };
        assert_eq!(open.remaining, Duration::from_secs(3), "it says how long the break still lasts");
    }
}

#[tokio::test(start_paused = true)]
async fn old_outcomes_leave_the_window() {
    let breaker = CircuitBreaker::new("window", config());
    let upstream = Upstream::default();
    let svc = upstream.service(&breaker);
    upstream.fail(true);
    call_n(&svc, 9).await;
    tokio::time::advance(Duration::from_secs(11)).await;
    call_n(&svc, 1).await;
    assert_eq!(breaker.state(), BreakerState::Closed, "nine failures 11 s ago no longer count");
}

async fn open_it(breaker: &Arc<CircuitBreaker>, upstream: &Upstream) {
    upstream.fail(true);
    call_n(&upstream.service(breaker), 10).await;
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn after_the_break_exactly_one_of_many_concurrent_calls_is_the_probe() {
    let breaker = CircuitBreaker::new("probe", config());
    let upstream = Upstream::default();
    open_it(&breaker, &upstream).await;
    upstream.fail(false);
    *upstream.delay.lock().unwrap() = Duration::from_millis(500);
    tokio::time::advance(Duration::from_secs(5)).await;

    let before = upstream.calls();
    let svc = upstream.service(&breaker);
    let calls: Vec<_> = (0..50).map(|_| tokio::spawn(svc.clone().oneshot(()))).collect();
    let mut ok = 0;
    let mut rejected = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(()) => ok += 1,
            Err(CallError::CircuitOpen(_)) => rejected += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(upstream.calls() - before, 1, "exactly one call reached the upstream");
    assert_eq!((ok, rejected), (1, 49));
    assert_eq!(breaker.state(), BreakerState::Closed, "the successful probe closed it");
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_again() {
    let breaker = CircuitBreaker::new("probe-fails", config());
    let upstream = Upstream::default();
    open_it(&breaker, &upstream).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(upstream.service(&breaker).oneshot(()).await.is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_does_not_wedge_it() {
    let breaker = CircuitBreaker::new("hung-probe", config());
    let upstream = Upstream::default();
    open_it(&breaker, &upstream).await;
    tokio::time::advance(Duration::from_secs(5)).await;

    // The probe hangs (far longer than the probe timeout).
    *upstream.delay.lock().unwrap() = Duration::from_secs(3600);
    let svc = upstream.service(&breaker);
    let hung = tokio::spawn(svc.clone().oneshot(()));
    tokio::task::yield_now().await;
    assert!(matches!(svc.clone().oneshot(()).await, Err(CallError::CircuitOpen(_))), "the rest are rejected");

    tokio::time::advance(Duration::from_secs(3)).await;
    upstream.fail(false);
    *upstream.delay.lock().unwrap() = Duration::ZERO;
    svc.clone().oneshot(()).await.expect("after the probe timeout a new probe goes through");
    assert_eq!(breaker.state(), BreakerState::Closed);
    hung.abort();
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_frees_the_half_open_slot() {
    let breaker = CircuitBreaker::new("cancelled-probe", config());
    let upstream = Upstream::default();
    open_it(&breaker, &upstream).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    *upstream.delay.lock().unwrap() = Duration::from_secs(60);
    let svc = upstream.service(&breaker);
    let probe = tokio::spawn(svc.clone().oneshot(()));
    tokio::task::yield_now().await;
    probe.abort();
    let _ = probe.await;
    // Counted as a failed probe: open again, for a fresh break.
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test]
async fn state_changes_are_counted_in_metrics() {
    let handle = comms::prometheus::install();
    let breaker = CircuitBreaker::new("metrics-breaker", BreakerConfig { min_throughput: 2, ..config() });
    let upstream = Upstream::default();
    upstream.fail(true);
    call_n(&upstream.service(&breaker), 2).await;
    let rendered = handle.render();
    assert!(
        rendered.contains(r#"circuit_breaker_transitions_total{breaker="metrics-breaker",to="open"} 1"#),
        "{rendered}"
    );
    assert!(rendered.contains(r#"circuit_breaker_state{breaker="metrics-breaker"} 1"#));
}
