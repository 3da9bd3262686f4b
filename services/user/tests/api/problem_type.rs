//! The base of every problem's `type` URI: the documented default, or what
//! `USER_PROBLEM_TYPE_BASE` says, in the body a client gets; a base no
//! `type` could be made from stops the service at start, naming the key.

use testkit::{ServiceProcess, TestDatabase};
use user::startup::MIGRATOR;

use crate::helpers::process_env;

/// The `type` of the 404 an admin gets for a user that does not exist.
async fn not_found_type(extra: Option<(&'static str, String)>) -> String {
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    let mut env = process_env(&db.url);
    env.extend(extra);
    let service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();
    let url = format!("http://{}/users/{}", service.addr("http_addr"), uuid::Uuid::now_v7());
    let response = reqwest::Client::new().get(url).bearer_auth(testkit::As::admin().token()).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    service.terminate().unwrap();
    body["type"].as_str().expect("a problem has a type").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_type_starts_with_the_configured_base_and_by_default_with_the_documented_one() {
    assert_eq!(not_found_type(None).await, "/problems/not-found", "docs/patterns/problem-details.md's default");
    let base = "https://errors.example.org/switchyard/";
    let configured = not_found_type(Some(("USER_PROBLEM_TYPE_BASE", base.into()))).await;
    assert_eq!(configured, format!("{base}not-found"));
}

#[test]
fn a_base_no_type_could_be_made_from_is_refused_at_start_by_name() {
    for bad in ["problems/", "https://errors.example.org/no-slash", "with space/"] {
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_user")).env("USER_PROBLEM_TYPE_BASE", bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(stderr.contains("USER_PROBLEM_TYPE_BASE"), "{bad:?}: {stderr}");
    }
}
