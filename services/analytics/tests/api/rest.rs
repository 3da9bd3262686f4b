//! The REST API: admins only, parameters checked field by field, series
//! zero-filled, documented in OpenAPI; gRPC health and reflection.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::helpers::{As, assert_problem, spawn_app, statuses, violated_fields};

#[tokio::test]
async fn analytics_is_for_admins_only() {
    let app = spawn_app().await;
    for path in ["/analytics/summary", "/analytics/series?metric=order.placed"] {
        assert_problem(app.get(path, As::Nobody).send().await.unwrap(), 401).await;
        assert_problem(app.get(path, As::Customer).send().await.unwrap(), 403).await;
        assert_eq!(app.get(path, As::Admin).send().await.unwrap().status(), 200, "{path}");
    }
    // Authentication is checked before the parameters.
    assert_problem(app.get("/analytics/series?minutes=0", As::Customer).send().await.unwrap(), 403).await;
}

#[tokio::test]
async fn an_empty_summary_lists_every_status_at_zero() {
    let app = spawn_app().await;
    let summary = app.summary().await;
    assert_eq!(summary["registrations"], 0);
    assert_eq!(summary["orders_by_status"], statuses(0, 0, 0, 0, 0));
    assert_eq!(summary["revenue"], 0);
    assert_eq!(summary["top_skus"], serde_json::json!([]));
    assert_eq!(summary["events_applied"], 0);
    assert!(summary["at"].as_str().unwrap().parse::<DateTime<Utc>>().is_ok());
}

#[tokio::test]
async fn bad_series_parameters_are_422_naming_each_bad_field() {
    let app = spawn_app().await;
    let cases: &[(&str, &[&str])] = &[
        ("", &["metric"]),
        ("?metric=order.shipped", &["metric"]),
        ("?metric=order.placed%00", &["metric"]),
        ("?metric=order.placed&minutes=0", &["minutes"]),
        ("?metric=order.placed&minutes=1441", &["minutes"]),
        ("?metric=order.placed&minutes=sixty", &["minutes"]),
        ("?metric=order.placed&minutes=99999999999999999999999", &["minutes"]),
        ("?metric=nope&minutes=-1", &["metric", "minutes"]),
    ];
    for (query, fields) in cases {
        let response = app.get(&format!("/analytics/series{query}"), As::Admin).send().await.unwrap();
        let problem = assert_problem(response, 422).await;
        assert_eq!(violated_fields(&problem), *fields, "{query}");
    }
}

#[tokio::test]
async fn a_series_has_one_point_per_minute_oldest_first_zero_filled() {
    let app = spawn_app().await;
    let before = Utc::now();
    let series = app.series("inventory.low_stock", 5).await;
    assert_eq!(series["metric"], "inventory.low_stock");
    assert_eq!(series["minutes"], 5);
    let minutes: Vec<DateTime<Utc>> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["events"], 0);
            p["minute"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(minutes.len(), 5);
    assert!(minutes.windows(2).all(|w| w[1] - w[0] == TimeDelta::minutes(1)), "consecutive minutes: {minutes:?}");
    let last = *minutes.last().unwrap();
    assert!(last <= Utc::now() && last > before - TimeDelta::minutes(1), "the last point is the current minute");

    let default: Value =
        app.get("/analytics/series?metric=user.registered", As::Admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(default["points"].as_array().unwrap().len(), 60, "an hour by default");
    assert_eq!(app.series("order.placed", 1440).await["points"].as_array().unwrap().len(), 1440);
}

#[tokio::test]
async fn the_openapi_document_describes_both_operations_and_health_is_served() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/analytics/summary", "/analytics/series"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} is documented");
    }
    let params = doc["paths"]["/analytics/series"]["get"]["parameters"].as_array().unwrap();
    let metric = params.iter().find(|p| p["name"] == "metric").unwrap();
    assert_eq!(metric["required"], true);
    assert_eq!(metric["schema"]["enum"].as_array().unwrap().len(), events::ALL_TYPES.len());
    let ready: Value = app.http.get(app.url("/health/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["database"]["status"], "up");
}

#[tokio::test]
async fn reflection_lists_the_service_and_health_answers_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;

    let app = spawn_app().await;
    let channel = testkit::grpc::channel(app.instance.grpc_addr()).await;
    let names = testkit::grpc::listed_services(channel.clone()).await;
    assert!(names.iter().any(|n| n == "analytics.v1.AnalyticsService"), "{names:?}");

    let status = testkit::grpc::health(channel, "analytics.v1.AnalyticsService").await;
    assert_eq!(status, ServingStatus::Serving);
}
