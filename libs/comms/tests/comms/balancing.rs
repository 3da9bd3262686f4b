//! Load balancing with passive ejection, over real upstreams.

use std::time::Duration;

use comms::client::UpstreamConfig;
use comms::client::http::HttpClient;
use comms::discovery::{BalanceStrategy, EjectionConfig, ServiceRegistry, StaticRegistry};
use comms::resilience::{BreakerConfig, RetryConfig};
use testkit::FaultProxy;

use crate::support::start_upstream;

fn config(service: &str, strategy: BalanceStrategy) -> UpstreamConfig {
    let mut config = UpstreamConfig::new(service);
    config.strategy = strategy;
    config.retry = RetryConfig { max_attempts: 1, ..RetryConfig::default() };
    config.breaker = BreakerConfig { min_throughput: u32::MAX, ..BreakerConfig::default() };
    config
}

#[tokio::test]
async fn an_instance_that_keeps_failing_is_ejected_and_returns_after_the_cool_off() {
    let (bad_addr, bad) = start_upstream().await;
    let (good_addr, good) = start_upstream().await;
    bad.always(500);
    let registry = StaticRegistry::new();
    registry.set("eject", &[&bad_addr.to_string(), &good_addr.to_string()]);
    let mut config = config("eject", BalanceStrategy::RoundRobin);
    config.ejection = EjectionConfig { consecutive_failures: 3, cool_off: Duration::from_secs(1) };
    let client = HttpClient::new(config, registry.watch("eject"));

    for _ in 0..30 {
        let _ = client.get("/work").send().await;
    }
    assert_eq!(bad.hits(), 3, "ejected after three failures in a row");
    assert_eq!(good.hits(), 27);

    bad.always(200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..10 {
        let _ = client.get("/work").send().await;
    }
    assert!(bad.hits() >= 3 + 4, "back in rotation after the cool-off: {}", bad.hits());
}

#[tokio::test]
async fn under_power_of_two_choices_a_slow_instance_gets_a_small_share() {
    let (fast_a, a) = start_upstream().await;
    let (fast_b, b) = start_upstream().await;
    let (slow_addr, slow) = start_upstream().await;
    let proxy = FaultProxy::start(slow_addr).await.unwrap();
    proxy.add_latency(Duration::from_millis(100));
    let registry = StaticRegistry::new();
    registry.set("p2c", &[&fast_a.to_string(), &fast_b.to_string(), &proxy.addr().to_string()]);
    let client = HttpClient::new(config("p2c", BalanceStrategy::PowerOfTwoChoices), registry.watch("p2c"));

    let workers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    client.get("/work").send().await.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let total = a.hits() + b.hits() + slow.hits();
    assert_eq!(total, 320);
    // Round robin would give it a third (107).
    assert!(slow.hits() < total / 8, "the slow instance got {} of {total}", slow.hits());
}

#[tokio::test]
async fn an_ejection_outlasts_a_change_to_the_instance_set() {
    let (bad_addr, bad) = start_upstream().await;
    let (good_addr, good) = start_upstream().await;
    let (late_addr, late) = start_upstream().await;
    bad.always(500);
    let registry = StaticRegistry::new();
    registry.set("keep", &[&bad_addr.to_string(), &good_addr.to_string()]);
    let mut config = config("keep", BalanceStrategy::RoundRobin);
    config.ejection = EjectionConfig { consecutive_failures: 3, cool_off: Duration::from_secs(60) };
    let client = HttpClient::new(config, registry.watch("keep"));
    for _ in 0..10 {
        let _ = client.get("/work").send().await;
    }
    assert_eq!(bad.hits(), 3, "ejected after three failures in a row");

    // A third instance joins: the set is rebuilt, the verdict on `bad` kept.
    registry.set("keep", &[&bad_addr.to_string(), &good_addr.to_string(), &late_addr.to_string()]);
    for _ in 0..20 {
        let _ = client.get("/work").send().await;
    }
    assert_eq!(bad.hits(), 3, "still ejected after the set changed");
    assert!(late.hits() >= 9, "the new instance is in rotation: {}", late.hits());
    assert_eq!(good.hits() + late.hits(), 27);
}
