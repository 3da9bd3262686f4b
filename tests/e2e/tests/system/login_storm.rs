//! More sign-ins at once than the user service can hash: the extra ones are
//! turned away at once with 503 and `Retry-After`, nothing waits into the
//! gateway's timeout, and the gateway's breaker for the user service stays
//! closed, so every other user route keeps working. Safe defaults
//! throughout: no profile raises a limit here.

use std::time::{Duration, Instant};

use e2e::{Api, System};
use reqwest::StatusCode;
use serde_json::json;

/// Sign-ins sent at once: several times the hashing slots (one per core
/// plus `USER_HASHING__MAX_WAITING`, 8), within the gateway's per-address
/// burst (100).
const STORM: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_storm_gets_fast_503s_while_other_user_routes_answer_and_the_breaker_stays_closed() {
    let system = System::start("rabbitmq").await.expect("the system starts");
    let api = Api::new(&system.gateway);
    let (password, email) = (e2e::admin_password(), e2e::ADMIN_EMAIL);
    let token = api.login(email, password).await;
    let admin = api.with_token(&token);
    let (status, me) = admin.get("/api/users?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let user_path = format!("/api/users/{}", me["items"][0]["id"].as_str().unwrap());

    // Meanwhile: another user route, asked again and again.
    let watcher = {
        let admin = admin.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                statuses.push(admin.get(&user_path).await.0);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            statuses
        })
    };
    let http = reqwest::Client::new();
    let storm: Vec<_> = (0..STORM)
        .map(|_| {
            let request = http
                .post(format!("{}/api/auth/login", system.gateway))
                .json(&json!({ "email": email, "password": password }));
            tokio::spawn(async move {
                let started = Instant::now();
                let response = request.send().await.expect("an answer");
                let retry_after = response.headers().contains_key("retry-after");
                (response.status(), retry_after, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for sign_in in storm {
        answers.push(sign_in.await.unwrap());
    }
    let shed: Vec<_> = answers.iter().filter(|(status, ..)| *status == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!shed.is_empty(), "the storm exceeded the hashing capacity: {answers:?}");
    assert!(shed.iter().all(|(_, retry_after, _)| *retry_after), "every 503 says when to retry: {answers:?}");
    assert!(
        answers.iter().all(|(status, ..)| [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(status)),
        "only sign-ins and refusals for capacity, no 504: {answers:?}"
    );
    // Turned away without queueing: well inside the gateway's 10 s.
    let slowest = shed.iter().map(|(.., took)| *took).max().unwrap();
    assert!(slowest < Duration::from_secs(5), "a 503 took {slowest:?}");

    let statuses = watcher.await.unwrap();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "another user route kept answering: {statuses:?}");
    let metrics =
        reqwest::get(format!("http://{}/metrics", system.metrics_addr("gateway"))).await.unwrap().text().await.unwrap();
    let opened = metrics
        .lines()
        .any(|line| line.starts_with("circuit_breaker_transitions_total") && line.contains("gateway->user"));
    assert!(!opened, "gateway->user never left closed:\n{metrics}");
    let (status, _) = admin.get("/api/users?limit=1").await;
    assert_eq!(status, StatusCode::OK);
}
