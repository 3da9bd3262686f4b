//! The Idempotency-Key: retries get the first answer, racing retries make
//! one order, and a key reused for another order is refused.

use std::time::Duration;

use crate::helpers::{assert_problem, lines, spawn_app, violated_fields};

#[tokio::test]
async fn twelve_parallel_identical_requests_make_one_order_and_get_one_answer() {
    let app = spawn_app().await;
    let me = app.customer();
    // Slow pricing keeps the first request inside its transaction while the
    // others arrive, so they really race for the key.
    app.inventory_proxy.add_latency(Duration::from_millis(150));
    let body = lines(&[("KEYBOARD", 1), ("CABLE", 2)]);

    let requests = (0..12).map(|_| app.place(&me, "one-key-many-tries", &body));
    let responses = futures::future::join_all(requests).await;

    let mut answers = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let replayed = response.headers().get("idempotency-replayed").is_some_and(|v| v == "true");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        answers.push((replayed, location, response.text().await.unwrap()));
    }
    assert_eq!(answers.iter().filter(|(replayed, ..)| !replayed).count(), 1, "exactly one request placed the order");
    let (_, location, body) = &answers[0];
    assert!(answers.iter().all(|(_, l, b)| l == location && b == body), "every answer is the first, byte for byte");
    let (orders, order_lines, outbox, keys) = app.rows().await;
    assert_eq!((orders, order_lines, outbox, keys), (1, 2, 1, 1));
}

#[tokio::test]
async fn a_sequential_retry_is_replayed_and_a_reused_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let me = app.customer();
    let first = app.place(&me, "retry-me", &lines(&[("MOUSE", 1), ("CABLE", 1)])).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first_body = first.text().await.unwrap();

    // The same lines in another order are the same request.
    let retry = app.place(&me, "retry-me", &lines(&[("CABLE", 1), ("MOUSE", 1)])).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotency-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), first_body);

    let other = app.place(&me, "retry-me", &lines(&[("MOUSE", 2), ("CABLE", 1)])).await;
    let problem = assert_problem(other, 422).await;
    assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"), "{problem}");

    // Keys belong to a customer: another customer's same key is a new order.
    let someone_else = app.customer();
    let theirs = app.place(&someone_else, "retry-me", &lines(&[("MOUSE", 1), ("CABLE", 1)])).await;
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("idempotency-replayed").is_none());

    let (orders, _, outbox, keys) = app.rows().await;
    assert_eq!((orders, outbox, keys), (2, 2, 2));
}

#[tokio::test]
async fn a_missing_or_malformed_key_is_a_bad_request() {
    let app = spawn_app().await;
    let me = app.customer();
    let body = lines(&[("MOUSE", 1)]);

    let missing = app.api.request(reqwest::Method::POST, "/orders", &me).json(&body).send().await.unwrap();
    let problem = assert_problem(missing, 400).await;
    assert_eq!(violated_fields(&problem), ["Idempotency-Key"]);

    for bad in ["k".repeat(256), "has space".into(), "tab\there".into()] {
        let problem = assert_problem(app.place(&me, &bad, &body).await, 400).await;
        assert_eq!(violated_fields(&problem), ["Idempotency-Key"], "{bad:?}");
    }
    let twice = app
        .api
        .request(reqwest::Method::POST, "/orders", &me)
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(twice, 400).await;

    assert_eq!(app.place(&me, &"k".repeat(255), &body).await.status(), 201, "255 characters are fine");
}
