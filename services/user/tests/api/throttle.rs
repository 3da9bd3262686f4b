//! Login throttling and bounded hash work (`login_throttle`,
//! `domain::password::Hashing`), with the safe defaults. Each client binds
//! its socket to its own loopback address and sends no forwarded header,
//! so the service tells clients apart by their TCP peer address alone.

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app};

const WRONG: &str = "not the password";

/// A client whose connections come from `127.0.0.{last}`.
fn client_from(last: u8) -> reqwest::Client {
    let address: IpAddr = [127, 0, 0, last].into();
    reqwest::Client::builder().local_address(address).build().unwrap()
}

async fn login_from(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
    client
        .post(app.api.url("/auth/login"))
        .bearer_auth(testkit::service_token("gateway", "user"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login")
}

#[tokio::test]
async fn wrong_passwords_from_one_address_meet_429_while_the_owner_gets_in_from_another() {
    let app = spawn_app().await;
    app.new_user("ada@example.com").await;
    let attacker = client_from(2);

    let mut statuses = Vec::new();
    let mut first_refusal = None;
    for attempt in 1..=30 {
        let response = login_from(&app, &attacker, "ada@example.com", WRONG).await;
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && first_refusal.is_none() {
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            first_refusal = Some((attempt, retry_after));
        }
    }
    let (attempt, retry_after) = first_refusal.unwrap_or_else(|| panic!("never throttled: {statuses:?}"));
    assert!(attempt < 30, "throttled only at {attempt}: {statuses:?}");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().unwrap() >= 1), "429 says how long to wait");
    assert!(statuses.iter().all(|s| [401, 429].contains(s)), "{statuses:?}");

    let owner = login_from(&app, &client_from(3), "ada@example.com", PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK, "another address still gets in");
}

#[tokio::test]
async fn wrong_passwords_spread_over_ten_addresses_are_slowed_and_a_known_address_still_gets_in() {
    let app = spawn_app().await;
    app.new_user("grace@example.com").await;
    let owner = client_from(12);
    assert_eq!(login_from(&app, &owner, "grace@example.com", PASSWORD).await.status(), StatusCode::OK);

    let attackers: Vec<reqwest::Client> = (2..=11).map(client_from).collect();
    let mut statuses = Vec::new();
    for round in 0..3 {
        for attacker in &attackers {
            statuses.push(login_from(&app, attacker, "grace@example.com", WRONG).await.status().as_u16());
        }
        if round == 1 {
            // While the attack goes on: the owner's usual address gets in,
            // and a new address waits like the attackers do.
            assert_eq!(login_from(&app, &owner, "grace@example.com", PASSWORD).await.status(), StatusCode::OK);
            let stranger = login_from(&app, &client_from(13), "grace@example.com", PASSWORD).await;
            assert_eq!(stranger.status(), StatusCode::TOO_MANY_REQUESTS, "the account is held for new addresses");
        }
    }
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 10, "three tries from each of ten addresses must be slowed: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count() + refused, 30, "{statuses:?}");
}

#[tokio::test]
async fn an_unknown_account_costs_the_same_hash_as_a_wrong_password() {
    let app = spawn_app().await;
    app.new_user("alan@example.com").await;
    let passwords = app.api_state.passwords.clone();

    let before = passwords.runs();
    assert_eq!(app.login("nobody@example.com", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    let unknown = delta(&before, &passwords.runs());

    let before = passwords.runs();
    assert_eq!(app.login("alan@example.com", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    let wrong = delta(&before, &passwords.runs());

    assert_eq!(unknown, wrong, "the same parameters, the same number of runs");
    assert_eq!(wrong.values().sum::<u64>(), 1, "one hash each: {wrong:?}");
    assert_eq!(passwords.dummy_params(), *wrong.keys().next().unwrap());
}

/// Hash runs by parameters between two readings.
fn delta(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    after
        .iter()
        .map(|(params, n)| (params.clone(), n - before.get(params).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A login the gateway forwards for the client it names `198.51.100.7`.
async fn login_for_named_client(app: &TestApp, password: &str) -> StatusCode {
    let response = app
        .api
        .via_gateway(reqwest::Method::POST, "/auth/login")
        .header("x-client-address", "198.51.100.7")
        .json(&json!({ "email": "edsger@example.com", "password": password }))
        .send()
        .await
        .unwrap();
    response.status()
}

#[tokio::test]
async fn the_client_address_header_is_believed_only_from_the_gateway() {
    let app = spawn_app().await;
    app.new_user("edsger@example.com").await;
    for _ in 0..6 {
        assert_eq!(login_for_named_client(&app, WRONG).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_for_named_client(&app, PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "that address waits");
    // The peer itself (127.0.0.1) has no failures on the account.
    assert_eq!(app.login("edsger@example.com", PASSWORD).await.status(), StatusCode::OK);
}
