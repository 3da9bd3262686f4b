//! Typed settings from environment variables (twelve-factor).
//!
//! Each service declares a struct with serde defaults and loads it with its
//! own prefix (`USER_`, `ORDER_`, ...), so one shell can hold the settings of
//! every service without collisions. A missing or malformed variable fails
//! start-up with the variable's name, not a panic deep inside the service.

use figment::Figment;
use figment::providers::Env;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Loads `T` from variables named `{prefix}{FIELD}` (case-insensitive).
/// Nested structs use `__`: `USER_JWT__ISSUER` sets `jwt.issuer`.
pub fn from_env<T: DeserializeOwned>(prefix: &str) -> Result<T, figment::Error> {
    Figment::new().merge(Env::prefixed(prefix).split("__")).extract()
}

/// Variables read by the telemetry set-up of every binary.
pub const TELEMETRY_KEYS: &[&str] = &["OTEL_EXPORTER_OTLP_ENDPOINT", "RUST_LOG"];

/// Variables of the broker choice, shared by every service that publishes or
/// consumes (unprefixed: one system, one broker).
pub const BROKER_KEYS: &[&str] =
    &["BROKER", "AMQP_URL", "KAFKA_BROKERS", "BROKER_NAMESPACE", "BROKER_QUEUE_EXPIRY_SECS"];

/// Every variable `T` reads under `prefix`, derived from `T` itself: its
/// defaults are serialised and each leaf becomes `{prefix}{PATH}` with `__`
/// between levels. Listing keys this way cannot drift from the struct, so a
/// check can compare them with what compose sets (`<binary> settings-keys`).
///
/// `T` must load with no variables set (every field has a default).
pub fn keys<T: Serialize + DeserializeOwned>(prefix: &str) -> Result<Vec<String>, figment::Error> {
    let defaults: T = Figment::new().extract()?;
    let value = serde_json::to_value(&defaults).map_err(|e| figment::Error::from(e.to_string()))?;
    let mut keys = Vec::new();
    collect(&value, prefix.to_owned(), &mut keys);
    keys.sort();
    Ok(keys)
}

fn collect(value: &serde_json::Value, path: String, keys: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) if !fields.is_empty() => {
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

    #[derive(Default, Serialize, Deserialize)]
    struct Inner {
        #[serde(default)]
        issuer: String,
        #[serde(default)]
        private_key_file: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    struct Example {
        #[serde(default)]
        http_port: u16,
        #[serde(default)]
        jwt: Inner,
        #[serde(flatten)]
        discovery: crate::discovery::DiscoverySettings,
        // Skipped fields (read elsewhere, like the broker's) are not listed.
        #[serde(skip)]
        #[allow(dead_code)]
        broker: crate::messaging::settings::BrokerSettings,
    }

    #[test]
    fn keys_come_from_the_struct_including_nested_and_flattened_fields() {
        let keys = super::keys::<Example>("SVC_").unwrap();
        assert_eq!(
            keys,
            [
                "SVC_ADVERTISE_HOST",
                "SVC_CONSUL_URL",
                "SVC_HTTP_PORT",
                "SVC_JWT__ISSUER",
                "SVC_JWT__PRIVATE_KEY_FILE",
                "SVC_UPSTREAMS"
            ]
        );
    }
}
