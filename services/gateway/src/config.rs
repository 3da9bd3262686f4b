//! The gateway's settings, from `GATEWAY_*` environment variables.
//!
//! | variable | default |
//! |---|---|
//! | `GATEWAY_HOST` / `GATEWAY_PORT` | `0.0.0.0` / `8080` |
//! | `GATEWAY_METRICS_HOST` / `GATEWAY_METRICS_PORT` | `127.0.0.1` / `7080`: the internal listener, the only one serving `/metrics` |
//! | `GATEWAY_ROUTES_FILE` | `deploy/gateway/routes.json` |
//! | `GATEWAY_AUTH__*` | as every service's (`comms::auth::AuthSettings`): its own key, which signs the token it sends on public routes; the service keys; the issuer, audience and source of user-token keys |
//! | `GATEWAY_RATE_PER_SECOND` / `GATEWAY_RATE_BURST` | `20` / `40`: each signed-in user's requests |
//! | `GATEWAY_ADDRESS_RATE_PER_SECOND` / `GATEWAY_ADDRESS_RATE_BURST` | `50` / `100`: each address's (IPv6: each /64's) requests, signed in or not |
//! | `GATEWAY_TRUSTED_PROXIES` | empty: comma-separated addresses or blocks whose `X-Forwarded-For` names the client |
//! | `GATEWAY_PROFILE` | `default`; `local` raises the per-address limits for a loopback-only machine (`profile`) |
//! | `GATEWAY_BODY_LIMIT_BYTES` | `67108864` (64 MiB) |
//! | `GATEWAY_SOCKET_BUFFER_BYTES` | unset (kernel autotuning) |
//! | `GATEWAY_UPSTREAM_MAX_CONCURRENT` | `512` calls in flight per upstream service; one more is a 503 |
//! | `GATEWAY_RETRY_MAX_ATTEMPTS` | `3` (attempts in all, for a GET that may be sent again) |
//! | `GATEWAY_RETRY_BUDGET_RATIO` / `GATEWAY_RETRY_BUDGET_MIN_PER_SEC` | `0.2` / `5`: retries per upstream over 10 s |
//! | `GATEWAY_BREAKER_FAILURE_RATIO` / `GATEWAY_BREAKER_MIN_THROUGHPUT` / `GATEWAY_BREAKER_BREAK_SECS` | `0.5` / `20` / `5` |
//! | `GATEWAY_SHUTDOWN_GRACE_SECS` | `20` |
//! | `GATEWAY_PROBLEM_TYPE_BASE` | `/problems/`: where each problem's `type` starts (an absolute URI or a path from the root) |
//! | `GATEWAY_CONNECTIONS__*` | as every service's (`comms::http::ConnectionLimits`: header read 10 s, idle 30 s, 16 KiB of headers, 100 HTTP/2 streams), but `GATEWAY_CONNECTIONS__MAX_CONNECTIONS` is `4096` |
//! | `GATEWAY_DISCOVERY` | unset: `consul` when `GATEWAY_CONSUL_URL` is set, else `static`; `dns` under Kubernetes (docs/kubernetes.md); anything else is refused at start |
//! | `GATEWAY_CONSUL_URL` | unset: static upstreams from `GATEWAY_UPSTREAMS` |
//! | `GATEWAY_UPSTREAMS` | e.g. `user=127.0.0.1:8081;order=127.0.0.1:8082` |
//! | `GATEWAY_DNS_DOMAIN`, `GATEWAY_DNS_INTERVAL_SECS`, `GATEWAY_DNS_SERVER` | `dns` discovery: unset (the pod's search list), 5, unset (the system's resolver) (docs/patterns/discovery.md) |

use std::time::Duration;

use comms::auth::{AccessTable, AuthSettings};
use comms::http::ConnectionLimits;
use comms::resilience::{BreakerConfig, RetryConfig};
use comms::settings::{ServiceDefaults, ServiceSettings};
use serde::{Deserialize, Serialize};

use crate::rate_limit::Rates;
use crate::trusted_proxies::TrustedProxies;

/// A named set of raised limits (`profile`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The safe defaults.
    #[default]
    Default,
    /// Per-address limits raised for a machine whose every client is
    /// 127.0.0.1.
    Local,
}

/// Who the gateway is: no database, no broker, no gRPC. Its listener's
/// variables keep their own names (`GATEWAY_PORT`), so it has a settings
/// struct of its own rather than the services' shared one. Its access
/// table is empty: it checks its callers against its route table instead.
pub const GATEWAY: ServiceDefaults =
    ServiceDefaults::new("gateway", "GATEWAY_", &AccessTable::new(&[])).ports(8080, None, 7080);

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// The internal listener for `/metrics` (loopback unless set).
    pub metrics_host: String,
    pub metrics_port: u16,
    pub routes_file: String,
    /// Its credential, and where user tokens' keys come from.
    pub auth: AuthSettings,
    /// Per signed-in user.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Per address, however many users it signs in as.
    pub address_rate_per_second: u32,
    pub address_rate_burst: u32,
    /// Proxies in front of the gateway whose `X-Forwarded-For` is believed
    /// (comma-separated addresses and blocks; none by default).
    pub trusted_proxies: String,
    /// Where every problem `type` URI starts.
    pub problem_type_base: String,
    pub profile: Profile,
    pub body_limit_bytes: usize,
    pub shutdown_grace_secs: u64,
    /// Kernel send/receive buffer size for every socket the gateway opens
    /// (unset: the kernel's autotuning). Small buffers bound how much a
    /// slow peer can leave parked inside the gateway's host.
    pub socket_buffer_bytes: Option<u32>,
    pub upstream_max_concurrent: usize,
    pub retry_max_attempts: u32,
    pub retry_budget_ratio: f64,
    pub retry_budget_min_per_sec: u32,
    pub breaker_failure_ratio: f64,
    pub breaker_min_throughput: u32,
    pub breaker_break_secs: u64,
    pub connections: ConnectionLimits,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: GATEWAY.http_port,
            metrics_host: "127.0.0.1".into(),
            metrics_port: GATEWAY.metrics_port,
            routes_file: "deploy/gateway/routes.json".into(),
            auth: AuthSettings::default(),
            rate_per_second: 20,
            rate_burst: 40,
            // Room for a few people behind one NAT, not for a crowd: an
            // operator who serves offices or mobile carriers raises it.
            address_rate_per_second: 50,
            address_rate_burst: 100,
            trusted_proxies: String::new(),
            problem_type_base: comms::http::problem::DEFAULT_TYPE_BASE.to_owned(),
            profile: Profile::Default,
            body_limit_bytes: 64 * 1024 * 1024,
            shutdown_grace_secs: 20,
            socket_buffer_bytes: None,
            // Far above what one instance of a service here takes at once
            // (figure 1 of docs/performance.md peaks at 32 connections), so
            // only a runaway backlog meets it.
            upstream_max_concurrent: 512,
            retry_max_attempts: RetryConfig::default().max_attempts,
            retry_budget_ratio: RetryConfig::default().budget_ratio,
            retry_budget_min_per_sec: RetryConfig::default().budget_min_per_sec,
            breaker_failure_ratio: BreakerConfig::default().failure_ratio,
            breaker_min_throughput: BreakerConfig::default().min_throughput,
            breaker_break_secs: BreakerConfig::default().break_duration.as_secs(),
            // The edge holds every client's connection; a service holds
            // only the gateway's and its peers'.
            connections: ConnectionLimits::with_max_connections(4096),
            discovery: Default::default(),
        }
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let settings: Self = comms::settings::load(Self::default(), GATEWAY.prefix)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses a limit that would switch a protection off (0) or means
    /// nothing (a ratio outside its range), naming the variable. Negative
    /// values do not parse into these types at all.
    pub fn validate(&self) -> anyhow::Result<()> {
        let name = |field: &str| format!("{}{}", GATEWAY.prefix, field.to_uppercase());
        for (field, value) in [
            ("rate_per_second", u64::from(self.rate_per_second)),
            ("rate_burst", u64::from(self.rate_burst)),
            ("address_rate_per_second", u64::from(self.address_rate_per_second)),
            ("address_rate_burst", u64::from(self.address_rate_burst)),
            ("body_limit_bytes", self.body_limit_bytes as u64),
            ("upstream_max_concurrent", self.upstream_max_concurrent as u64),
            ("retry_max_attempts", u64::from(self.retry_max_attempts)),
            ("breaker_min_throughput", u64::from(self.breaker_min_throughput)),
            ("breaker_break_secs", self.breaker_break_secs),
        ] {
            anyhow::ensure!(value > 0, "{} must be above 0: 0 would switch the limit off", name(field));
        }
        anyhow::ensure!(
            self.breaker_failure_ratio > 0.0 && self.breaker_failure_ratio <= 1.0,
            "{} must be above 0 and at most 1",
            name("breaker_failure_ratio")
        );
        anyhow::ensure!(
            self.retry_budget_ratio >= 0.0 && self.retry_budget_ratio <= 1.0,
            "{} must be from 0 to 1",
            name("retry_budget_ratio")
        );
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("{}: {e}", name("trusted_proxies")))?;
        comms::http::problem::check_type_base(&self.problem_type_base)
            .map_err(|e| anyhow::anyhow!("{}: {e}", name("problem_type_base")))?;
        self.discovery.validate(GATEWAY.prefix)?;
        self.connections.validate(GATEWAY.prefix)
    }

    /// The per-address and per-user rates.
    pub(crate) fn rates(&self) -> Rates {
        Rates {
            address_per_second: self.address_rate_per_second,
            address_burst: self.address_rate_burst,
            user_per_second: self.rate_per_second,
            user_burst: self.rate_burst,
        }
    }

    /// Every variable it reads (`gateway settings-keys`).
    pub fn keys() -> anyhow::Result<Vec<String>> {
        let mut keys = comms::settings::keys_of(&Self::default(), GATEWAY.prefix)?;
        keys.extend(comms::settings::TELEMETRY_KEYS.iter().map(|k| (*k).to_owned()));
        keys.sort();
        Ok(keys)
    }

    /// Every limit (rates, body, upstream calls, retries, breaker,
    /// connections) set to other than its default, as its variable and the
    /// value in use: logged at start, so what an exposed gateway runs with
    /// is on record.
    pub fn changed_limits(&self) -> Vec<(String, String)> {
        const LIMITS: &[&str] = &[
            "rate_per_second",
            "rate_burst",
            "address_rate_per_second",
            "address_rate_burst",
            "body_limit_bytes",
            "upstream_max_concurrent",
            "retry_max_attempts",
            "retry_budget_ratio",
            "retry_budget_min_per_sec",
            "breaker_failure_ratio",
            "breaker_min_throughput",
            "breaker_break_secs",
            "connections",
        ];
        let leaves = |settings: &Self| {
            let value = serde_json::to_value(settings).unwrap_or_default();
            let mut leaves = std::collections::BTreeMap::new();
            for field in LIMITS {
                match &value[*field] {
                    serde_json::Value::Object(nested) => {
                        for (name, leaf) in nested {
                            leaves.insert(format!("{field}__{name}"), leaf.to_string());
                        }
                    }
                    leaf => {
                        leaves.insert((*field).to_owned(), leaf.to_string());
                    }
                }
            }
            leaves
        };
        let defaults = leaves(&Self::default());
        leaves(self)
            .into_iter()
            .filter(|(field, value)| defaults.get(field) != Some(value))
            .map(|(field, value)| (format!("{}{}", GATEWAY.prefix, field.to_uppercase()), value))
            .collect()
    }

    /// How hard the gateway leans on each upstream.
    pub(crate) fn resilience(&self) -> crate::proxy::Resilience {
        crate::proxy::Resilience {
            breaker: BreakerConfig {
                failure_ratio: self.breaker_failure_ratio,
                min_throughput: self.breaker_min_throughput,
                break_duration: Duration::from_secs(self.breaker_break_secs),
                ..BreakerConfig::default()
            },
            max_concurrent: self.upstream_max_concurrent,
            retry: RetryConfig {
                max_attempts: self.retry_max_attempts.max(1),
                budget_ratio: self.retry_budget_ratio,
                budget_min_per_sec: self.retry_budget_min_per_sec,
                ..RetryConfig::default()
            },
        }
    }

    /// The part the service skeleton reads.
    pub fn service(&self) -> ServiceSettings {
        let mut service = ServiceSettings::defaults(&GATEWAY);
        service.host.clone_from(&self.host);
        service.http_port = self.port;
        service.metrics_host.clone_from(&self.metrics_host);
        service.metrics_port = self.metrics_port;
        service.shutdown_grace_secs = self.shutdown_grace_secs;
        service.connections = self.connections;
        service.discovery = self.discovery.clone();
        service.auth = self.auth.clone();
        service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_limits_off_their_default_are_named_by_variable() {
        assert!(Settings::default().changed_limits().is_empty());
        let settings = Settings {
            rate_per_second: 5,
            connections: ConnectionLimits { max_connections: 10, ..Settings::default().connections },
            port: 9999, // not a limit
            ..Settings::default()
        };
        assert_eq!(
            settings.changed_limits(),
            vec![
                ("GATEWAY_CONNECTIONS__MAX_CONNECTIONS".to_owned(), "10".to_owned()),
                ("GATEWAY_RATE_PER_SECOND".to_owned(), "5".to_owned()),
            ]
        );
        assert_eq!(Settings::default().connections.max_connections, 4096, "the edge's own default cap");
    }

    #[test]
    fn each_invalid_limit_is_refused_at_start_by_its_variable() {
        Settings::default().validate().unwrap();
        let refused = |settings: Settings, variable: &str| {
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
        };
        let ok = Settings::default;
        refused(Settings { rate_per_second: 0, ..ok() }, "GATEWAY_RATE_PER_SECOND");
        refused(Settings { rate_burst: 0, ..ok() }, "GATEWAY_RATE_BURST");
        refused(Settings { address_rate_per_second: 0, ..ok() }, "GATEWAY_ADDRESS_RATE_PER_SECOND");
        refused(Settings { address_rate_burst: 0, ..ok() }, "GATEWAY_ADDRESS_RATE_BURST");
        refused(Settings { trusted_proxies: "10.0.0.0/40".into(), ..ok() }, "GATEWAY_TRUSTED_PROXIES");
        refused(Settings { problem_type_base: "problems/".into(), ..ok() }, "GATEWAY_PROBLEM_TYPE_BASE");
        refused(Settings { body_limit_bytes: 0, ..ok() }, "GATEWAY_BODY_LIMIT_BYTES");
        refused(Settings { upstream_max_concurrent: 0, ..ok() }, "GATEWAY_UPSTREAM_MAX_CONCURRENT");
        refused(Settings { retry_max_attempts: 0, ..ok() }, "GATEWAY_RETRY_MAX_ATTEMPTS");
        refused(Settings { breaker_min_throughput: 0, ..ok() }, "GATEWAY_BREAKER_MIN_THROUGHPUT");
        refused(Settings { breaker_break_secs: 0, ..ok() }, "GATEWAY_BREAKER_BREAK_SECS");
        refused(Settings { breaker_failure_ratio: 0.0, ..ok() }, "GATEWAY_BREAKER_FAILURE_RATIO");
        refused(Settings { breaker_failure_ratio: 1.5, ..ok() }, "GATEWAY_BREAKER_FAILURE_RATIO");
        refused(Settings { retry_budget_ratio: -0.1, ..ok() }, "GATEWAY_RETRY_BUDGET_RATIO");
        let connections = ConnectionLimits { idle_timeout_secs: 0, ..ok().connections };
        refused(Settings { connections, ..ok() }, "GATEWAY_CONNECTIONS__IDLE_TIMEOUT_SECS");
    }
}
