//! The gateway's settings, from `GATEWAY_*` environment variables.
//!
//! | variable | default |
//! |---|---|
//! | `GATEWAY_HOST` / `GATEWAY_PORT` | `0.0.0.0` / `8080` |
//! | `GATEWAY_ROUTES_FILE` | `deploy/gateway/routes.json` |
//! | `GATEWAY_JWT_ISSUER` / `GATEWAY_JWT_AUDIENCE` | `switchyard-user` / `switchyard` |
//! | `GATEWAY_JWKS_SERVICE` | `user` (the service serving `/.well-known/jwks.json`) |
//! | `GATEWAY_JWKS_MIN_REFRESH_SECS` | `30` |
//! | `GATEWAY_RATE_PER_SECOND` / `GATEWAY_RATE_BURST` | `20` / `40` |
//! | `GATEWAY_BODY_LIMIT_BYTES` | `67108864` (64 MiB) |
//! | `GATEWAY_SOCKET_BUFFER_BYTES` | unset (kernel autotuning) |
//! | `GATEWAY_SHUTDOWN_GRACE_SECS` | `20` |
//! | `GATEWAY_CONSUL_URL` | unset: static upstreams from `GATEWAY_UPSTREAMS` |
//! | `GATEWAY_UPSTREAMS` | e.g. `user=127.0.0.1:8081;order=127.0.0.1:8082` |

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_routes")]
    pub routes_file: String,
    #[serde(default = "default_issuer")]
    pub jwt_issuer: String,
    #[serde(default = "default_audience")]
    pub jwt_audience: String,
    #[serde(default = "default_jwks_service")]
    pub jwks_service: String,
    #[serde(default = "default_refresh")]
    pub jwks_min_refresh_secs: u64,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_burst")]
    pub rate_burst: u32,
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// Kernel send/receive buffer size for every socket the gateway opens
    /// (unset: the kernel's autotuning). Small buffers bound how much a
    /// slow peer can leave parked inside the gateway's host.
    #[serde(default)]
    pub socket_buffer_bytes: Option<u32>,
    #[serde(flatten)]
    pub discovery: comms::discovery::DiscoverySettings,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(comms::settings::from_env("GATEWAY_")?)
    }
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_port() -> u16 {
    8080
}
fn default_routes() -> String {
    "deploy/gateway/routes.json".into()
}
fn default_issuer() -> String {
    "switchyard-user".into()
}
fn default_audience() -> String {
    "switchyard".into()
}
fn default_jwks_service() -> String {
    "user".into()
}
fn default_refresh() -> u64 {
    30
}
fn default_rate() -> u32 {
    20
}
fn default_burst() -> u32 {
    40
}
fn default_body_limit() -> usize {
    64 * 1024 * 1024
}
fn default_grace() -> u64 {
    20
}
