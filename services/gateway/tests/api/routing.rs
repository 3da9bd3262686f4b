//! The route table: matching, methods, rewriting, and the header rules.

use comms::discovery::ServiceRegistry;

use comms::auth::Principal;

use crate::helpers::{assert_problem, spawn_gateway, token};

#[tokio::test]
async fn paths_are_rewritten_and_queries_kept() {
    let gw = spawn_gateway().await;
    let (status, seen) = gw.get("/api/echo/a/b%20c?x=1&y=2", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(seen["path"], "/echo/a/b%20c");
    assert_eq!(seen["query"], "x=1&y=2");
    let (_, seen) = gw
        .get("/api/private/thing", &[("authorization", &format!("Bearer {}", token("u1", &["customer"], |_| {})))])
        .await;
    assert_eq!(seen["path"], "/inside/thing");
}

#[tokio::test]
async fn an_upstreams_location_is_mapped_back_to_the_public_path() {
    let gw = spawn_gateway().await;
    let location = |path: &str| {
        let url = gw.url(path);
        let http = gw.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            response.headers().get("location").map(|v| v.to_str().unwrap().to_owned())
        }
    };
    assert_eq!(location("/api/echo/new?location=/echo/items/7").await.as_deref(), Some("/api/echo/items/7"));
    assert_eq!(location("/api/echo/new?location=/things").await.as_deref(), Some("/api/things"));
    assert_eq!(location("/api/echo/new?location=/nowhere/1").await.as_deref(), Some("/nowhere/1"), "no route: as is");
    assert_eq!(
        location("/api/echo/new?location=http://elsewhere.example/echo/1").await.as_deref(),
        Some("http://elsewhere.example/echo/1"),
        "an absolute URL is left alone"
    );
}

#[tokio::test]
async fn one_path_can_route_by_method_and_other_methods_get_405_with_allow() {
    let gw = spawn_gateway().await;
    let posted: serde_json::Value = gw.http.post(gw.url("/api/things")).send().await.unwrap().json().await.unwrap();
    assert_eq!(posted["path"], "/things");
    let (_, read) = gw.get("/api/things", &[]).await;
    assert_eq!(read["path"], "/things-read");
    let response = gw.http.delete(gw.url("/api/things")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    assert_problem(response, 405).await;
}

#[tokio::test]
async fn unknown_paths_are_404_problems_and_reach_no_upstream() {
    let gw = spawn_gateway().await;
    assert_problem(gw.http.get(gw.url("/api/nothing-here")).send().await.unwrap(), 404).await;
    assert_problem(gw.http.get(gw.url("/users")).send().await.unwrap(), 404).await;
    assert_eq!(gw.echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_header_names_a_caller_upstream_only_a_token_does() {
    let gw = spawn_gateway().await;
    let spoof = [("x-user-id", "someone-else"), ("x-user-roles", "admin"), ("x-user-anything", "x")];
    let user_bearer = format!("Bearer {}", token("real-user", &["customer"], |_| {}));
    let with_token = [&spoof[..], &[("authorization", user_bearer.as_str())]].concat();
    let echo_verifier = testkit::identity::service_verifier("echo");

    // A public route goes under the gateway's own identity, for the echo
    // service alone, whoever the client is.
    for headers in [&spoof[..], &with_token[..]] {
        let (_, public) = gw.get("/api/echo/x", headers).await;
        let forwarded = public["headers"].as_object().unwrap();
        assert!(forwarded.keys().all(|k| !k.starts_with("x-user-")), "{forwarded:?}");
        let authorization = forwarded["authorization"].as_str();
        assert_eq!(
            echo_verifier.verify(authorization).await,
            Ok(Principal::Service("gateway".into())),
            "the gateway's token for the echo service"
        );
    }

    // A signed-in route passes the user's own token on, for the service to
    // verify again; still no identity header.
    let (_, signed) = gw.get("/api/private/x", &with_token).await;
    let forwarded = signed["headers"].as_object().unwrap();
    assert!(forwarded.keys().all(|k| !k.starts_with("x-user-")), "{forwarded:?}");
    assert_eq!(forwarded["authorization"], user_bearer.as_str());
}

#[tokio::test]
async fn request_ids_forwarded_for_and_trace_context_are_set_for_the_upstream() {
    let gw = spawn_gateway().await;
    let client_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let response = gw
        .http
        .get(gw.url("/api/echo/x"))
        .header("x-request-id", "req-42")
        .header("x-forwarded-for", "203.0.113.9")
        .header("traceparent", client_trace)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-42", "returned to the client");
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["headers"]["x-request-id"], "req-42");
    assert_eq!(seen["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    let forwarded = seen["headers"]["traceparent"].as_str().unwrap();
    assert_ne!(&forwarded[3..35], "0af7651916cd43dd8448eb211c80319c", "a trace of the gateway's own (edge_layer)");

    let (_, generated) = gw.get("/api/echo/x", &[]).await;
    assert!(uuid::Uuid::parse_str(generated["headers"]["x-request-id"].as_str().unwrap()).is_ok());
}

/// Tracing is decided at the edge: a client's "not sampled" traceparent
/// neither hides the request nor becomes its trace; the gateway's own root
/// span is sampled by its sampler, goes upstream, and links the client's.
#[tokio::test]
async fn an_unsampled_client_trace_is_linked_from_a_new_sampled_trace_that_goes_upstream() {
    let gw = spawn_gateway().await;
    let client_trace_id = uuid::Uuid::new_v4().simple().to_string();
    let client = format!("00-{client_trace_id}-b7ad6b7169203331-00");
    let seen: serde_json::Value =
        gw.http.get(gw.url("/api/echo/x")).header("traceparent", &client).send().await.unwrap().json().await.unwrap();
    let forwarded = seen["headers"]["traceparent"].as_str().unwrap().to_owned();
    let trace_id = forwarded[3..35].to_owned();
    assert_ne!(trace_id, client_trace_id, "a new trace");
    assert!(forwarded.ends_with("-01"), "sampled, whatever the client's flag: {forwarded}");
    let spans = testkit::otlp().wait_for(&trace_id, |spans| spans.iter().any(|s| s.parent_span_id.is_empty())).await;
    let root = spans.iter().find(|s| s.parent_span_id.is_empty()).expect("the gateway's root span");
    assert_eq!(root.linked_traces, vec![client_trace_id], "linked to the client's trace");
}

#[tokio::test]
async fn an_instance_removed_from_discovery_stops_receiving_traffic() {
    let gw = spawn_gateway().await;
    let (other_addr, other) = crate::helpers::start_echo().await;
    let first = gw.registry.watch("echo").borrow()[0].address.clone();
    gw.registry.set("echo", &[&first, &other_addr]);
    for _ in 0..20 {
        gw.get("/api/echo/x", &[]).await;
    }
    assert!(other.hits.load(std::sync::atomic::Ordering::SeqCst) > 0, "the new instance took traffic");
    gw.registry.set("echo", &[&first]);
    let before = other.hits.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..20 {
        assert_eq!(gw.get("/api/echo/x", &[]).await.0, 200);
    }
    assert_eq!(other.hits.load(std::sync::atomic::Ordering::SeqCst), before, "the removed instance got nothing more");
}

/// Everything the gateway answers to `request`, sent byte for byte as
/// written (an HTTP client would fix what these tests send on purpose),
/// until it closes the connection.
async fn raw_exchange(gw: &crate::helpers::TestGateway, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gw.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// The status line's code of a GET of `path`, which an HTTP client would
/// resolve the dot segments of before sending.
async fn raw_status(gw: &crate::helpers::TestGateway, path: &str) -> u16 {
    let addr = gw.base.trim_start_matches("http://");
    let response = raw_exchange(gw, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await;
    response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn content_length_with_chunked_encoding_is_refused_in_either_order_and_no_upstream_sees_it() {
    let gw = spawn_gateway().await;
    for (n, both) in
        ["Content-Length: 5\r\nTransfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: 5"]
            .into_iter()
            .enumerate()
    {
        // An ordinary request with a body first, on the same connection:
        // the second head is found by following the first one's length.
        let request = format!(
            "POST /api/echo/first HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
             POST /api/echo/second HTTP/1.1\r\nHost: x\r\n{both}\r\n\r\n0\r\n\r\n"
        );
        let exchange = raw_exchange(&gw, &request).await;
        let statuses: Vec<&str> =
            exchange.match_indices("HTTP/1.1 ").map(|(at, _)| &exchange[at + 9..at + 12]).collect();
        assert_eq!(statuses, ["200", "400"], "{exchange}");
        let refusal = &exchange[exchange.rfind("HTTP/1.1 400").unwrap()..].to_ascii_lowercase();
        assert!(refusal.contains("content-type: application/problem+json"), "{refusal}");
        assert!(refusal.contains("x-request-id: "), "{refusal}");
        assert!(refusal.contains("not both"), "{refusal}");
        assert_eq!(gw.echo.hits.load(std::sync::atomic::Ordering::SeqCst), n + 1, "the upstream saw only the first");
    }
}

#[tokio::test]
async fn dot_segments_and_encoded_slashes_or_dots_in_a_path_are_refused_before_any_upstream() {
    let gw = spawn_gateway().await;
    for path in [
        "/api/echo/..%2F..%2Fmetrics",
        "/api/echo/a%2fb",
        "/api/echo/%2e%2e/metrics",
        "/api/echo/%2E",
        "/api/echo/a/../../metrics",
        "/api/echo/./a",
        "/api/echo/a/..",
    ] {
        assert_eq!(raw_status(&gw, path).await, 400, "{path}");
    }
    assert_eq!(gw.echo.hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the upstream saw none of them");
    assert_eq!(raw_status(&gw, "/api/echo/a.b/..c/d..").await, 200, "dots inside a segment are fine");
}

#[tokio::test]
async fn metrics_answer_404_on_the_public_port_and_are_served_on_the_internal_listener() {
    let gw = spawn_gateway().await;
    // A request first, so the scrape below has a series to show.
    let _ = gw.get("/api/echo/x", &[]).await;
    assert_problem(gw.http.get(gw.url("/metrics")).send().await.unwrap(), 404).await;

    let internal = gw.http.get(format!("http://{}/metrics", gw.metrics_addr)).send().await.unwrap();
    assert_eq!(internal.status(), 200);
    let text = internal.text().await.unwrap();
    assert!(text.contains("# TYPE http_server_requests_total counter"), "{text}");
    assert!(gw.metrics_addr.ip().is_loopback(), "bound to loopback by default");
}
