//! Each service's RabbitMQ user as deploy/rabbitmq/init.sh makes it, on the
//! local broker, under uniquely named users of the test's own: it reaches
//! its own queues and publishes its own event types, and nothing else; the
//! operator lists and moves dead letters; guest is left as it was.

use std::sync::Arc;
use std::time::Duration;

use comms::messaging::settings::BrokerSettings;
use comms::messaging::{Destination, Envelope, HandlerError, OutgoingMessage, Subscription};
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use testkit::BrokerUsers;
use testkit::broker_conformance::{Ping, Recorder, ping};

/// `event_type`, as its publisher's outbox would send it.
fn event(n: u32, event_type: &str) -> OutgoingMessage {
    let mut message = ping(n, Destination::Event);
    event_type.clone_into(&mut message.event_type);
    message
}

/// What rabbitmqctl lists of guest's rights.
fn guest_rights() -> String {
    let list = |command: &str| {
        let out = testkit::rabbitmqctl().args(["-q", command, "guest"]).output().unwrap();
        assert!(out.status.success(), "rabbitmqctl {command} guest");
        String::from_utf8(out.stdout).unwrap()
    };
    list("list_user_permissions") + &list("list_user_topic_permissions")
}

/// Opens a channel as `url`'s user, runs `attempt` on it, and returns how
/// the broker answered: `Ok` or the error, with its reply text.
async fn as_user<F, Fut>(url: &str, attempt: F) -> Result<(), String>
where
    F: FnOnce(lapin::Channel) -> Fut,
    Fut: std::future::Future<Output = lapin::Result<()>>,
{
    let connection = Connection::connect(url, ConnectionProperties::default()).await.map_err(|e| format!("{e:?}"))?;
    let channel = connection.create_channel().await.map_err(|e| format!("{e:?}"))?;
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| format!("{e:?}"))?;
    let outcome = attempt(channel).await.map_err(|e| format!("{e:?}"));
    let _ = connection.close(200, "OK".into()).await;
    outcome
}

async fn publish(channel: lapin::Channel, exchange: String, key: String) -> lapin::Result<()> {
    let options = BasicPublishOptions { mandatory: true, ..Default::default() };
    channel.basic_publish(exchange.into(), key.into(), options, b"{}", BasicProperties::default()).await?.await?;
    // A refusal closes the channel; the next call on it reports why.
    channel.basic_qos(1, Default::default()).await
}

fn refused(outcome: Result<(), String>, what: &str) {
    match outcome {
        Err(error) => assert!(error.contains("ACCESS_REFUSED"), "{what}: refused, but not for access: {error}"),
        Ok(()) => panic!("{what}: allowed"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_user_reaches_only_its_own_queues_and_event_types() {
    testkit::otlp();
    let guest_before = guest_rights();
    let ns = format!("test-{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let users = BrokerUsers::create(&ns).await.unwrap();
    let settings = |name: &str| BrokerSettings {
        amqp_url: users.url(name),
        broker_namespace: ns.clone(),
        broker_queue_expiry_secs: Some(60),
        ..BrokerSettings::default()
    };

    // inventory consumes order.placed under its own user, and fails ping 2
    // for good: a dead letter.
    let recorder = Recorder::failing(|d| {
        let n = Envelope::from_bytes(&d.body).ok()?.decode::<Ping>().ok()?.n;
        (n == 2).then(|| HandlerError::Permanent("bad".into()))
    });
    let (inventory, _) = settings("inventory").connect("inventory").await.unwrap();
    let mut subscription = Subscription::events("inventory", &["order.placed"]);
    subscription.retry_delays = vec![Duration::from_millis(50)];
    inventory.subscribe(subscription, Arc::new(recorder.clone())).await.unwrap();

    // order publishes its own type, its password read from a file as
    // compose gives it.
    let password_file = std::env::temp_dir().join(format!("{ns}order-password"));
    std::fs::write(&password_file, users.password("order")).unwrap();
    let order_settings = BrokerSettings {
        amqp_url: format!("amqp://{ns}order@127.0.0.1:5672/%2f"),
        amqp_password_file: Some(password_file.display().to_string()),
        ..settings("order")
    };
    let (order, _) = order_settings.connect("order").await.unwrap();
    std::fs::remove_file(&password_file).unwrap();
    for outcome in order.publish(&[event(1, "order.placed"), event(2, "order.placed")]).await {
        outcome.expect("order publishes order.placed");
    }
    wait_for(|| recorder.pings().contains(&1) && recorder.pings().contains(&2)).await;

    // Another service's event type: refused by the broker, and reported as
    // not published by comms, whose next publish still goes out.
    let order_url = users.url("order");
    let events = format!("{ns}domain-events");
    refused(
        as_user(&order_url, |c| publish(c, events.clone(), "inventory.reserved".into())).await,
        "order publishing inventory.reserved",
    );
    assert!(order.publish(&[event(3, "inventory.reserved")]).await[0].is_err(), "comms reports the refusal");
    order.publish(&[event(4, "order.placed")]).await.remove(0).expect("a new channel after the refusal");
    wait_for(|| recorder.pings().contains(&4)).await;
    assert!(!recorder.pings().contains(&3), "the refused event reached no one");

    // Another service's queues: not read, not written through the default
    // exchange or its own direct exchange, nothing declared in its name.
    let inventory_queue = format!("{ns}inventory.events");
    refused(
        as_user(&order_url, |c| async move {
            c.basic_get(inventory_queue.as_str().into(), BasicGetOptions::default()).await.map(drop)
        })
        .await,
        "order reading inventory's queue",
    );
    let into = format!("{ns}inventory.events");
    refused(
        as_user(&order_url, |c| publish(c, String::new(), into.clone())).await,
        "order through the default exchange",
    );
    refused(
        as_user(&order_url, |c| publish(c, format!("{ns}inventory.direct"), into.clone())).await,
        "order through inventory's direct exchange",
    );
    let extra = format!("{ns}inventory.extra");
    refused(
        as_user(&order_url, |c| async move {
            let options = QueueDeclareOptions { durable: true, ..Default::default() };
            c.queue_declare(extra.as_str().into(), options, FieldTable::default()).await.map(drop)
        })
        .await,
        "order declaring a queue in inventory's name",
    );

    // The operator lists inventory's dead letter and moves it back; the
    // consumer sees it again.
    wait_for_dead_letter(&users, &ns).await;
    let operator_url = users.url("operator");
    let (dlq, direct, main) = (format!("{ns}inventory.dlq"), format!("{ns}inventory.direct"), into.clone());
    as_user(&operator_url, |c| async move {
        let message = c.basic_get(dlq.as_str().into(), BasicGetOptions::default()).await?.expect("the dead letter");
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        let properties = message.delivery.properties.clone();
        c.basic_publish(direct.as_str().into(), main.as_str().into(), options, &message.delivery.data, properties)
            .await?
            .await?;
        message.delivery.ack(BasicAckOptions::default()).await.map(drop)
    })
    .await
    .expect("the operator moves a dead letter back");
    wait_for(|| recorder.pings().iter().filter(|n| **n == 2).count() >= 2).await;

    drop((inventory, order));
    drop(users);
    assert_eq!(guest_rights(), guest_before, "guest's rights are as they were");
}

/// Until the operator sees a message in inventory's dead-letter queue.
async fn wait_for_dead_letter(users: &BrokerUsers, ns: &str) {
    let queue = format!("{ns}inventory.dlq");
    for _ in 0..100 {
        let name = queue.clone();
        let count = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = count.clone();
        as_user(&users.url("operator"), |c| async move {
            let options = QueueDeclareOptions { passive: true, ..Default::default() };
            let queue = c.queue_declare(name.as_str().into(), options, FieldTable::default()).await?;
            seen.store(queue.message_count(), std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await
        .expect("the operator looks at the dead letters");
        if count.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no dead letter in {queue}");
}

async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s");
}
