//! The consumer's handler, unchanged, applied by the library to a batch of
//! deliveries in ONE transaction (what a batching consumer would do).

use comms::messaging::{Applied, Delivery, Envelope};
use testkit::TestDatabase;

use crate::helpers::{Order, envelope, registered};

fn delivery(envelope: &Envelope) -> Delivery {
    Delivery { body: envelope.to_bytes(), headers: Default::default(), attempt: 1, redelivered: false }
}

#[tokio::test]
async fn two_deliveries_commit_together_in_one_transaction_and_a_duplicate_never_reaches_the_handler() {
    let db = TestDatabase::create(&analytics::startup::MIGRATOR).await.unwrap();
    comms::messaging::outbox::install(&db.pool).await.unwrap();
    let consumer = analytics::consumer::router().consumer(db.pool.clone(), analytics::SERVICE.name);
    let user = registered();
    let order = Order::of(&[("LAMP-1", 2, 500)]);
    let (first, second) = (envelope(&user), envelope(&order.placed()));

    let outcomes = consumer.apply_batch(&[delivery(&first), delivery(&second), delivery(&first)]).await;
    assert_eq!(outcomes, [Ok(Applied::Handled), Ok(Applied::Handled), Ok(Applied::Duplicate)]);

    // Both effects and both inbox rows are there after the one commit the
    // batch made (each delivery ran in a savepoint of that transaction).
    let written: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM comms_inbox WHERE event_id = ANY($1))
              + (SELECT count(*) FROM registrations WHERE user_id = $2)
              + (SELECT count(*) FROM order_facts WHERE order_id = $3)",
    )
    .bind(vec![first.id, second.id])
    .bind(user.user_id)
    .bind(order.id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(written, 4, "two inbox rows and both effects");

    let counted: i64 = sqlx::query_scalar("SELECT coalesce(sum(events), 0)::bigint FROM event_minutes")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(counted, 2, "the duplicate in the batch was not handled again");

    // A batch of one duplicate and one new event: only the new one runs.
    let third = envelope(&registered());
    let outcomes = consumer.apply_batch(&[delivery(&second), delivery(&third)]).await;
    assert_eq!(outcomes, [Ok(Applied::Duplicate), Ok(Applied::Handled)]);
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM comms_inbox").fetch_one(&db.pool).await.unwrap();
    assert_eq!(inbox, 3);
}

#[tokio::test]
async fn a_commit_that_fails_fails_every_delivery_of_the_batch_and_keeps_none_of_their_writes() {
    let db = TestDatabase::create(&analytics::startup::MIGRATOR).await.unwrap();
    comms::messaging::outbox::install(&db.pool).await.unwrap();
    // A check that only runs at COMMIT, after every delivery's savepoint
    // has succeeded: the one way to make the batch's commit itself fail.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
         CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON registrations
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let consumer = analytics::consumer::router().consumer(db.pool.clone(), analytics::SERVICE.name);
    let order = Order::of(&[("LAMP-1", 2, 500)]);
    let (placed, registration) = (envelope(&order.placed()), envelope(&registered()));

    let outcomes = consumer.apply_batch(&[delivery(&placed), delivery(&registration)]).await;
    assert!(outcomes.iter().all(Result::is_err), "both deliveries fail with the commit: {outcomes:?}");

    let written: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM comms_inbox) + (SELECT count(*) FROM registrations)
              + (SELECT count(*) FROM order_facts)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(written, 0, "no inbox row and no effect of either delivery survives");
}
