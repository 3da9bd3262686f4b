//! Consul over its HTTP API: a thin client of our own (three endpoints).
//!
//! Watching uses blocking queries on `/v1/health/service/{name}?passing`,
//! following the rules in Consul's documentation for them:
//!
//! - the `X-Consul-Index` of each answer is the `index` of the next query;
//! - if the index goes backwards (a server restored a snapshot, a leader
//!   changed), start over from 0 rather than wait for an index that may
//!   never come;
//! - an index of 0 is a Consul bug that makes blocking queries return at
//!   once; treat it as 1 so the next query blocks;
//! - never loop faster than [`ConsulRegistry::min_interval`] (default
//!   100 ms), whatever Consul answers: a bug on its side must not become a
//!   request storm from every client;
//! - on errors, back off (250 ms doubling to 10 s) and keep publishing the
//!   last known good set: a Consul outage must not empty every load
//!   balancer in the system.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use super::watches::{Watches, publish};
use super::{CheckKind, DiscoveryError, Instance, Registration, ServiceRegistry};

#[derive(Clone, Debug)]
pub struct ConsulRegistry {
    http: reqwest::Client,
    base: String,
    /// How long Consul may hold a blocking query (default 30 s).
    pub wait: Duration,
    pub min_interval: Duration,
    watches: Watches,
}

impl ConsulRegistry {
    /// `base` is the agent's HTTP address, e.g. `http://consul:8500`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_owned(),
            wait: Duration::from_secs(30),
            min_interval: Duration::from_millis(100),
            watches: Watches::default(),
        }
    }

    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// One (possibly blocking) health query: the passing instances and the
    /// index to block on next.
    async fn query(&self, service: &str, index: u64) -> Result<(Vec<Instance>, u64), DiscoveryError> {
        let url = format!("{}/v1/health/service/{service}", self.base);
        let mut request = self.http.get(&url).query(&[("passing", "1")]);
        if index > 0 {
            let wait = format!("{}ms", self.wait.as_millis());
            request = request.query(&[("index", index.to_string()), ("wait", wait)]);
        }
        // Consul adds up to wait/16 of jitter to a blocking query.
        let response = request
            .timeout(self.wait + self.wait / 16 + Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(DiscoveryError::Rejected(format!("GET {url}: {}", response.status())));
        }
        let index = response
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let entries: Vec<HealthEntry> = response.json().await.map_err(|e| DiscoveryError::Rejected(e.to_string()))?;
        Ok((entries.into_iter().map(HealthEntry::into_instance).collect(), index))
    }

    async fn put(&self, path: &str, body: Option<serde_json::Value>) -> Result<(), DiscoveryError> {
        let mut request = self.http.put(format!("{}{path}", self.base)).timeout(Duration::from_secs(5));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            Err(DiscoveryError::Rejected(format!("PUT {path}: {status} {}", response.text().await.unwrap_or_default())))
        }
    }
}

async fn watch_loop(registry: ConsulRegistry, service: String, tx: watch::Sender<Vec<Instance>>) {
    let mut index = 0u64;
    let mut failures = 0u32;
    while !tx.is_closed() {
        let started = tokio::time::Instant::now();
        match registry.query(&service, index).await {
            Ok((instances, next)) => {
                failures = 0;
                publish(&tx, &service, instances);
                index = match next {
                    n if n < index => 0,
                    0 => 1,
                    n => n,
                };
            }
            Err(error) => {
                failures += 1;
                let backoff =
                    Duration::from_millis(250).saturating_mul(1 << (failures - 1).min(6)).min(Duration::from_secs(10));
                tracing::warn!(service = %service, %error, retry_in_ms = backoff.as_millis() as u64, "consul watch failed; keeping last known instances");
                tokio::time::sleep(backoff).await;
                continue;
            }
        }
        let elapsed = started.elapsed();
        if elapsed < registry.min_interval {
            tokio::time::sleep(registry.min_interval - elapsed).await;
        }
    }
}

impl ServiceRegistry for ConsulRegistry {
    fn register<'a>(&'a self, r: &'a Registration) -> BoxFuture<'a, Result<(), DiscoveryError>> {
        let go = |d: Duration| format!("{}ms", d.as_millis());
        let mut check = json!({
            "Interval": go(r.check.interval),
            "Timeout": go(r.check.timeout),
            "DeregisterCriticalServiceAfter": go(r.check.deregister_critical_after),
        });
        match &r.check.kind {
            CheckKind::Http(url) => check["HTTP"] = json!(url),
            CheckKind::Grpc { address, service } => {
                check["GRPC"] = json!(format!("{address}/{service}"));
                check["GRPCUseTLS"] = json!(false);
            }
        }
        let body = json!({
            "ID": r.id, "Name": r.name, "Address": r.host, "Port": r.port,
            "Tags": r.tags, "Meta": r.meta, "Check": check,
        });
        Box::pin(self.put("/v1/agent/service/register", Some(body)))
    }

    /// `GET /v1/agent/service/{id}`: 200 while the agent has it, 404 once
    /// it does not.
    fn is_registered<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<bool, DiscoveryError>> {
        Box::pin(async move {
            let url = format!("{}/v1/agent/service/{instance_id}", self.base);
            let response = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
            match response.status() {
                status if status.is_success() => Ok(true),
                reqwest::StatusCode::NOT_FOUND => Ok(false),
                status => Err(DiscoveryError::Rejected(format!("GET {url}: {status}"))),
            }
        })
    }

    fn deregister<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<(), DiscoveryError>> {
        Box::pin(async move { self.put(&format!("/v1/agent/service/deregister/{instance_id}"), None).await })
    }

    fn discover<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<Vec<Instance>, DiscoveryError>> {
        Box::pin(async move { self.query(service, 0).await.map(|(instances, _)| instances) })
    }

    fn watch(&self, service: &str) -> watch::Receiver<Vec<Instance>> {
        self.watches.subscribe(service, |tx| watch_loop(self.clone(), service.to_owned(), tx))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthEntry {
    node: NodeEntry,
    service: ServiceEntry,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeEntry {
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceEntry {
    #[serde(rename = "ID")]
    id: String,
    service: String,
    #[serde(default)]
    address: String,
    port: u16,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    meta: Option<HashMap<String, String>>,
}

impl HealthEntry {
    fn into_instance(self) -> Instance {
        // An empty service address means "the node's address" in Consul.
        let host = if self.service.address.is_empty() { self.node.address } else { self.service.address };
        let mut meta: Vec<(String, String)> = self.service.meta.unwrap_or_default().into_iter().collect();
        meta.sort();
        Instance {
            id: self.service.id,
            service: self.service.service,
            address: format!("{host}:{}", self.service.port),
            tags: self.service.tags.unwrap_or_default(),
            meta,
        }
    }
}
