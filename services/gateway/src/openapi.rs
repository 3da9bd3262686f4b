//! The public API's OpenAPI document, assembled from the services' own.
//!
//! Each service documents its paths as it serves them (`/users/{id}`); the
//! gateway fetches those documents through discovery, keeps the operations
//! its route table exposes, rewrites each path to the public one
//! (`/api/users/{id}`), and marks routes that need a token. A route whose
//! service cannot be reached is still listed, with a note, so the document
//! always covers the whole table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::proxy::Upstream;
use crate::routes::{Auth, Route, RouteTable};

/// Fetches every service's document and builds the gateway's.
pub async fn aggregate(table: &RouteTable, upstreams: &HashMap<String, Upstream>, http: &reqwest::Client) -> Value {
    let mut documents = HashMap::new();
    for service in table.services() {
        let Some(instance) = upstreams.get(&service).and_then(|u| u.balancer.instances().into_iter().next()) else {
            continue;
        };
        let url = format!("http://{}/openapi.json", instance.address);
        let fetched = async {
            http.get(&url).timeout(Duration::from_secs(3)).send().await?.error_for_status()?.json::<Value>().await
        };
        match fetched.await {
            Ok(document) => {
                documents.insert(service, document);
            }
            Err(error) => tracing::warn!(%service, %error, "cannot fetch a service's OpenAPI document"),
        }
    }
    build(table, &documents)
}

/// The pure part: route table + service documents → public document.
pub fn build(table: &RouteTable, documents: &HashMap<String, Value>) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for route in &table.routes {
        let public_methods: Vec<String> = route.methods.iter().map(|m| m.to_lowercase()).collect();
        let mut found = false;
        if let Some(document) = documents.get(&route.service) {
            if let Some(components) = document.pointer("/components/schemas").and_then(Value::as_object) {
                for (name, schema) in components {
                    schemas.entry(name.clone()).or_insert_with(|| schema.clone());
                }
            }
            for (upstream_path, item) in document.get("paths").and_then(Value::as_object).into_iter().flatten() {
                let Some(public_path) = public_path(route, upstream_path) else { continue };
                for (method, operation) in item.as_object().into_iter().flatten() {
                    if !public_methods.contains(method) {
                        continue;
                    }
                    let entry = paths.entry(public_path.clone()).or_insert_with(|| json!({}));
                    entry[method] = decorate(operation.clone(), route);
                    found = true;
                }
            }
        }
        if !found {
            // Listed anyway: the table is the contract, whatever is up.
            let path = openapi_path(&route.path);
            // Every template variable must be declared as a path parameter.
            let parameters: Vec<Value> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}'))
                .map(
                    |(name, _)| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }),
                )
                .collect();
            let entry = paths.entry(path).or_insert_with(|| json!({}));
            for method in &public_methods {
                if entry.get(method).is_none() {
                    entry[method] = decorate(
                        json!({
                            "summary": format!("{} (documentation unavailable)", route.name),
                            "description": format!("Served by the {} service, whose own document could not be loaded.", route.service),
                            "parameters": parameters,
                            "responses": { "default": { "description": "the service's answer" } },
                        }),
                        route,
                    );
                }
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "switchyard public API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Every route the gateway serves. Sign in with POST /api/auth/login and send the token as `Authorization: Bearer <token>`." },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
        },
    })
}

/// Adds what the gateway itself contributes to an operation.
fn decorate(mut operation: Value, route: &Route) -> Value {
    operation["tags"] = json!([route.service]);
    operation["operationId"] = Value::Null;
    if let Some(object) = operation.as_object_mut() {
        object.remove("operationId");
    }
    let responses = operation["responses"].as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut responses = responses;
    let problem =
        json!({ "description": "problem+json from the gateway", "content": { "application/problem+json": {} } });
    for status in ["429", "502", "503", "504"] {
        responses.entry(status.to_owned()).or_insert_with(|| problem.clone());
    }
    if route.auth == Auth::Required {
        operation["security"] = json!([{ "bearer": [] }]);
        responses.entry("401".to_owned()).or_insert_with(|| problem.clone());
        if !route.roles.is_empty() {
            responses.entry("403".to_owned()).or_insert_with(|| problem.clone());
        }
    }
    operation["responses"] = Value::Object(responses);
    operation
}

/// The public path for an upstream path this route serves, if it does.
fn public_path(route: &Route, upstream_path: &str) -> Option<String> {
    match (route.rewrite.split_once("{rest}"), route.path.split_once("{*rest}")) {
        (Some((upstream_prefix, _)), Some((public_prefix, _))) => {
            let rest = upstream_path.strip_prefix(upstream_prefix)?;
            (!rest.is_empty()).then(|| format!("{public_prefix}{rest}"))
        }
        _ => (upstream_path == route.rewrite).then(|| route.path.clone()),
    }
}

/// An axum pattern as an OpenAPI path template (`{*rest}` → `{rest}`).
fn openapi_path(pattern: &str) -> String {
    pattern.replace("{*", "{")
}

/// Serves the document, rebuilt at most every 30 s.
pub struct Cached {
    value: tokio::sync::Mutex<Option<(tokio::time::Instant, Arc<Value>)>>,
}

impl Default for Cached {
    fn default() -> Self {
        Self { value: tokio::sync::Mutex::new(None) }
    }
}

impl Cached {
    pub async fn get(&self, build: impl std::future::Future<Output = Value>) -> Arc<Value> {
        let mut cached = self.value.lock().await;
        if let Some((at, value)) = cached.as_ref()
            && at.elapsed() < Duration::from_secs(30)
        {
            return value.clone();
        }
        let value = Arc::new(build.await);
        *cached = Some((tokio::time::Instant::now(), value.clone()));
        value
    }
}
