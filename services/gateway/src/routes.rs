//! The route table: which public paths exist, where each goes, and what it
//! takes to use it. Loaded from configuration (`deploy/gateway/routes.json`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct RouteTable {
    pub routes: Vec<Route>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Route {
    /// Names the route in the table, in errors and on the API page.
    pub name: String,
    /// An axum path pattern: `/api/users/{*rest}`.
    pub path: String,
    pub methods: Vec<String>,
    /// The service name in discovery.
    pub service: String,
    /// The upstream path; `{rest}` (or any capture) is filled from `path`.
    pub rewrite: String,
    #[serde(default)]
    pub auth: Auth,
    /// Roles of which the caller needs at least one (empty: any user).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Until the upstream's response headers arrive (default 10 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// A rate limit of this route's own, on top of the per-address and
    /// per-user ones (`rate_limit`).
    #[serde(default)]
    pub limit: Option<RouteLimit>,
}

/// `requests` per `per_secs` seconds, all usable at once: `{ "requests": 5,
/// "per_secs": 3600, "per": "address" }` is five an hour from each address.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteLimit {
    pub requests: u32,
    pub per_secs: u64,
    #[serde(default)]
    pub per: Per,
}

/// Whose requests a route limit counts together.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// The client's address (IPv6: its /64), signed in or not.
    #[default]
    Address,
    /// The signed-in user; the address for a request without a token.
    User,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// Anyone; a valid token is still read (for the rate-limit key).
    Public,
    /// A valid token is required.
    #[default]
    Required,
}

impl Route {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(10_000))
    }

    pub fn allows(&self, method: &http::Method) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method.as_str()))
    }

    /// The upstream path for the captured parameters (which axum hands
    /// over percent-decoded; they are encoded again for the upstream).
    pub fn rewrite_path(&self, captures: &BTreeMap<String, String>) -> String {
        let mut path = self.rewrite.clone();
        for (name, value) in captures {
            path = path.replace(&format!("{{{name}}}"), &encode_path(value));
        }
        path
    }
}

impl RouteTable {
    pub fn load(path: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("read route table {path}: {e}"))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let table: Self = serde_json::from_str(text)?;
        for route in &table.routes {
            anyhow::ensure!(!route.methods.is_empty(), "route {} allows no method", route.name);
            if let Some(limit) = route.limit {
                anyhow::ensure!(
                    limit.requests > 0 && limit.per_secs > 0,
                    "route {}: a limit needs requests and per_secs above 0",
                    route.name
                );
            }
            for method in &route.methods {
                http::Method::from_bytes(method.as_bytes())
                    .map_err(|_| anyhow::anyhow!("route {}: {method} is not an HTTP method", route.name))?;
            }
        }
        Ok(table)
    }

    /// Routes grouped by path pattern, in table order: one pattern may have
    /// several routes, told apart by method (public GET, admin POST).
    pub fn by_path(&self) -> Vec<(String, Vec<Route>)> {
        let mut grouped: Vec<(String, Vec<Route>)> = Vec::new();
        for route in &self.routes {
            match grouped.iter_mut().find(|(path, _)| *path == route.path) {
                Some((_, routes)) => routes.push(route.clone()),
                None => grouped.push((route.path.clone(), vec![route.clone()])),
            }
        }
        grouped
    }

    /// The public path for a path of `service`'s own, as an upstream puts
    /// it in a `Location` header (`/orders/42` → `/api/orders/42`): the
    /// route of that service whose rewrite matches it, literally or up to a
    /// trailing capture, the longest such match winning. `None` if no route
    /// leads there (the header is then passed on as it is).
    pub fn public_path(&self, service: &str, upstream: &str) -> Option<String> {
        let (path, suffix) = upstream.split_at(upstream.find(['?', '#']).unwrap_or(upstream.len()));
        self.routes
            .iter()
            .filter(|route| route.service == service)
            .filter_map(|route| match (route.rewrite.split_once('{'), route.path.split_once('{')) {
                (None, None) => (route.rewrite == path).then(|| (path.len(), route.path.clone())),
                // Only a capture at the end maps back: `/orders/{rest}`.
                (Some((upstream_prefix, capture)), Some((public_prefix, _)))
                    if capture.ends_with('}') && !capture.contains('/') && path.starts_with(upstream_prefix) =>
                {
                    Some((upstream_prefix.len(), format!("{public_prefix}{}", &path[upstream_prefix.len()..])))
                }
                _ => None,
            })
            .max_by_key(|(matched, _)| *matched)
            .map(|(_, public)| format!("{public}{suffix}"))
    }

    /// Every service the table sends traffic to.
    pub fn services(&self) -> Vec<String> {
        let mut services: Vec<String> = self.routes.iter().map(|r| r.service.clone()).collect();
        services.sort();
        services.dedup();
        services
    }
}

/// Why a request path must not be forwarded, if it must not: an encoded
/// slash or dot anywhere in it (`%2F`, `%2E`, any case), or a capture with a
/// `.` or `..` segment. Either would let a client write a path the
/// upstream resolves outside the route's rewrite (`/api/users/..%2Fmetrics`
/// reaching `/metrics`), and no legitimate capture needs one.
pub fn unsafe_path(raw_path: &str, captures: &axum::extract::RawPathParams) -> Option<&'static str> {
    let lower = raw_path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%2e") {
        return Some("encoded slashes and dots are not allowed in a path");
    }
    let dot_segment =
        captures.iter().any(|(_, value)| value.split('/').any(|segment| segment == "." || segment == ".."));
    dot_segment.then_some("dot segments (. and ..) are not allowed in a path")
}

/// Percent-encodes everything a path segment may not hold as it is
/// (RFC 3986 `pchar`), keeping `/` so multi-segment captures stay paths.
fn encode_path(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let plain = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&byte);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn captures_are_encoded_again_for_the_upstream() {
        assert_eq!(super::encode_path("a/b c/ü?#"), "a/b%20c/%C3%BC%3F%23");
    }

    #[test]
    fn upstream_paths_map_back_to_public_ones_by_the_longest_rewrite() {
        let table = super::RouteTable::parse(
            r#"{ "routes": [
              { "name": "all", "path": "/api/orders", "methods": ["GET"], "service": "order", "rewrite": "/orders" },
              { "name": "one", "path": "/api/orders/{*rest}", "methods": ["GET"], "service": "order", "rewrite": "/orders/{rest}" },
              { "name": "deep", "path": "/api/shipping/{*rest}", "methods": ["GET"], "service": "order", "rewrite": "/orders/shipping/{rest}" },
              { "name": "user", "path": "/api/users/{*rest}", "methods": ["GET"], "service": "user", "rewrite": "/users/{rest}" }
            ] }"#,
        )
        .unwrap();
        let public = |service, path| table.public_path(service, path);
        assert_eq!(public("order", "/orders/42?x=1").as_deref(), Some("/api/orders/42?x=1"));
        assert_eq!(public("order", "/orders").as_deref(), Some("/api/orders"));
        assert_eq!(public("order", "/orders/shipping/7").as_deref(), Some("/api/shipping/7"));
        assert_eq!(public("order", "/users/1"), None, "another service's path is not this one's to map");
        assert_eq!(public("order", "/elsewhere"), None);
    }
}
