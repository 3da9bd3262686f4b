//! The bulkhead gives every permit back: after completion, cancellation,
//! timeouts and a panicking handler alike.

use std::time::Duration;

use comms::client::CallError;
use comms::resilience::{Bulkhead, BulkheadFull};
use tower::{Layer, ServiceExt, service_fn};

#[tokio::test]
async fn every_permit_comes_back_after_cancellations_and_a_panic() {
    let bulkhead = Bulkhead::new(5, Duration::ZERO);
    let handler = service_fn(|request: &'static str| async move {
        match request {
            "hang" => std::future::pending::<()>().await,
            "panic" => panic!("handler bug"),
            _ => {}
        }
        Ok::<_, CallError>(())
    });
    let service = bulkhead.layer(handler);

    // Fill it with calls that hang, then one more is turned away.
    let hanging: Vec<_> = (0..5).map(|_| tokio::spawn(service.clone().oneshot("hang"))).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(bulkhead.available(), 0);
    let full = service.clone().oneshot("ok").await.unwrap_err();
    assert!(matches!(full, CallError::BulkheadFull(BulkheadFull { max_concurrent: 5 })));

    // Cancel them all mid-flight.
    for call in &hanging {
        call.abort();
    }
    for call in hanging {
        let _ = call.await;
    }
    assert_eq!(bulkhead.available(), 5, "aborted calls returned their permits");

    // Many calls cut short by a timeout.
    for _ in 0..20 {
        let _ = tokio::time::timeout(Duration::from_millis(1), service.clone().oneshot("hang")).await;
    }
    assert_eq!(bulkhead.available(), 5, "timed-out calls returned their permits");

    // A handler that panics.
    let panicked = tokio::spawn(service.clone().oneshot("panic")).await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(bulkhead.available(), 5, "the panicking call returned its permit");

    service.oneshot("ok").await.expect("and it still works");
}

#[tokio::test]
async fn a_full_bulkhead_waits_at_most_its_max_wait() {
    let bulkhead = Bulkhead::new(1, Duration::from_millis(100));
    let service = bulkhead.layer(service_fn(|hang: bool| async move {
        if hang {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        Ok::<_, CallError>(())
    }));
    let first = tokio::spawn(service.clone().oneshot(true));
    tokio::time::sleep(Duration::from_millis(5)).await;
    service.clone().oneshot(false).await.expect("waited for the permit, within max_wait");
    first.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_full_bulkhead_refuses_after_its_max_wait() {
    let bulkhead = Bulkhead::new(1, Duration::from_millis(50));
    let service = bulkhead.layer(service_fn(|hang: bool| async move {
        if hang {
            std::future::pending::<()>().await;
        }
        Ok::<_, CallError>(())
    }));
    let holder = tokio::spawn(service.clone().oneshot(true));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let started = tokio::time::Instant::now();
    let refused = service.clone().oneshot(false).await.unwrap_err();
    assert!(matches!(refused, CallError::BulkheadFull(_)));
    assert!(started.elapsed() >= Duration::from_millis(50), "it waited its max_wait first");
    holder.abort();
}
