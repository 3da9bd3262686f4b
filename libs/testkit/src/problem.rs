//! Checking error answers the way every client of this system reads them.

use serde_json::Value;

/// Asserts `response` is a problem+json document (RFC 9457) with `status`,
/// naming in its body the request id its `X-Request-ID` header carries, and
/// returns the body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], request_id.as_str(), "the body names the request it answers");
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("https://")), "type is a URI");
    assert!(body["title"].is_string());
    body
}
