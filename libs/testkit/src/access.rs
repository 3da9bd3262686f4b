//! Every operation a service serves, tried with every kind of wrong caller
//! and with the right one: what its access table promises, checked against
//! the running service.
//!
//! The operations come from the service itself, its OpenAPI document and
//! its gRPC descriptor set, not from the table, so an operation the table
//! forgot fails here (and so does a rule for an operation that no longer
//! exists). Each is called:
//!
//! - with no credentials, with spoofed `X-User-*` headers alone, and with
//!   an expired, malformed, oversized, wrongly addressed or unpublished
//!   token: 401 (UNAUTHENTICATED);
//! - with a user's token where only services may call, and as a service the
//!   table does not name: 403 (PERMISSION_DENIED);
//! - as a caller the table allows: neither.
//!
//! Never a 5xx, INTERNAL or UNKNOWN. Bodies are empty JSON objects and
//! empty messages, so an admitted call is refused by the handler's own
//! validation rather than changing anything that matters.

use std::time::Duration;

use comms::auth::{AccessTable, Allow};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use uuid::Uuid;

use crate::Served;
use crate::identity::{service_token, sign_user_claims, user_claims, user_token};

/// One way to call, and what must come of it.
struct Attempt {
    what: String,
    authorization: Option<String>,
    spoof: bool,
    expect: Expect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Unauthenticated,
    Forbidden,
    Admitted,
}

/// Checks every REST operation and RPC of `served` against `table`;
/// `descriptor_sets` are those of its gRPC services (none without gRPC).
pub async fn every_operation_is_guarded(served: &Served, table: &AccessTable, descriptor_sets: &[&[u8]]) {
    let mut operations = rest_operations(served).await;
    let rpcs: Vec<Rpc> = descriptor_sets.iter().flat_map(|set| rpc_methods(set)).collect();
    operations.extend(rpcs.iter().map(|rpc| rpc.path.clone()));
    let listed: Vec<&str> = table.rules().iter().map(|(operation, _)| *operation).collect();
    let missing: Vec<&String> = operations.iter().filter(|op| !listed.contains(&op.as_str())).collect();
    assert!(missing.is_empty(), "operations missing from the access table (refused to everyone): {missing:?}");
    let stale: Vec<&&str> = listed.iter().filter(|op| !operations.iter().any(|o| o == **op)).collect();
    assert!(stale.is_empty(), "access rules for operations the service does not serve: {stale:?}");

    let mut failures = Vec::new();
    for operation in operations.iter().filter(|op| op.starts_with(|c: char| c.is_ascii_uppercase())) {
        let allow = table.allow(operation).expect("listed");
        for attempt in attempts(served.service, allow) {
            let status = call_rest(served, operation, &attempt).await;
            if !fits(attempt.expect, status.as_u16()) {
                failures.push(format!("{operation} {}: {status}, expected {:?}", attempt.what, attempt.expect));
            }
        }
    }
    for rpc in &rpcs {
        let allow = table.allow(&rpc.path).expect("listed");
        for attempt in attempts(served.service, allow).into_iter().filter(|a| !a.spoof) {
            let code = call_rpc(served, rpc, &attempt).await;
            if !fits_grpc(attempt.expect, code) {
                failures.push(format!("{} {}: {code:?}, expected {:?}", rpc.path, attempt.what, attempt.expect));
            }
        }
    }
    assert!(failures.is_empty(), "{} calls were answered wrongly:\n{}", failures.len(), failures.join("\n"));
}

/// Every caller to try against an operation `allow` guards.
fn attempts(service: &str, allow: &Allow) -> Vec<Attempt> {
    let admitted = admitted_caller(service, allow);
    if allow.is_open() {
        return vec![
            Attempt { what: "with no credentials".into(), authorization: None, spoof: false, expect: Expect::Admitted },
            admitted,
        ];
    }
    let admin = || user_claims(Uuid::now_v7(), &["customer", "admin"]);
    let with = |key: &str, value: Value| {
        let mut claims = admin();
        claims[key] = value;
        sign_user_claims(&claims)
    };
    let unauthenticated = |what: &str, token: Option<String>, spoof: bool| Attempt {
        what: what.into(),
        authorization: token.map(|t| format!("Bearer {t}")),
        spoof,
        expect: Expect::Unauthenticated,
    };
    let now = jsonwebtoken::get_current_timestamp();
    let unpublished = {
        let key = jsonwebtoken::EncodingKey::from_ed_pem(crate::keys::ed25519_pem().as_bytes()).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("not-published".into());
        jsonwebtoken::encode(&header, &admin(), &key).unwrap()
    };
    let some_service = allow.services_allowed().first().copied().unwrap_or("gateway");
    let mut all = vec![
        unauthenticated("with no credentials", None, false),
        unauthenticated("with spoofed X-User-* headers alone", None, true),
        unauthenticated("with an expired token", Some(with("exp", json!(now - 3600))), false),
        unauthenticated("with a malformed token", Some("not.a.token".into()), false),
        unauthenticated("with an oversized token", Some(with("padding", json!("x".repeat(5000)))), false),
        unauthenticated("with a user token for another audience", Some(with("aud", json!("elsewhere"))), false),
        unauthenticated("with a token from an unpublished key", Some(unpublished), false),
        unauthenticated(
            "with a service token for another service",
            Some(service_token(some_service, if service == "user" { "order" } else { "user" })),
            false,
        ),
    ];
    if allow.users_allowed().is_none() {
        all.push(Attempt {
            what: "as an admin user, where only services may call".into(),
            authorization: Some(format!("Bearer {}", user_token(Uuid::now_v7(), &["customer", "admin"]))),
            spoof: false,
            expect: Expect::Forbidden,
        });
    }
    if let Some(stranger) = ["analytics", "notification", "inventory", "template"]
        .into_iter()
        .find(|name| *name != service && !allow.services_allowed().contains(name))
    {
        all.push(Attempt {
            what: format!("as the {stranger} service, which the table does not name"),
            authorization: Some(format!("Bearer {}", service_token(stranger, service))),
            spoof: false,
            expect: Expect::Forbidden,
        });
    }
    if let Some(roles) = allow.users_allowed().filter(|roles| !roles.is_empty() && !roles.contains(&"customer")) {
        all.push(Attempt {
            what: format!("as a customer, where one of {roles:?} is needed"),
            authorization: Some(format!("Bearer {}", user_token(Uuid::now_v7(), &["customer"]))),
            spoof: false,
            expect: Expect::Forbidden,
        });
    }
    all.push(admitted);
    all
}

/// A caller `allow` lets in: its first service, else a user with every
/// role it names (an admin where any user may: ownership checks pass).
fn admitted_caller(service: &str, allow: &Allow) -> Attempt {
    let (what, token) = match (allow.services_allowed().first(), allow.users_allowed()) {
        (Some(caller), _) => (format!("as the {caller} service"), service_token(caller, service)),
        (None, Some(roles)) if !roles.is_empty() => {
            let mut all = vec!["customer"];
            all.extend(roles);
            (format!("as a user with {all:?}"), user_token(Uuid::now_v7(), &all))
        }
        _ => ("as an admin user".into(), user_token(Uuid::now_v7(), &["customer", "admin"])),
    };
    Attempt { what, authorization: Some(format!("Bearer {token}")), spoof: false, expect: Expect::Admitted }
}

fn fits(expect: Expect, status: u16) -> bool {
    status < 500
        && match expect {
            Expect::Unauthenticated => status == 401,
            Expect::Forbidden => status == 403,
            Expect::Admitted => status != 401 && status != 403,
        }
}

fn fits_grpc(expect: Expect, code: Code) -> bool {
    !matches!(code, Code::Internal | Code::Unknown)
        && match expect {
            Expect::Unauthenticated => code == Code::Unauthenticated,
            Expect::Forbidden => code == Code::PermissionDenied,
            Expect::Admitted => !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
        }
}

/// `"{METHOD} {path template}"` for every operation of the service's
/// OpenAPI document.
async fn rest_operations(served: &Served) -> Vec<String> {
    let document: Value = served.http.get(served.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = document["paths"].as_object().expect("the document has paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

async fn call_rest(served: &Served, operation: &str, attempt: &Attempt) -> StatusCode {
    let (method, template) = operation.split_once(' ').expect("METHOD path");
    // Any segment matches a path parameter; a fresh UUID names nothing.
    let path: String = template
        .split('/')
        .map(|segment| if segment.starts_with('{') { Uuid::now_v7().to_string() } else { segment.to_owned() })
        .collect::<Vec<_>>()
        .join("/");
    let method: Method = method.parse().unwrap();
    let mut request = served.http.request(method.clone(), served.url(&path)).timeout(Duration::from_secs(10));
    if method != Method::GET && method != Method::DELETE {
        request = request.json(&json!({}));
    }
    if let Some(authorization) = &attempt.authorization {
        request = request.header("authorization", authorization);
    }
    if attempt.spoof {
        request = request.header("x-user-id", Uuid::now_v7().to_string()).header("x-user-roles", "customer,admin");
    }
    // A stream answers its status at once and then goes on: only the
    // status is read.
    request.send().await.unwrap_or_else(|e| panic!("{operation} {}: {e}", attempt.what)).status()
}

/// An empty message: encoded, no bytes, which every proto3 request type
/// reads as its defaults; decoded, any reply, its fields skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct Nothing {}

/// One RPC of the descriptor set.
struct Rpc {
    path: String,
    client_streaming: bool,
    server_streaming: bool,
}

fn rpc_methods(descriptor_set: &[u8]) -> Vec<Rpc> {
    let set = prost_types::FileDescriptorSet::decode(descriptor_set).expect("a descriptor set");
    let mut rpcs = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                rpcs.push(Rpc {
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    client_streaming: method.client_streaming(),
                    server_streaming: method.server_streaming(),
                });
            }
        }
    }
    rpcs
}

/// Calls `rpc` with an empty message (an empty stream for a client stream)
/// and returns the status it ends or starts with.
async fn call_rpc(served: &Served, rpc: &Rpc, attempt: &Attempt) -> Code {
    let channel = crate::grpc::channel(served.grpc_addr()).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let path = PathAndQuery::try_from(rpc.path.as_str()).unwrap();
    let codec = tonic_prost::ProstCodec::<Nothing, Nothing>::default();
    let authorize = |request| with_authorization(request, attempt.authorization.as_deref());
    let authorize_stream = |request| with_authorization(request, attempt.authorization.as_deref());
    let answer = match (rpc.client_streaming, rpc.server_streaming) {
        (false, false) => grpc.unary(authorize(tonic::Request::new(Nothing {})), path, codec).await.map(drop),
        (false, true) => grpc.server_streaming(authorize(tonic::Request::new(Nothing {})), path, codec).await.map(drop),
        (true, false) => {
            let messages = futures::stream::empty::<Nothing>();
            grpc.client_streaming(authorize_stream(tonic::Request::new(messages)), path, codec).await.map(drop)
        }
        (true, true) => {
            let messages = futures::stream::empty::<Nothing>();
            grpc.streaming(authorize_stream(tonic::Request::new(messages)), path, codec).await.map(drop)
        }
    };
    match answer {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn with_authorization<T>(mut request: tonic::Request<T>, authorization: Option<&str>) -> tonic::Request<T> {
    if let Some(authorization) = authorization {
        request.metadata_mut().insert("authorization", authorization.parse().expect("a valid header value"));
    }
    request
}

/// The one test each service runs on its access table: `app` a started
/// test app (from `$spawn`), `$served` its [`Served`] field.
#[macro_export]
macro_rules! every_operation_is_guarded_test {
    ($spawn:path, $served:ident, $table:expr, $descriptor_sets:expr) => {
        #[tokio::test]
        async fn every_operation_refuses_the_wrong_callers_and_admits_the_right_one() {
            let app = $spawn().await;
            $crate::access::every_operation_is_guarded(&app.$served, &$table, &$descriptor_sets).await;
        }
    };
}
