//! The request path through the gateway, in order: route by path and
//! method, identify the caller, rate-limit, authorize, rewrite, forward.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use comms::auth::{Principal, ServiceIdentity, Verifier};
use comms::error::ErrorKind;
use comms::http::Problem;
use comms::http::caller::Caller;
use comms::http::client_address::network;
use http::header::{self, HeaderValue};
use http_body_util::Limited;

use crate::client::HttpClient;
use crate::proxy::{self, Upstream};
use crate::rate_limit::RateLimits;
use crate::routes::{Auth, Route, RouteTable};
use crate::trusted_proxies::TrustedProxies;

pub struct Gateway {
    pub upstreams: HashMap<String, Upstream>,
    /// For mapping upstream paths in `Location` back to public ones.
    pub table: RouteTable,
    pub verifier: Verifier,
    /// The gateway's own credential: public routes reach services under it.
    pub identity: Arc<ServiceIdentity>,
    pub limits: Arc<RateLimits>,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    pub client: HttpClient,
    pub body_limit: usize,
}

/// One axum route per path pattern in the table.
pub fn router(gateway: Arc<Gateway>, table: &RouteTable) -> Router {
    let mut router = Router::new();
    for (path, routes) in table.by_path() {
        let routes = Arc::new(routes);
        router = router.route(
            &path,
            any(
                move |state: State<Arc<Gateway>>,
                      client: ConnectInfo<SocketAddr>,
                      params: RawPathParams,
                      request: Request| { handle(state, client, params, routes.clone(), request) },
            ),
        );
    }
    router.with_state(gateway)
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    params: RawPathParams,
    routes: Arc<Vec<Route>>,
    request: Request,
) -> Response {
    let Some(route) = routes.iter().find(|r| r.allows(request.method())) else {
        return method_not_allowed(&routes);
    };
    if let Some(reason) = crate::routes::unsafe_path(request.uri().path(), &params) {
        return Problem::new(ErrorKind::BadRequest).detail(reason).into_response();
    }
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let identity = gateway.verifier.verify(authorization).await;

    // Every request counts against its address; one with a good token
    // against its user as well. A bad token counts as no token.
    let client = gateway.trusted_proxies.client(peer.ip(), request.headers());
    let user = match &identity {
        Ok(Principal::User(caller)) => Some(caller.user_id.to_string()),
        _ => None,
    };
    if let Err(refused) = gateway.limits.check(route, &network(client), user.as_deref()) {
        metrics::counter!("gateway_rate_limited_total", "route" => route.name.clone()).increment(1);
        return Problem::new(ErrorKind::RateLimited)
            .detail(format!("slow down: {} is used up", refused.limit))
            .retry_after(refused.wait)
            .into_response();
    }

    let caller = match (route.auth, identity) {
        (_, Ok(Principal::User(caller))) => Some(caller),
        // The gateway knows no service keys: no service token verifies here.
        (_, Ok(Principal::Service(_))) => None,
        // A stale token must not stop anyone from logging in again.
        (Auth::Public, Err(_)) => None,
        (Auth::Required, Err(error)) => return error.into_response(),
    };
    if !route.roles.is_empty() && !caller.as_ref().is_some_and(|c| has_any_role(c, &route.roles)) {
        return Problem::new(ErrorKind::Forbidden)
            .detail(format!("this needs one of the roles: {}", route.roles.join(", ")))
            .into_response();
    }
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > gateway.body_limit);
    if too_large {
        return Problem::new(ErrorKind::PayloadTooLarge)
            .detail(format!("bodies are limited to {} bytes", gateway.body_limit))
            .into_response();
    }
    let Some(upstream) = gateway.upstreams.get(&route.service) else {
        return Problem::internal(format!("route {} names an unknown service {}", route.name, route.service))
            .into_response();
    };

    let captures: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let (mut parts, body) = request.into_parts();
    let path = route.rewrite_path(&captures);
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    parts.uri = match path_and_query.parse() {
        Ok(uri) => uri,
        Err(_) => return Problem::new(ErrorKind::BadRequest).detail("the path cannot be forwarded").into_response(),
    };
    // A signed-in route passes the user's own token on; a public one goes
    // under the gateway's identity, whoever the client is.
    let identity = match route.auth {
        Auth::Required => None,
        Auth::Public => Some(gateway.identity.token_for(&route.service)),
    };
    crate::headers::for_upstream(&mut parts.headers, identity.as_deref(), peer.ip(), client);
    // Chunked bodies have no length up front: enforce the limit as they flow.
    let body = Body::new(Limited::new(body, gateway.body_limit));
    let mut response = proxy::forward(&gateway.client, upstream, route, Request::from_parts(parts, body)).await;
    public_location(&gateway.table, &route.service, response.headers_mut());
    response
}

/// A `Location` the upstream gave in its own paths (`/orders/42` after a
/// create) would send the client to a path the gateway does not serve;
/// it is mapped back through the route table. Absolute URLs, and paths no
/// route leads to, are left as they are.
fn public_location(table: &RouteTable, service: &str, headers: &mut http::HeaderMap) {
    let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else { return };
    if !location.starts_with('/') || location.starts_with("//") {
        return;
    }
    if let Some(public) = table.public_path(service, location)
        && let Ok(value) = HeaderValue::from_str(&public)
    {
        headers.insert(header::LOCATION, value);
    }
}

fn has_any_role(caller: &Caller, roles: &[String]) -> bool {
    caller.roles.iter().any(|r| roles.contains(r))
}

fn method_not_allowed(routes: &[Route]) -> Response {
    let mut methods: Vec<String> = routes.iter().flat_map(|r| r.methods.iter().map(|m| m.to_uppercase())).collect();
    methods.sort();
    methods.dedup();
    let mut response =
        Problem::new(ErrorKind::MethodNotAllowed).detail("this path does not accept this method").into_response();
    if let Ok(allow) = HeaderValue::from_str(&methods.join(", ")) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}
