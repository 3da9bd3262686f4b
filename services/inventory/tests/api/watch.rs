//! WatchStock: a snapshot, then changes as they are committed, from this
//! instance or any other; and a reader that falls behind is dropped.

use std::time::Duration;

use contracts::inventory::v1 as pb;
use futures::StreamExt;
use tonic::Code;
use tonic::transport::Endpoint;

use crate::helpers::{As, DEADLINE, Identified, spawn_app, spawn_app_with};
use crate::probe::{Probe, line, order_placed};

type Changes = tonic::Streaming<pb::StockChange>;

/// The next change, within the deadline, as (sku, stock, reason).
async fn next(stream: &mut Changes) -> (String, i64, String) {
    let change = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("a change arrives")
        .expect("the stream goes on")
        .expect("a change, not an error");
    (change.sku, change.stock, change.reason)
}

fn change(sku: &str, stock: i64, reason: &str) -> (String, i64, String) {
    (sku.into(), stock, reason.into())
}

async fn watch(app: &crate::helpers::TestApp, skus: &[&str]) -> Changes {
    let request = pb::WatchStockRequest { skus: skus.iter().map(|s| (*s).to_owned()).collect() };
    app.grpc().await.watch_stock(request).await.unwrap().into_inner()
}

#[tokio::test]
async fn a_watcher_gets_the_snapshot_then_each_change_to_its_skus_as_it_is_committed() {
    let app = spawn_app().await;
    app.create_product("SKU-KETTLE", 3499, 5).await;
    app.create_product("SKU-MUG", 899, 9).await;
    let mut stream = watch(&app, &["SKU-KETTLE"]).await;
    assert_eq!(next(&mut stream).await, change("SKU-KETTLE", 5, "snapshot"));

    // Notifications arrive in commit order, so the mug's restock, committed
    // first, would come first if the filter let it through.
    assert_eq!(app.restock("SKU-MUG", 1).await.status(), 200);
    assert_eq!(app.restock("SKU-KETTLE", 3).await.status(), 200);
    assert_eq!(next(&mut stream).await, change("SKU-KETTLE", 8, "restocked"));

    let probe = Probe::start(app.broker()).await;
    probe.publish(&order_placed(vec![line("SKU-KETTLE", 2)])).await;
    assert_eq!(next(&mut stream).await, change("SKU-KETTLE", 6, "reserved"));

    let patch = app.api.http.patch(app.api.url("/products/SKU-KETTLE")).identified_as(&As::admin());
    patch.json(&serde_json::json!({ "price": 2999 })).send().await.unwrap();
    assert_eq!(next(&mut stream).await, change("SKU-KETTLE", 6, "updated"));
}

#[tokio::test]
async fn a_watcher_sees_changes_committed_by_another_replica() {
    let app = spawn_app().await;
    let replica = app.spawn_replica().await;
    app.create_product("SKU-TEAPOT", 4599, 2).await;
    let mut everything = watch(&app, &[]).await;
    assert_eq!(next(&mut everything).await, change("SKU-TEAPOT", 2, "snapshot"));

    let restock =
        app.api.http.post(format!("{}/products/SKU-TEAPOT/restock", replica.api.base)).identified_as(&As::admin());
    assert_eq!(restock.json(&serde_json::json!({ "quantity": 4 })).send().await.unwrap().status(), 200);
    assert_eq!(next(&mut everything).await, change("SKU-TEAPOT", 6, "restocked"));
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_dropped_with_resource_exhausted() {
    // A backlog of 4 changes per watcher; a snapshot far larger than every
    // buffer between the server and a client that is not reading.
    let app = spawn_app_with(|settings| settings.own.watch_buffer = 4).await;
    sqlx::query(
        "INSERT INTO products (sku, name, price, stock)
         SELECT 'SKU-' || lpad(n::text, 28, '0'), 'Bulk', 1, 1 FROM generate_series(1, 20000) AS n",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let first = format!("SKU-{:028}", 1);

    // Small HTTP/2 windows so the client buffers little of what it does not read.
    let channel = Endpoint::from_shared(format!("http://{}", app.api.grpc_addr()))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let admin = format!("Bearer {}", As::admin().token()).parse().unwrap();
    let mut client = pb::inventory_service_client::InventoryServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(channel, testkit::grpc::Bearer::new(admin)),
    );
    let mut stalled = client.watch_stock(pb::WatchStockRequest { skus: vec![] }).await.unwrap().into_inner();

    // A second watcher that keeps up shows when every change has been
    // broadcast, i.e. queued for the stalled one too.
    let mut keeping_up = watch(&app, &[&first]).await;
    assert_eq!(next(&mut keeping_up).await.2, "snapshot");
    for n in 1..=12 {
        assert_eq!(app.restock(&first, 1).await.status(), 200);
        assert_eq!(next(&mut keeping_up).await, change(&first, 1 + n, "restocked"));
    }

    let mut snapshot = 0;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match stalled.next().await {
                Some(Ok(change)) if change.reason == "snapshot" => snapshot += 1,
                Some(Ok(change)) => panic!("a change passed on after some were missed: {change:?}"),
                Some(Err(status)) => return status,
                None => panic!("the stream ended without saying why"),
            }
        }
    })
    .await
    .expect("the stalled stream ends");
    assert_eq!(ended.code(), Code::ResourceExhausted, "{ended:?}");
    assert_eq!(snapshot, 20_000, "the whole snapshot came first");
}

#[tokio::test]
async fn a_callers_fifth_watch_is_refused_with_a_time_to_retry_while_another_callers_opens() {
    use tonic_types::StatusExt;
    let app = spawn_app().await;
    let admin = As::admin();
    let client = pb::inventory_service_client::InventoryServiceClient::new(app.api.grpc_as(&admin.token()).await);
    let everything = || pb::WatchStockRequest { skus: vec![] };
    let mut held = Vec::new();
    for n in 1..=4 {
        let opened = client.clone().watch_stock(everything()).await;
        held.push(opened.unwrap_or_else(|e| panic!("watch {n} of the default 4: {e:?}")).into_inner());
    }
    let refused = client.clone().watch_stock(everything()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let retry = refused.get_details_retry_info().expect("a RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(5)));
    assert!(app.grpc().await.watch_stock(everything()).await.is_ok(), "another admin's watch opens");
}

#[tokio::test]
async fn a_watch_ends_with_ok_at_its_lifetime_so_the_client_calls_again() {
    let app = spawn_app_with(|s| s.service.streams.max_lifetime_secs = 1).await;
    let mut stream = watch(&app, &[]).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.message().await?.is_some() {}
        Ok::<_, tonic::Status>(())
    })
    .await;
    assert!(matches!(ended, Ok(Ok(()))), "the stream ended with OK, not an error or never: {ended:?}");
    let mut again = watch(&app, &[]).await;
    assert!(again.message().await.is_ok(), "the next call is served");
}
