//! The service skeleton: whatever ends a service, start-up half done or
//! serving failed, nothing of it is left behind in PostgreSQL or on the
//! broker. And the change feed it hands services.

use std::sync::Arc;
use std::time::Duration;

use comms::db::{ChangeFeed, Notice};
use comms::messaging::EventRouter;
use comms::service::{Builder, Parts};
use comms::settings::{Database, ServiceDefaults};
use testkit::TestDatabase;
use tokio::sync::broadcast::Receiver;

/// The skeleton's own tables are the outbox and inbox; this service adds none.
static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

/// It serves no operation of its own.
static ACCESS: comms::auth::AccessTable = comms::auth::AccessTable::new(&[]);

const SERVICE: ServiceDefaults = ServiceDefaults {
    name: "skeleton",
    prefix: "SKELETON_",
    http_port: 0,
    grpc_port: None,
    metrics_port: 0,
    database: Some(Database { name: "skeleton", migrations: &NO_MIGRATIONS }),
    publishes: true,
    consumes: true,
    access: &ACCESS,
};

/// Connections to `db`, counted from outside it.
async fn connections_of_the_service(db: &TestDatabase) -> i64 {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", testkit::db::server_url())).await.unwrap();
    let count = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db.name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    count
}

/// Waits (a closing pool hangs up asynchronously) until nothing holds a
/// connection to `db`.
async fn no_connections_left(db: &TestDatabase) -> bool {
    for _ in 0..100 {
        if connections_of_the_service(db).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A database of its own for the service, with the test's pool closed so
/// that every connection counted is the service's.
async fn empty_database() -> TestDatabase {
    let db = TestDatabase::create_empty().await.unwrap();
    db.pool.close().await;
    db
}

#[tokio::test]
async fn a_start_up_that_fails_after_the_pool_opened_leaves_no_connection_behind() {
    let db = empty_database().await;
    let mut settings = testkit::service_settings(&SERVICE, &db.url);
    // Nothing listens on port 1: the broker refuses, after the pool opened.
    settings.broker.as_mut().unwrap().amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let built = Builder::new(&settings, &SERVICE).build(|_| async { unreachable_parts() }).await;
    assert!(built.is_err(), "the broker refused");
    assert!(no_connections_left(&db).await, "{} connections left", connections_of_the_service(&db).await);
}

#[tokio::test]
async fn a_prefetch_above_the_pool_is_refused_at_start() {
    let db = empty_database().await;
    let mut settings = testkit::service_settings(&SERVICE, &db.url);
    settings.database_max_connections = Some(4);
    settings.broker.as_mut().unwrap().broker_prefetch = Some(8);
    let built = Builder::new(&settings, &SERVICE).build(|_| async { unreachable_parts() }).await;
    let error = format!("{:#}", built.err().expect("refused"));
    assert!(error.contains("BROKER_PREFETCH is 8, above the database pool's 4 connections"), "{error}");
    assert!(no_connections_left(&db).await, "{} connections left", connections_of_the_service(&db).await);
}

/// `path`'s status and body.
async fn health(base: &str, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls `path` until `done` holds (20 s at most); returns what it saw.
async fn health_until(
    base: &str,
    path: &str,
    done: impl Fn(u16, &serde_json::Value) -> bool,
) -> (u16, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = health(base, path).await;
        if done(status, &body) || tokio::time::Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_degrades_ready_and_fails_live_only_past_the_restore_deadline() {
    let db = empty_database().await;
    let proxy = testkit::FaultProxy::start("127.0.0.1:5672".parse().unwrap()).await.unwrap();
    let consul = testkit::ConsulDouble::start().await;
    let mut settings = testkit::service_settings(&SERVICE, &db.url);
    let broker = settings.broker.as_mut().unwrap();
    broker.amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    broker.broker_restore_deadline_secs = 3;
    settings.discovery.consul_url = Some(consul.url());
    settings.discovery.advertise_host = Some("127.0.0.1".into());
    let app = Builder::new(&settings, &SERVICE)
        .build(|ctx| async move {
            ctx.consume(EventRouter::with_state(Arc::new(())).on(testkit_ping)).await?;
            // One route of its own (the guard refuses it: the access table
            // is empty); what is tested is the library's health routes.
            let api = utoipa_axum::router::OpenApiRouter::new().route("/ping", axum::routing::get(|| async { "pong" }));
            Ok(Parts::new(Arc::new(()), api))
        })
        .await
        .unwrap();
    let base = format!("http://{}", app.http_addr());
    let shutdown = comms::Shutdown::new();
    let serving = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let (status, body) = health_until(&base, "/health/ready", |_, body| body["status"] == "up").await;
    assert_eq!((status, &body["status"]), (200, &serde_json::json!("up")), "{body}");
    let registered = consul.registered();
    let id = registered.iter().find(|id| id.starts_with("skeleton-") && !id.contains("grpc")).expect("registered");
    // Its first check may run before the listener serves; wait for one that passed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !consul.is_passing(id) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(consul.is_passing(id), "passing before the outage");

    proxy.refuse_connections();
    proxy.cut_connections();
    let (status, body) = health_until(&base, "/health/ready", |_, body| body["status"] == "degraded").await;
    assert_eq!(status, 200, "degraded, still ready: {body}");
    assert_eq!(body["checks"]["broker"]["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "up", "{body}");
    assert!(body["checks"]["broker"]["error"].as_str().unwrap().contains("not consuming"), "{body}");
    assert_eq!(health(&base, "/health/live").await.0, 200, "live until the restore deadline");
    let (status, body) = health_until(&base, "/health/live", |status, _| status == 503).await;
    assert_eq!(status, 503, "not live past the 3 s restore deadline: {body}");
    assert!(body["checks"]["subscriptions"]["error"].as_str().unwrap().contains("restore deadline"), "{body}");
    // The double checks /health/ready every 10 s: after a check made while
    // degraded, the instance still passes (a 503 would have failed it).
    for _ in 0..22 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        eprintln!(
            "DEBUG {:?} passing {} ready {}",
            std::time::Instant::now(),
            consul.is_passing(id),
            health(&base, "/health/ready").await.0
        );
    }
    assert!(consul.is_passing(id), "a degraded instance still passes its check");

    proxy.restore();
    let (status, body) = health_until(&base, "/health/live", |status, _| status == 200).await;
    assert_eq!(status, 200, "live again once consuming: {body}");
    let (_, body) = health_until(&base, "/health/ready", |_, body| body["status"] == "up").await;
    assert_eq!(body["status"], "up", "{body}");
    shutdown.trigger();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_failed_serve_leaves_no_connection_and_no_consumer_behind() {
    let db = empty_database().await;
    let settings = testkit::service_settings(&SERVICE, &db.url);
    let app = Builder::new(&settings, &SERVICE)
        .build(|ctx| async move {
            ctx.consume(EventRouter::with_state(Arc::new(())).on(testkit_ping)).await?;
            // A task the service cannot live without, failing once serving.
            ctx.spawn(async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                anyhow::bail!("the feed is gone")
            });
            Ok(Parts::with_router(Arc::new(()), axum::Router::new()))
        })
        .await
        .unwrap();
    let queue = format!("{}{}.events", settings.broker.as_ref().unwrap().broker_namespace, SERVICE.name);
    assert_eq!(consumers_on(&queue).await, 1, "consuming while it serves");

    let served = tokio::time::timeout(Duration::from_secs(20), app.run_until_stopped(comms::Shutdown::new()))
        .await
        .expect("serving ends when its task fails");
    assert_eq!(served.unwrap_err().to_string(), "the feed is gone");
    assert!(no_connections_left(&db).await, "{} connections left", connections_of_the_service(&db).await);
    assert_eq!(consumers_on(&queue).await, 0, "no consumer left on the queue");
}

#[tokio::test]
async fn killing_the_change_feeds_connection_interrupts_subscribers_then_notices_resume() {
    let db = TestDatabase::create_empty().await.unwrap();
    let stop = comms::Shutdown::new();
    let (feed, task) = ChangeFeed::listen(&db.pool, "skeleton_changed", 16, stop.clone()).await.unwrap();
    let mut notices = feed.subscribe();
    notify(&db, "one").await;
    assert_eq!(next(&mut notices).await, Notice::Change("one".into()));

    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(&db.name)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(killed, 1, "the feed's one listening connection");
    assert_eq!(next(&mut notices).await, Notice::Interrupted);

    // The feed listens again; what is committed from now on arrives.
    let mut resumed = false;
    for attempt in 0..50 {
        notify(&db, &format!("again-{attempt}")).await;
        if let Ok(Ok(Notice::Change(_))) = tokio::time::timeout(Duration::from_millis(200), notices.recv()).await {
            resumed = true;
            break;
        }
    }
    assert!(resumed, "notices resume after the reconnection");

    stop.trigger();
    task.await.unwrap();
    assert!(notices.recv().await.is_err(), "the subscription ends with the feed");
}

async fn notify(db: &TestDatabase, payload: &str) {
    let mut tx = db.pool.begin().await.unwrap();
    ChangeFeed::notify(&mut tx, "skeleton_changed", payload).await.unwrap();
    tx.commit().await.unwrap();
}

async fn next(notices: &mut Receiver<Notice>) -> Notice {
    tokio::time::timeout(Duration::from_secs(10), notices.recv()).await.expect("a notice in time").unwrap()
}

async fn consumers_on(queue: &str) -> u32 {
    crate::rabbitmq::queue_counts(queue).await.1
}

fn unreachable_parts() -> anyhow::Result<Parts<()>> {
    panic!("the build stops before the service's own part")
}

async fn testkit_ping(
    _: &(),
    _: &mut sqlx::PgConnection,
    _: &comms::messaging::Envelope,
    _: testkit::broker_conformance::Ping,
) -> Result<(), comms::messaging::HandlerError> {
    Ok(())
}
