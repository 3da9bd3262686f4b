//! StreamMetrics: the current summary first, then a fresh one after each
//! change, including changes another instance applied.

use contracts::analytics::v1 as pb;
use tonic::Streaming;

use crate::helpers::{DEADLINE, Order, registered, spawn_app, spawn_instance};

/// Reads snapshots until one satisfies `done` and returns it; fails the
/// test at the deadline. Snapshots may be coalesced, so it never expects
/// each one.
async fn next_matching(
    stream: &mut Streaming<pb::MetricsSnapshot>,
    done: impl Fn(&pb::MetricsSnapshot) -> bool,
) -> pb::MetricsSnapshot {
    let wait = async {
        loop {
            let snapshot = stream.message().await.expect("stream healthy").expect("stream still open");
            if done(&snapshot) {
                return snapshot;
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait).await.expect("an updated snapshot within the deadline")
}

fn count(snapshot: &pb::MetricsSnapshot, status: &str) -> i64 {
    snapshot.orders_by_status.iter().find(|s| s.status == status).map_or(0, |s| s.count)
}

#[tokio::test]
async fn the_stream_starts_with_the_current_summary_and_follows_each_change() {
    let app = spawn_app().await;
    app.emit(&registered()).await;
    app.wait_for_events(1).await;

    let mut stream = app.grpc().await.stream_metrics(pb::StreamMetricsRequest {}).await.unwrap().into_inner();
    let first = tokio::time::timeout(DEADLINE, stream.message()).await.expect("a first snapshot").unwrap().unwrap();
    assert_eq!(first.orders_by_status.len(), 5, "every status is listed, even at zero");
    assert!(first.at.is_some());
    // The first message is the feed's latest summary. The REST read above
    // saw the registration in the database; the feed reloads on the
    // commit's NOTIFY, a moment later, so the stream may open just before
    // it has: then the summary with the registration is the next message.
    let current =
        if first.registrations == 1 { first } else { next_matching(&mut stream, |s| s.registrations == 1).await };
    assert_eq!(current.events_applied, 1);

    let order = Order::of(&[("LAMP-1", 2, 500)]);
    app.emit(&order.placed()).await;
    app.emit(&order.confirmed()).await;
    let latest = next_matching(&mut stream, |s| s.events_applied == 3).await;
    assert_eq!(latest.revenue, 1_000);
    assert_eq!(count(&latest, "CONFIRMED"), 1);
    assert_eq!(latest.top_skus, [pb::SkuSales { sku: "LAMP-1".into(), units: 2, revenue: 1_000 }]);
}

#[tokio::test]
async fn a_change_applied_by_another_instance_reaches_this_instances_stream() {
    let app = spawn_app().await;
    // Same database, but its consumer listens on a broker namespace no one
    // publishes to: anything its stream shows, another instance applied.
    let bystander = spawn_instance(&app.db.url, testkit::broker_settings()).await;
    let mut client = crate::helpers::admin_client(bystander.grpc_addr()).await;
    let mut stream = client.stream_metrics(pb::StreamMetricsRequest {}).await.unwrap().into_inner();
    next_matching(&mut stream, |s| s.events_applied == 0).await;

    app.emit(&Order::of(&[("DESK-9", 1, 12_000)]).placed()).await;
    next_matching(&mut stream, |s| s.events_applied == 1 && count(s, "PENDING") == 1).await;
}

#[tokio::test]
async fn open_streams_end_when_the_service_shuts_down() {
    let app = spawn_app().await;
    let mut stream = app.grpc().await.stream_metrics(pb::StreamMetricsRequest {}).await.unwrap().into_inner();
    stream.message().await.unwrap().expect("the current summary");
    app.instance.shutdown.trigger();
    // Well inside the 5 s grace period: the stream does not hold up the drain.
    let end = tokio::time::timeout(std::time::Duration::from_secs(4), stream.message()).await;
    assert!(matches!(end, Ok(Ok(None))), "the stream ended cleanly: {end:?}");
}
