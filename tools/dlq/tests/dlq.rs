//! The dlq tool as a person on call runs it, against the local RabbitMQ
//! (users made by deploy/rabbitmq/init.sh, in a namespace of the test's own)
//! and against the Kafka-protocol test broker.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use comms::messaging::settings::BrokerSettings;
use comms::messaging::{Delivery, Destination, Handler, HandlerError, Messaging, Subscription};
use testkit::BrokerUsers;
use testkit::broker_conformance::{Recorder, ping};
use testkit::db::TestDatabase;

/// What one run of the tool did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `dlq ARGS` with `settings` as its environment, stdin closed.
async fn dlq(settings: &BrokerSettings, args: &[&str]) -> Ran {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_dlq"))
        .args(args)
        .env("DLQ_SERVICES", concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/services.toml"))
        .env("BROKER", &settings.broker)
        .env("AMQP_URL", &settings.amqp_url)
        .env("KAFKA_BROKERS", &settings.kafka_brokers)
        .env("BROKER_NAMESPACE", &settings.broker_namespace)
        .env_remove("AMQP_PASSWORD_FILE")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the dlq binary runs");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The ids `dlq list --json` shows, after checking each line.
async fn listed(settings: &BrokerSettings, service: &str) -> BTreeSet<String> {
    let ran = dlq(settings, &["list", service, "--json"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    ran.stdout
        .lines()
        .map(|line| {
            let letter: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
            assert_eq!(letter["type"], "order.placed");
            assert_eq!(letter["reason"], "the stock table is being migrated");
            assert_eq!(letter["attempts"], 1);
            assert!(letter["died_at"].is_string(), "{line}");
            letter["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Inventory's handler: refuses for good while `broken`, records after.
struct Inventory {
    broken: AtomicBool,
    handled: Recorder,
}

impl Handler for Inventory {
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> futures::future::BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if self.broken.load(Ordering::SeqCst) {
                return Err(HandlerError::Permanent("the stock table is being migrated".into()));
            }
            self.handled.handle(delivery).await
        })
    }
}

/// Waits up to 20 s for `service`'s dead letters to number `count`.
async fn wait_for_dead_letters(operator: &BrokerSettings, service: &str, count: usize) -> BTreeSet<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ids = listed(operator, service).await;
        if ids.len() == count {
            return ids;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} dead letters, not {count}", ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The whole round: three order.placed events dead-lettered by inventory,
/// listed twice alike, shown, one replayed once, refusals that change
/// nothing, and a purge.
async fn round_trip(inventory: &BrokerSettings, order: &BrokerSettings, operator: &BrokerSettings) {
    comms::prometheus::install();
    let db = TestDatabase::create_empty().await.expect("PostgreSQL");
    let messaging = Messaging::connect(inventory, "inventory", &db.pool).await.expect("inventory connects");
    let handler = Arc::new(Inventory { broken: AtomicBool::new(true), handled: Recorder::new() });
    messaging.subscribe(Subscription::events("inventory", &["order.placed"]), handler.clone()).await.unwrap();
    let gauge = format!("{}inventory", inventory.broker_namespace);
    let (publisher, _) = order.connect("order").await.expect("order connects");
    let placed: Vec<_> = (1..=3)
        .map(|n| {
            let mut message = ping(n, Destination::Event);
            "order.placed".clone_into(&mut message.event_type);
            message
        })
        .collect();
    for outcome in publisher.publish(&placed).await {
        outcome.expect("order publishes order.placed");
    }

    let ids = wait_for_dead_letters(operator, "inventory", 3).await;
    gauge_reaches(&gauge, 3).await;
    assert_eq!(listed(operator, "inventory").await, ids, "listing twice shows the same messages");
    let first = ids.iter().next().unwrap().clone();
    let shown = dlq(operator, &["show", &first]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("the stock table is being migrated") && shown.stdout.contains("\"data\""),
        "{}",
        shown.stdout
    );
    let table = dlq(operator, &["list"]).await;
    assert!(table.stdout.contains(&first) && table.stdout.contains("3 dead letter(s)"), "{}", table.stdout);

    handler.broken.store(false, Ordering::SeqCst);
    let replayed = dlq(operator, &["replay", &first]).await;
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert!(handler.handled.wait_for(1, Duration::from_secs(20)).await, "the replay reaches inventory");
    let delivery = &handler.handled.deliveries()[0];
    assert_eq!(delivery.attempt, 1, "attempts start over");
    assert_eq!(listed(operator, "inventory").await.len(), 2, "the replayed one left the dead letters");
    gauge_reaches(&gauge, 2).await;

    let again = dlq(operator, &["replay", &first]).await;
    assert_eq!(again.code, 2, "a second replay of the same id is refused: {}", again.stderr);
    let unknown = dlq(operator, &["replay", "no-such-id", ids.iter().nth(1).unwrap()]).await;
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    let nobody = dlq(operator, &["list", "warehouse"]).await;
    assert_eq!(nobody.code, 2, "{}", nobody.stderr);
    let unconfirmed = dlq(operator, &["purge", "inventory"]).await;
    assert_eq!(unconfirmed.code, 2, "a purge nobody confirmed: {}", unconfirmed.stderr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(handler.handled.len(), 1, "nothing was replayed by the refused commands");
    assert_eq!(listed(operator, "inventory").await.len(), 2, "and nothing removed");

    let purged = dlq(operator, &["purge", "inventory", "--yes"]).await;
    assert_eq!(purged.code, 0, "{}", purged.stderr);
    assert!(purged.stdout.contains("2 dead letter(s) of inventory purged"), "{}", purged.stdout);
    assert!(listed(operator, "inventory").await.is_empty());
    gauge_reaches(&gauge, 0).await;
    messaging.stop().await;
}

/// Waits up to 10 s for the service's gauge of `subscription`'s dead
/// letters to read `waiting` (it is counted every second in tests).
async fn gauge_reaches(subscription: &str, waiting: u64) {
    let line = format!("dead_letters_waiting{{subscription=\"{subscription}\"}} {waiting}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = comms::prometheus::install().render();
        if metrics.lines().any(|l| l == line) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no `{line}` in:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_dead_letters_are_listed_replayed_once_and_purged_with_the_operator_credential() {
    let namespace = format!("test-{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let users = BrokerUsers::create(&namespace).await.expect("deploy/rabbitmq/init.sh");
    let as_user = |name: &str| BrokerSettings {
        amqp_url: users.url(name),
        broker_namespace: namespace.clone(),
        broker_queue_expiry_secs: Some(120),
        broker_dead_letter_check_secs: 1,
        ..Default::default()
    };
    round_trip(&as_user("inventory"), &as_user("order"), &as_user("operator")).await;

    let refused = dlq(&as_user("inventory"), &["list"]).await;
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("inventory service's own broker user") && refused.stderr.contains("operator"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_dead_letters_are_listed_replayed_once_and_purged() {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    if tokio::net::TcpStream::connect(&brokers).await.is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but no Kafka broker answers at {brokers}");
        eprintln!("SKIPPED: no Kafka broker at {brokers} (run `just kafka`)");
        return;
    }
    let settings = BrokerSettings {
        broker: "kafka".into(),
        kafka_brokers: brokers,
        broker_namespace: format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        broker_dead_letter_check_secs: 1,
        ..Default::default()
    };
    round_trip(&settings, &settings, &settings).await;
}
