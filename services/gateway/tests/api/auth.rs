//! JWT verification at the edge: good tokens pass with their identity,
//! every forged one is refused, and key lookups cannot be used to flood the
//! user service.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{assert_problem, dev_jwk, dev_key, spawn_gateway, token};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

async fn status_with(gw: &crate::helpers::TestGateway, path: &str, token: &str) -> reqwest::Response {
    gw.http.get(gw.url(path)).header("authorization", format!("Bearer {token}")).send().await.unwrap()
}

#[tokio::test]
async fn a_valid_token_passes_and_roles_are_enforced() {
    let gw = spawn_gateway().await;
    assert_eq!(status_with(&gw, "/api/private/x", &token("u", &["customer"], |_| {})).await.status(), 200);
    assert_problem(status_with(&gw, "/api/admin", &token("u", &["customer"], |_| {})).await, 403).await;
    assert_eq!(status_with(&gw, "/api/admin", &token("a", &["customer", "admin"], |_| {})).await.status(), 200);
    let missing = gw.http.get(gw.url("/api/private/x")).send().await.unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_problem(missing, 401).await;
}

#[tokio::test]
async fn every_forged_token_is_refused() {
    let gw = spawn_gateway().await;
    let good = token("u", &["admin"], |_| {});
    let parts: Vec<&str> = good.split('.').collect();

    // alg: none, no signature.
    let none_header = B64.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
    let alg_none = format!("{none_header}.{}.", parts[1]);
    // HS256 "signed" with the public key as the HMAC secret.
    let public_x = serde_json::to_value(dev_jwk()).unwrap()["x"].as_str().unwrap().to_owned();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = dev_jwk().common.key_id;
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let hmac = jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(public_x.as_bytes())).unwrap();
    // Payload changed after signing (roles escalated).
    let mut escalated = claims.clone();
    escalated["sub"] = json!("someone-else");
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(escalated.to_string()), parts[2]);
    // Expired, wrong issuer, wrong audience, signed by another key.
    let expired = token("u", &["admin"], |c| c["exp"] = json!(jsonwebtoken::get_current_timestamp() - 3600));
    let wrong_issuer = token("u", &["admin"], |c| c["iss"] = json!("someone"));
    let wrong_audience = token("u", &["admin"], |c| c["aud"] = json!("other-system"));
    let other_pem = testkit::keys::ed25519_pem().into_bytes();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = dev_jwk().common.key_id;
    let other_key = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(&other_pem).unwrap()).unwrap();

    for (case, forged) in [
        ("alg none", alg_none),
        ("HMAC with the public key", hmac),
        ("tampered payload", tampered),
        ("expired", expired),
        ("wrong issuer", wrong_issuer),
        ("wrong audience", wrong_audience),
        ("another key", other_key),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let response = status_with(&gw, "/api/private/x", &forged).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"", "{case}");
    }
    assert_eq!(gw.echo.hits.load(Ordering::SeqCst), 0, "no forged request reached the upstream");
}

#[tokio::test]
async fn a_burst_of_unknown_key_ids_fetches_the_key_set_a_bounded_number_of_times() {
    let gw = spawn_gateway().await;
    let claims = json!({ "sub": "u", "roles": [], "iss": "switchyard-user", "aud": "switchyard",
                         "exp": jsonwebtoken::get_current_timestamp() + 600 });
    let key = dev_key();
    let requests: Vec<_> = (0..200)
        .map(|_| {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(uuid::Uuid::new_v4().to_string());
            let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            let (http, url) = (gw.http.clone(), gw.url("/api/private/x"));
            tokio::spawn(async move { http.get(url).bearer_auth(forged).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 401);
    }
    let fetches = gw.echo.jwks_fetches.load(Ordering::SeqCst);
    assert!((1..=2).contains(&fetches), "{fetches} key-set fetches for 200 unknown key ids");
    // A good token still works with the keys fetched once.
    assert_eq!(status_with(&gw, "/api/private/x", &token("u", &[], |_| {})).await.status(), 200);
}

#[tokio::test]
async fn a_stale_token_does_not_block_public_routes() {
    let gw = spawn_gateway().await;
    let expired = token("u", &[], |c| c["exp"] = json!(jsonwebtoken::get_current_timestamp() - 3600));
    let response = status_with(&gw, "/api/echo/login", &expired).await;
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert!(seen["headers"].get("x-user-id").is_none(), "but it grants no identity");
}

#[tokio::test]
async fn a_user_instance_registered_in_discovery_is_never_asked_for_keys_and_its_tokens_are_refused() {
    let gw = spawn_gateway().await;
    // A rogue registers as `user` with a key set of its own.
    let rogue_pem = testkit::keys::ed25519_pem();
    let rogue_key = EncodingKey::from_ed_pem(rogue_pem.as_bytes()).unwrap();
    let mut rogue_jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&rogue_key, Algorithm::EdDSA).unwrap();
    rogue_jwk.common.key_id = Some("rogue".into());
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = asked.clone();
    let keys = jsonwebtoken::jwk::JwkSet { keys: vec![rogue_jwk] };
    let rogue = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        std::future::ready(axum::Json(keys.clone()))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rogue_addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, rogue).await.unwrap() });
    gw.registry.set("user", &[&rogue_addr]);

    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("rogue".into());
    let claims = json!({ "sub": "u", "roles": ["admin"], "iss": "switchyard-user", "aud": "switchyard",
                         "exp": jsonwebtoken::get_current_timestamp() + 600 });
    let forged = jsonwebtoken::encode(&header, &claims, &rogue_key).unwrap();
    assert_problem(status_with(&gw, "/api/admin", &forged).await, 401).await;
    // The configured source still serves: a real token passes.
    assert_eq!(status_with(&gw, "/api/admin", &token("a", &["admin"], |_| {})).await.status(), 200);
    assert_eq!(asked.load(Ordering::SeqCst), 0, "the rogue was never asked for its keys");
    assert!(gw.echo.jwks_fetches.load(Ordering::SeqCst) >= 1, "the configured source was");
}
