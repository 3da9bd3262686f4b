//! Typed settings from environment variables (twelve-factor).
//!
//! Every service reads the same shared variables under its own prefix
//! (`USER_`, `ORDER_`, ...), so one shell can hold the settings of every
//! service without collisions: [`ServiceSettings`] (listeners, database,
//! shutdown grace, discovery) with defaults from the service's one
//! [`ServiceDefaults`] constant, and the broker's unprefixed variables.
//! What only one service reads is its own struct beside them, with its
//! defaults in its `Default` impl ([`Settings`]).
//!
//! A malformed variable stops start-up with the variable's name, not a
//! panic deep inside the service.

use figment::Figment;
use figment::providers::{Env, Serialized};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::{AccessTable, AuthSettings};
use crate::discovery::DiscoverySettings;
use crate::http::ConnectionLimits;
use crate::long_streams::StreamLimits;
use crate::messaging::settings::BrokerSettings;

/// Variables read by the telemetry set-up of every binary.
pub const TELEMETRY_KEYS: &[&str] = &["OTEL_EXPORTER_OTLP_ENDPOINT", "RUST_LOG"];

/// Variables of the broker choice, shared by every service that publishes or
/// consumes (unprefixed: one system, one broker).
pub const BROKER_KEYS: &[&str] = &[
    "BROKER",
    "AMQP_URL",
    "AMQP_PASSWORD_FILE",
    "KAFKA_BROKERS",
    "BROKER_NAMESPACE",
    "BROKER_QUEUE_EXPIRY_SECS",
    "BROKER_PREFETCH",
    "BROKER_RETRY_SPAN_SECS",
];

/// Who a service is and what it needs, written once per service as a
/// constant: its settings' defaults, its `settings-keys` and its start-up
/// all read from it.
#[derive(Clone, Copy, Debug)]
pub struct ServiceDefaults {
    /// The name it registers under, traces as and names its queues after.
    pub name: &'static str,
    /// The prefix of its variables, `INVENTORY_`.
    pub prefix: &'static str,
    pub http_port: u16,
    /// `None`: the service has no gRPC API (and reads no `_GRPC_PORT`).
    pub grpc_port: Option<u16>,
    /// Where `/metrics` is served: an internal listener of its own, never
    /// the public port.
    pub metrics_port: u16,
    /// The database it owns; `None`: it has none.
    pub database: Option<Database>,
    /// Whether it writes events or tasks through an outbox (a relay runs).
    pub publishes: bool,
    /// Whether it consumes from the broker.
    pub consumes: bool,
    /// Who may call each of its operations (REST and gRPC); whatever it
    /// does not list is refused.
    pub access: &'static AccessTable,
}

/// A service's own database: its default name on the local server, and the
/// migrations that make its schema, run at every start.
#[derive(Clone, Copy, Debug)]
pub struct Database {
    pub name: &'static str,
    pub migrations: &'static sqlx::migrate::Migrator,
}

impl ServiceDefaults {
    /// A service of `name` whose variables start with `prefix`, checking
    /// its callers against `access`; the builders below add the rest. A
    /// service's constant reads as one short statement:
    /// `ServiceDefaults::new("order", "ORDER_", &ACCESS).ports(8082, Some(9082), 7082)…`.
    pub const fn new(name: &'static str, prefix: &'static str, access: &'static AccessTable) -> Self {
        Self {
            name,
            prefix,
            http_port: 0,
            grpc_port: None,
            metrics_port: 0,
            database: None,
            publishes: false,
            consumes: false,
            access,
        }
    }

    /// Its default HTTP, gRPC (`None`: it serves no gRPC) and metrics ports.
    pub const fn ports(self, http: u16, grpc: Option<u16>, metrics: u16) -> Self {
        Self { http_port: http, grpc_port: grpc, metrics_port: metrics, ..self }
    }

    /// The database it owns (its default name) and the migrations it runs.
    pub const fn database(self, name: &'static str, migrations: &'static sqlx::migrate::Migrator) -> Self {
        Self { database: Some(Database { name, migrations }), ..self }
    }

    /// Whether it publishes through an outbox and whether it consumes.
    pub const fn messaging(self, publishes: bool, consumes: bool) -> Self {
        Self { publishes, consumes, ..self }
    }

    /// Whether the service connects to the broker at all.
    pub fn uses_broker(&self) -> bool {
        self.publishes || self.consumes
    }
}

/// What every service is told by its environment, under its prefix.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ServiceSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub http_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_port: Option<u16>,
    /// The internal listener for `/metrics`: loopback unless set, since
    /// metrics tell an outsider the routes, load and failures.
    pub metrics_host: String,
    /// 0 picks a free port (tests).
    pub metrics_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// The database password, read from this file, so it appears in no
    /// URL, environment listing or log (compose: from deploy/secrets.sh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_password_file: Option<String>,
    /// Also the most transactions in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_max_connections: Option<u32>,
    /// How long requests in flight may run on after shutdown starts.
    pub shutdown_grace_secs: u64,
    /// Where every problem `type` URI starts (`{PREFIX}PROBLEM_TYPE_BASE`):
    /// an absolute URI or a path from the root, ending in `/`.
    pub problem_type_base: String,
    /// What one client connection may hold (`CONNECTIONS__*`).
    pub connections: ConnectionLimits,
    /// Long streams per caller and their lifetime (`STREAMS__*`).
    pub streams: StreamLimits,
    #[serde(flatten)]
    pub discovery: DiscoverySettings,
    /// This service's credential and the keys it verifies callers with.
    pub auth: AuthSettings,
    /// Read from the unprefixed broker variables; `None` for a service
    /// that uses no broker.
    #[serde(skip)]
    pub broker: Option<BrokerSettings>,
}

impl ServiceSettings {
    /// The defaults of `service`: every interface (metrics: loopback only),
    /// its own ports, its own database on the local server as its own role (named after the
    /// database, as deploy/postgres/init.sh creates it), a 20 s drain.
    pub fn defaults(service: &ServiceDefaults) -> Self {
        Self {
            host: "0.0.0.0".into(),
            http_port: service.http_port,
            grpc_port: service.grpc_port,
            metrics_host: "127.0.0.1".into(),
            metrics_port: service.metrics_port,
            database_url: service.database.map(|db| format!("postgres://{0}@127.0.0.1:5432/{0}", db.name)),
            database_password_file: None,
            // Ten covers a service's steady load here; each replica adds
            // ten more to PostgreSQL's 100 by default.
            database_max_connections: service.database.map(|_| 10),
            shutdown_grace_secs: 20,
            problem_type_base: crate::http::problem::DEFAULT_TYPE_BASE.to_owned(),
            connections: ConnectionLimits::default(),
            streams: StreamLimits::default(),
            discovery: DiscoverySettings::default(),
            auth: AuthSettings::default(),
            broker: service.uses_broker().then(BrokerSettings::default),
        }
    }

    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_secs)
    }
}

/// The own settings of a service that has none (yet).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NoOwnSettings {}

/// A service's settings: the shared part and its own.
#[derive(Clone, Debug)]
pub struct Settings<T> {
    pub service: ServiceSettings,
    pub own: T,
}

impl<T: Serialize + DeserializeOwned + Default> Settings<T> {
    /// Reads `service`'s variables from the environment.
    pub fn from_env(service: &ServiceDefaults) -> anyhow::Result<Self> {
        let mut shared: ServiceSettings = load(ServiceSettings::defaults(service), service.prefix)?;
        if service.uses_broker() {
            shared.broker = Some(BrokerSettings::from_env()?);
        }
        if service.grpc_port.is_none() && shared.grpc_port.is_some() {
            anyhow::bail!("{}GRPC_PORT is set, but {} serves no gRPC", service.prefix, service.name);
        }
        shared.connections.validate(service.prefix)?;
        shared.streams.validate(service.prefix)?;
        shared.discovery.validate(service.prefix)?;
        crate::http::problem::check_type_base(&shared.problem_type_base)
            .map_err(|e| anyhow::anyhow!("{}PROBLEM_TYPE_BASE: {e}", service.prefix))?;
        Ok(Self { service: shared, own: load(T::default(), service.prefix)? })
    }

    /// The defaults alone, as if no variable were set (tests start here).
    pub fn defaults(service: &ServiceDefaults) -> Self {
        Self { service: ServiceSettings::defaults(service), own: T::default() }
    }

    /// Every variable the service reads, sorted: derived from the two
    /// structs themselves, so the list cannot drift from them, and a check
    /// can compare it with what compose sets (`<binary> settings-keys`).
    pub fn keys(service: &ServiceDefaults) -> Result<Vec<String>, figment::Error> {
        let mut keys = keys_of(&ServiceSettings::defaults(service), service.prefix)?;
        keys.extend(keys_of(&T::default(), service.prefix)?);
        keys.extend(TELEMETRY_KEYS.iter().map(|k| (*k).to_owned()));
        if service.database.is_some() {
            // Unset by default, so not in the defaults' serialised form.
            keys.push(format!("{}DATABASE_PASSWORD_FILE", service.prefix));
        }
        if service.uses_broker() {
            keys.extend(BROKER_KEYS.iter().map(|k| (*k).to_owned()));
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// Loads `T` from variables named `{prefix}{FIELD}` (case-insensitive) over
/// `defaults`. Nested structs use `__`: `USER_JWT__ISSUER` sets `jwt.issuer`.
pub fn load<T: Serialize + DeserializeOwned>(defaults: T, prefix: &str) -> anyhow::Result<T> {
    let base = Figment::from(Serialized::defaults(defaults));
    match base.clone().merge(Env::prefixed(prefix).split("__")).extract() {
        Ok(settings) => Ok(settings),
        Err(error) => Err(anyhow::anyhow!("{}: {error}", culprit::<T>(&base, prefix).unwrap_or_else(|| prefix.into()))),
    }
}

/// The variable that makes loading fail. Flattened structs lose the
/// field's path in serde's error, so each variable is tried on its own.
fn culprit<T: DeserializeOwned>(base: &Figment, prefix: &str) -> Option<String> {
    let names: Vec<String> =
        std::env::vars().map(|(name, _)| name).filter(|name| name.to_uppercase().starts_with(prefix)).collect();
    names.into_iter().find(|name| {
        let key = name[prefix.len()..].to_lowercase();
        let only = Env::prefixed(prefix).filter(move |k| k.as_str().eq_ignore_ascii_case(&key)).split("__");
        base.clone().merge(only).extract::<T>().is_err()
    })
}

/// The variables `value`'s type reads under `prefix`: each leaf of its
/// serialised form becomes `{prefix}{PATH}` with `__` between levels.
pub fn keys_of<T: Serialize>(value: &T, prefix: &str) -> Result<Vec<String>, figment::Error> {
    let value = serde_json::to_value(value).map_err(|e| figment::Error::from(e.to_string()))?;
    let mut keys = Vec::new();
    collect(&value, prefix.to_owned(), &mut keys);
    keys.sort();
    Ok(keys)
}

fn collect(value: &serde_json::Value, path: String, keys: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            let separator = if path.ends_with('_') || path.is_empty() { "" } else { "__" };
            for (name, field) in fields {
                collect(field, format!("{path}{separator}{}", name.to_uppercase()), keys);
            }
        }
        _ => keys.push(path),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::{Database, ServiceDefaults, Settings};

    static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    const SVC: ServiceDefaults = ServiceDefaults {
        name: "svc",
        prefix: "SVC_",
        http_port: 8089,
        grpc_port: None,
        metrics_port: 7089,
        database: Some(Database { name: "svc", migrations: &NO_MIGRATIONS }),
        publishes: false,
        consumes: false,
        access: &crate::auth::AccessTable::new(&[]),
    };

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Jwt {
        issuer: String,
        private_key_file: Option<String>,
    }

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Own {
        jwt: Jwt,
        threshold: u32,
    }

    impl Default for Own {
        fn default() -> Self {
            Self { jwt: Jwt { issuer: "me".into(), private_key_file: None }, threshold: 5 }
        }
    }

    #[test]
    fn keys_come_from_the_structs_including_nested_and_flattened_fields() {
        let keys = Settings::<Own>::keys(&SVC).unwrap();
        assert_eq!(
            keys,
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "RUST_LOG",
                "SVC_ADVERTISE_HOST",
                "SVC_AUTH__AUDIENCE",
                "SVC_AUTH__IDENTITY_KEY",
                "SVC_AUTH__IDENTITY_KEY_FILE",
                "SVC_AUTH__ISSUER",
                "SVC_AUTH__KEYS_MAX_AGE_SECS",
                "SVC_AUTH__KEYS_MIN_REFRESH_SECS",
                "SVC_AUTH__KEYS_RELOAD_SECS",
                "SVC_AUTH__SERVICE_KEYS",
                "SVC_AUTH__SERVICE_KEYS_FILE",
                "SVC_AUTH__USER_KEYS_FILE",
                "SVC_AUTH__USER_KEYS_URLS",
                "SVC_CONNECTIONS__HEADER_READ_TIMEOUT_SECS",
                "SVC_CONNECTIONS__HTTP2_MAX_STREAMS",
                "SVC_CONNECTIONS__IDLE_TIMEOUT_SECS",
                "SVC_CONNECTIONS__MAX_CONNECTIONS",
                "SVC_CONNECTIONS__MAX_HEADER_BYTES",
                "SVC_CONSUL_URL",
                "SVC_DATABASE_MAX_CONNECTIONS",
                "SVC_DATABASE_PASSWORD_FILE",
                "SVC_DATABASE_URL",
                "SVC_DEREGISTER_CRITICAL_AFTER_SECS",
                "SVC_DISCOVERY",
                "SVC_DNS_DOMAIN",
                "SVC_DNS_INTERVAL_SECS",
                "SVC_DNS_SERVER",
                "SVC_HOST",
                "SVC_HTTP_PORT",
                "SVC_JWT__ISSUER",
                "SVC_JWT__PRIVATE_KEY_FILE",
                "SVC_METRICS_HOST",
                "SVC_METRICS_PORT",
                "SVC_PROBLEM_TYPE_BASE",
                "SVC_SHUTDOWN_GRACE_SECS",
                "SVC_STREAMS__MAX_LIFETIME_SECS",
                "SVC_STREAMS__PER_CALLER",
                "SVC_THRESHOLD",
                "SVC_UPSTREAMS",
            ],
            "no gRPC port and no broker keys for a service without them"
        );
    }

    #[test]
    fn defaults_come_from_the_service_constant() {
        let settings = Settings::<Own>::defaults(&SVC);
        assert_eq!(settings.service.http_port, 8089);
        assert_eq!(settings.service.database_url.as_deref(), Some("postgres://svc@127.0.0.1:5432/svc"));
        assert!(settings.service.broker.is_none());
        assert_eq!(settings.own.threshold, 5);
    }

    #[test]
    fn a_bad_value_is_named_by_its_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SVC_HTTP_PORT", "8090");
            jail.set_env("SVC_THRESHOLD", "many");
            let error = Settings::<Own>::from_env(&SVC).unwrap_err().to_string();
            assert!(error.starts_with("SVC_THRESHOLD: "), "{error}");
            jail.set_env("SVC_THRESHOLD", "7");
            jail.set_env("SVC_SHUTDOWN_GRACE_SECS", "-1");
            let error = Settings::<Own>::from_env(&SVC).unwrap_err().to_string();
            assert!(error.starts_with("SVC_SHUTDOWN_GRACE_SECS: "), "{error}");
            jail.set_env("SVC_SHUTDOWN_GRACE_SECS", "3");
            let settings = Settings::<Own>::from_env(&SVC).unwrap();
            assert_eq!((settings.service.http_port, settings.own.threshold), (8090, 7));
            Ok(())
        });
    }

    #[test]
    fn the_discovery_mode_is_read_at_start_and_a_bad_one_is_refused_by_name() {
        use crate::discovery::DiscoveryMode;
        figment::Jail::expect_with(|jail| {
            let mode = || Settings::<Own>::from_env(&SVC).map(|s| s.service.discovery.mode());
            assert_eq!(mode().unwrap(), DiscoveryMode::Static, "unset, without Consul");
            jail.set_env("SVC_CONSUL_URL", "http://consul:8500");
            assert_eq!(mode().unwrap(), DiscoveryMode::Consul, "unset, with Consul");
            jail.set_env("SVC_DISCOVERY", "");
            assert_eq!(mode().unwrap(), DiscoveryMode::Consul, "empty is unset");
            jail.set_env("SVC_DISCOVERY", "DNS");
            assert_eq!(mode().unwrap(), DiscoveryMode::Dns);
            jail.set_env("SVC_DISCOVERY", "kubernetes");
            let error = mode().unwrap_err().to_string();
            assert!(error.starts_with("SVC_DISCOVERY: "), "{error}");
            assert!(error.contains("use consul, static or dns"), "{error}");
            jail.set_env("SVC_DISCOVERY", "consul");
            jail.set_env("SVC_CONSUL_URL", "");
            let error = mode().unwrap_err().to_string();
            assert_eq!(error, "SVC_DISCOVERY is consul, but SVC_CONSUL_URL is not set");
            jail.set_env("SVC_DISCOVERY", "dns");
            jail.set_env("SVC_DNS_INTERVAL_SECS", "0");
            let error = mode().unwrap_err().to_string();
            assert!(error.starts_with("SVC_DNS_INTERVAL_SECS must be above 0"), "{error}");
            Ok(())
        });
    }
}
