//! Header rules: what the gateway removes from a request before it goes
//! upstream, and what it adds.

use std::net::IpAddr;

use comms::http::client_address::CLIENT_ADDRESS_HEADER;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Connection-level headers (RFC 9110, section 7.6.1) apply to one hop and
/// are never forwarded. Typed names, not strings: removing by a string
/// parses and hashes it again on every request.
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too. Most requests have
    // none (HTTP/1.1 keeps connections alive by default), so this is only
    // paid for when one is present.
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Prepares a request's headers for an upstream service. `service_token`
/// replaces the client's credentials (a public route); without it the
/// client's verified `Authorization` goes on as it came, for the service to
/// verify again. `peer` is who connected; `client` who the request is for
/// (the same, unless the peer is a trusted proxy).
pub fn for_upstream(headers: &mut HeaderMap, service_token: Option<&str>, peer: IpAddr, client: IpAddr) {
    strip_hop_by_hop(headers);
    // No header names a caller: services read only verified tokens, and
    // these never leave the gateway, so no upstream can be misled by them.
    let spoofable: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with("x-user-")).cloned().collect();
    for name in spoofable {
        headers.remove(name);
    }
    headers.remove(header::COOKIE);
    if let Some(token) = service_token {
        headers.remove(header::AUTHORIZATION);
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {peer}"),
        None => peer.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert("x-forwarded-for", value);
    }
    // The client as the gateway determined it, which services believe from
    // the gateway's token alone (`comms::http::client_address`). Inserting
    // replaces whatever the client sent under the same name.
    if let Ok(value) = HeaderValue::from_str(&client.to_string()) {
        headers.insert(CLIENT_ADDRESS_HEADER, value);
    }
    // The upstream's parent is the gateway's span (which itself continues
    // the client's trace), never a span the client made up.
    headers.remove("traceparent");
    headers.remove("tracestate");
    comms::telemetry::inject_http(headers);
}

/// Cleans an upstream response before it goes back to the client.
pub fn for_client(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
}
