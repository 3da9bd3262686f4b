//! Traces continue across HTTP and gRPC; metrics count what happened.

use std::sync::Arc;

use axum::extract::{Path, State};
use contracts::user::v1 as pb;
use contracts::user::v1::user_service_client::UserServiceClient;
use testkit::As;
use testkit::{ServiceProcess, TestDatabase};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use user::startup::MIGRATOR;

use crate::helpers::{PASSWORD, process_env, spawn_app};

fn random_trace() -> (String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let traceparent = format!("00-{trace_id}-{}-01", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    (trace_id, traceparent)
}

#[tokio::test]
async fn a_request_with_a_traceparent_is_traced_under_that_trace_id() {
    let app = spawn_app().await;
    let (trace_id, traceparent) = random_trace();
    let response =
        app.api.http.get(app.api.url("/health/live")).header("traceparent", &traceparent).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let spans = testkit::otlp().wait_for(&trace_id, |s| s.iter().any(|s| s.name == "GET /health/live")).await;
    let span = spans.iter().find(|s| s.name == "GET /health/live").expect("the request's span was exported");
    assert_eq!(span.parent_span_id, traceparent[36..52], "the span's parent is the caller's span");
    assert_eq!(span.attribute("http.route"), Some("/health/live"));
}

/// A tiny service of the test's own: an HTTP handler that calls the user
/// service over gRPC through the comms tracing interceptor, as the order
/// service (the one the user service lets call `GetUser`).
type TracedClient = UserServiceClient<InterceptedService<Channel, TracedAsOrder>>;

#[derive(Clone)]
struct TracedAsOrder;

impl Interceptor for TracedAsOrder {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request = comms::grpc::inject_trace(request)?;
        let token = format!("Bearer {}", testkit::service_token("order", "user"));
        request.metadata_mut().insert("authorization", token.parse().expect("a valid header value"));
        Ok(request)
    }
}

async fn relay(State(client): State<Arc<TracedClient>>, Path(id): Path<String>) -> String {
    let mut client = (*client).clone();
    match client.get_user(pb::GetUserRequest { id }).await {
        Ok(reply) => reply.into_inner().user.map(|u| u.email).unwrap_or_default(),
        Err(status) => status.code().to_string(),
    }
}

#[tokio::test]
async fn a_grpc_call_made_inside_a_traced_request_carries_the_trace_to_another_process() {
    let otlp = testkit::otlp();
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    let mut env = process_env(&db.url);
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint().to_owned()));
    let user_service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();

    let grpc_addr = user_service.addr("grpc_addr");
    let mut admin = UserServiceClient::new(testkit::grpc::authorized(grpc_addr, &As::admin().token()).await);
    let created = admin
        .create_user(pb::CreateUserRequest {
            email: "traced@example.com".into(),
            name: "T".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();

    let channel = Channel::from_shared(format!("http://{grpc_addr}")).unwrap().connect().await.unwrap();
    let client = UserServiceClient::with_interceptor(channel, TracedAsOrder);
    let router = axum::Router::new().route("/relay/{id}", axum::routing::get(relay)).with_state(Arc::new(client));
    let router = comms::http::with_standard_layers(router, comms::http::ServerLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = listener.local_addr().unwrap();
    tokio::spawn(comms::http::serve(listener, router, Default::default(), std::future::pending()));

    let (trace_id, traceparent) = random_trace();
    let body = reqwest::Client::new()
        .get(format!("http://{relay_addr}/relay/{}", created.id))
        .header("traceparent", &traceparent)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "traced@example.com");

    let server_span_name = "user.v1.UserService/GetUser";
    let spans = otlp
        .wait_for(&trace_id, |s| {
            s.iter().any(|s| s.name == server_span_name) && s.iter().any(|s| s.name == "GET /relay/{id}")
        })
        .await;
    let relay_span = spans.iter().find(|s| s.name == "GET /relay/{id}").expect("the relay's span");
    let server_span = spans.iter().find(|s| s.name == server_span_name).expect("the user service's gRPC span");
    assert_eq!(relay_span.service_name.as_deref(), Some("tests"));
    assert_eq!(server_span.service_name.as_deref(), Some("user"), "exported by the other process");
    assert_eq!(server_span.trace_id, trace_id);
    assert!(!server_span.parent_span_id.is_empty());
    assert!(
        spans.iter().any(|s| s.span_id == server_span.parent_span_id && s.service_name.as_deref() == Some("tests")),
        "the server span's parent is a span of the calling process"
    );
}

fn metric_value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_http_and_grpc_requests_by_route_and_status() {
    let app = spawn_app().await;
    let metrics = format!("http://{}/metrics", app.api.metrics_addr);
    let scrape = || async { app.api.http.get(&metrics).send().await.unwrap().text().await.unwrap() };
    let http_labels = [("route", "/users/{id}"), ("status", "401"), ("method", "GET")];
    let grpc_labels = [("method", "/user.v1.UserService/GetUser"), ("code", "5")];
    let before = scrape().await;

    let unknown = uuid::Uuid::now_v7();
    assert_eq!(app.api.http.get(app.api.url(&format!("/users/{unknown}"))).send().await.unwrap().status(), 401);
    let not_found =
        app.grpc_as_order().await.get_user(pb::GetUserRequest { id: unknown.to_string() }).await.unwrap_err();
    assert_eq!(not_found.code(), tonic::Code::NotFound);

    let after = scrape().await;
    let http_before = metric_value(&before, "http_server_requests_total", &http_labels);
    assert!(metric_value(&after, "http_server_requests_total", &http_labels) >= http_before + 1.0, "{after}");
    let grpc_before = metric_value(&before, "grpc_server_requests_total", &grpc_labels);
    assert!(metric_value(&after, "grpc_server_requests_total", &grpc_labels) >= grpc_before + 1.0, "{after}");
    assert!(after.contains("http_server_request_duration_seconds_bucket"), "latency is a histogram");
}

#[tokio::test]
async fn logs_are_json_lines_that_carry_the_trace_id_of_their_request() {
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    let service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &process_env(&db.url)).await.unwrap();
    let (trace_id, traceparent) = random_trace();
    let response = reqwest::Client::new()
        .post(format!("http://{}/auth/register", service.addr("http_addr")))
        .bearer_auth(testkit::service_token("gateway", "user"))
        .header("traceparent", traceparent)
        .json(&serde_json::json!({ "email": "logged@example.com", "name": "L", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let mut line = None;
    for _ in 0..50 {
        line = service.logs().into_iter().find(|l| l.contains("user registered"));
        if line.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let line: serde_json::Value = serde_json::from_str(&line.expect("the service logged the registration")).unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["trace_id"], trace_id.as_str());
    assert_eq!(line["span_id"].as_str().map(str::len), Some(16));
    let spans = line["spans"].as_array().unwrap();
    assert_eq!(spans[0]["http.route"], "/auth/register", "the request span's fields come along: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_tell_themselves_apart_in_their_spans_and_log_lines() {
    let otlp = testkit::otlp();
    let db = TestDatabase::create(&MIGRATOR).await.unwrap();
    let mut env = process_env(&db.url);
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint().to_owned()));
    let first = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();
    let second = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &env).await.unwrap();

    let mut instances = Vec::new();
    for service in [&first, &second] {
        let (trace_id, traceparent) = random_trace();
        let url = format!("http://{}/health/live", service.addr("http_addr"));
        let response = reqwest::Client::new().get(url).header("traceparent", traceparent).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let spans = otlp.wait_for(&trace_id, |s| s.iter().any(|s| s.name == "GET /health/live")).await;
        let span = spans.iter().find(|s| s.name == "GET /health/live").expect("the request's span was exported");
        let instance = span.instance_id.clone().expect("service.instance.id on the span's resource");
        assert!(instance.starts_with("user-"), "{instance}");

        let listening = service.logs().into_iter().find(|l| l.contains("\"listening\"")).expect("a listening line");
        let line: serde_json::Value = serde_json::from_str(&listening).unwrap();
        assert_eq!(line["instance"], instance.as_str(), "its log lines name the same instance: {line}");
        instances.push(instance);
    }
    assert_ne!(instances[0], instances[1], "each process has its own");
}
