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
    // The default base (the tests set none) and the kind's slug: a path
    // on the API's own origin, as RFC 9457 allows.
    let type_uri = body["type"].as_str().unwrap_or_default();
    let slug = type_uri.strip_prefix(comms::http::problem::DEFAULT_TYPE_BASE).unwrap_or_default();
    assert!(!slug.is_empty() && !slug.contains('/'), "type is the default base and a slug: {type_uri:?}");
    assert!(body["title"].is_string());
    body
}
