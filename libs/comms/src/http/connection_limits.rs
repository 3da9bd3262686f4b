//! How long and how much one client connection may hold of a server: the
//! same limits on every HTTP and gRPC port.
//!
//! | variable (under the service's prefix) | default |
//! |---|---|
//! | `CONNECTIONS__HEADER_READ_TIMEOUT_SECS` | `10`: a request's headers must be complete within this of their first byte, and an HTTP/2 connection's preface within this of its opening; a connection waiting for its next request is closed by the idle timeout |
//! | `CONNECTIONS__IDLE_TIMEOUT_SECS` | `30`: a connection on which nothing is read or written for this long is closed |
//! | `CONNECTIONS__MAX_HEADER_BYTES` | `16384`: a larger HTTP/1 header block gets 431; HTTP/2's header list is capped the same |
//! | `CONNECTIONS__MAX_CONNECTIONS` | `1024` per port (the gateway: `4096`): past it a connection is closed as it is accepted |
//! | `CONNECTIONS__HTTP2_MAX_STREAMS` | `100` streams per HTTP/2 connection; past it, REFUSED_STREAM |
//!
//! Why each: without a header timeout a client that sends half a request
//! holds a socket for ever, unseen by the rate limiter (which counts
//! requests, not connections); without a cap, enough such clients exhaust
//! the process's file descriptors.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub http2_max_streams: u32,
}

/// hyper's read buffer cannot be smaller: a header block limit below it
/// would not hold.
const MIN_HEADER_BYTES: usize = 8192;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ConnectionLimits {
    /// The defaults, for constants (`..ConnectionLimits::DEFAULT`).
    pub const DEFAULT: Self = Self {
        header_read_timeout_secs: 10,
        idle_timeout_secs: 30,
        max_header_bytes: 16 * 1024,
        max_connections: 1024,
        http2_max_streams: 100,
    };

    /// The defaults with another connection cap (the gateway's is larger).
    pub fn with_max_connections(max_connections: usize) -> Self {
        Self { max_connections, ..Self::default() }
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// Refuses a limit that would switch a protection off or contradict
    /// another, naming the variable (under `prefix`).
    pub fn validate(&self, prefix: &str) -> anyhow::Result<()> {
        let name = |field: &str| format!("{prefix}CONNECTIONS__{}", field.to_uppercase());
        for (field, value) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("max_connections", self.max_connections as u64),
            ("http2_max_streams", u64::from(self.http2_max_streams)),
        ] {
            anyhow::ensure!(value > 0, "{} must be above 0: 0 would switch the limit off", name(field));
        }
        anyhow::ensure!(
            self.max_header_bytes >= MIN_HEADER_BYTES,
            "{} must be at least {MIN_HEADER_BYTES}",
            name("max_header_bytes")
        );
        anyhow::ensure!(
            self.header_read_timeout_secs <= self.idle_timeout_secs,
            "{} ({} s) must not be above {} ({} s): a connection would be closed as idle while its headers may still arrive",
            name("header_read_timeout_secs"),
            self.header_read_timeout_secs,
            name("idle_timeout_secs"),
            self.idle_timeout_secs
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let limits = ConnectionLimits::default();
        assert_eq!(limits.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(limits.idle_timeout(), Duration::from_secs(30));
        assert_eq!(limits.max_header_bytes, 16 * 1024);
        assert_eq!(limits.max_connections, 1024);
        assert_eq!(limits.http2_max_streams, 100);
        assert_eq!(ConnectionLimits::with_max_connections(4096).max_connections, 4096);
        limits.validate("SVC_").unwrap();
    }

    #[test]
    fn each_invalid_limit_is_refused_by_its_variable() {
        let refused = |limits: ConnectionLimits, variable: &str| {
            let error = limits.validate("SVC_").unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
        };
        let ok = ConnectionLimits::default();
        refused(ConnectionLimits { header_read_timeout_secs: 0, ..ok }, "SVC_CONNECTIONS__HEADER_READ_TIMEOUT_SECS");
        refused(ConnectionLimits { idle_timeout_secs: 0, ..ok }, "SVC_CONNECTIONS__IDLE_TIMEOUT_SECS");
        refused(ConnectionLimits { max_connections: 0, ..ok }, "SVC_CONNECTIONS__MAX_CONNECTIONS");
        refused(ConnectionLimits { http2_max_streams: 0, ..ok }, "SVC_CONNECTIONS__HTTP2_MAX_STREAMS");
        refused(ConnectionLimits { max_header_bytes: 1024, ..ok }, "SVC_CONNECTIONS__MAX_HEADER_BYTES");
        refused(
            ConnectionLimits { header_read_timeout_secs: 40, idle_timeout_secs: 30, ..ok },
            "SVC_CONNECTIONS__HEADER_READ_TIMEOUT_SECS",
        );
    }
}
