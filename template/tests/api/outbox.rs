//! The event of a created item leaves through the outbox: the relay
//! publishes it once the item's transaction has committed, and marks its
//! outbox row published once the broker has confirmed it.

use std::time::Duration;

use comms::messaging::Event;
use events::template::ItemCreated;
use testkit::EventProbe;
use tokio::time::Instant;
use uuid::Uuid;

use crate::helpers::{customer, spawn_app};

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn creating_an_item_publishes_its_event_through_the_outbox() {
    let app = spawn_app().await;
    let probe = EventProbe::start(&app.broker, &[ItemCreated::TYPE]).await;
    let owner = customer();

    let item = app.new_item(&owner, "Announced").await;
    let id: Uuid = item["id"].as_str().unwrap().parse().unwrap();

    let seen = probe.wait_for::<ItemCreated>(1, DEADLINE, |e| e.item_id == id).await;
    assert_eq!(seen.len(), 1, "one {} for the item", ItemCreated::TYPE);
    assert_eq!((seen[0].owner_id, seen[0].name.as_str()), (owner.id, "Announced"));

    // The row is marked after the confirm, which may come after delivery.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let published: bool =
            sqlx::query_scalar("SELECT published_at IS NOT NULL FROM comms_outbox WHERE event_type = $1")
                .bind(ItemCreated::TYPE)
                .fetch_one(&app.db.pool)
                .await
                .expect("one outbox row");
        if published {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox row was never marked published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
