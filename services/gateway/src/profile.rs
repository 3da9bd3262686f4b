//! Named profiles: a few limits raised together, for one kind of machine.
//!
//! `local` is for a machine where every client is 127.0.0.1 (`just dev`,
//! CI, the bench). All their traffic shares one address, so per-address
//! limits sized for the internet would throttle a demo or a load test. It
//! raises those, and only those, each by name; per-user limits, every
//! other gateway limit and the user service's login throttle keep their
//! defaults. A gateway refuses it on a listener that is not loopback: on a
//! public address it would hand every client on the internet the raised
//! limits.

use std::net::IpAddr;

use crate::config::{Profile, Settings};
use crate::routes::{Per, RouteTable};

/// What `local` raises a per-address rate to (requests a second, and burst).
pub const LOCAL_ADDRESS_RATE: u32 = 100_000;
/// How many times `local` multiplies a per-address route limit.
pub const LOCAL_ROUTE_FACTOR: u32 = 1_000;

/// A limit a profile raised: its name, and its value before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raised {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// The settings as the gateway will run with them: validated, the profile
/// applied to them and to `table`, and every raised limit, and every limit
/// off its default, logged by name, so what an exposed gateway runs with is
/// on record.
pub fn in_effect(settings: &Settings, table: &mut RouteTable) -> anyhow::Result<Settings> {
    let mut settings = settings.clone();
    settings.validate()?;
    let profile = settings.profile;
    for raised in apply(&mut settings, table)? {
        tracing::warn!(?profile, limit = %raised.name, from = %raised.from, to = %raised.to, "raised by the profile");
    }
    for (variable, value) in settings.changed_limits() {
        tracing::info!(%variable, %value, "a limit differs from its default");
    }
    Ok(settings)
}

/// Raises what `settings.profile` raises in `settings` and `table`, and
/// names each. A rate set to other than its default is the operator's
/// choice and stays as set.
pub fn apply(settings: &mut Settings, table: &mut RouteTable) -> anyhow::Result<Vec<Raised>> {
    if settings.profile == Profile::Default {
        return Ok(Vec::new());
    }
    anyhow::ensure!(
        is_loopback(&settings.host),
        "GATEWAY_PROFILE=local raises per-address limits for a machine whose every client is 127.0.0.1; \
         it is refused on GATEWAY_HOST={} (listen on 127.0.0.1, or drop the profile)",
        settings.host
    );
    let defaults = Settings::default();
    let mut raised = Vec::new();
    for (name, value, default) in [
        ("GATEWAY_ADDRESS_RATE_PER_SECOND", &mut settings.address_rate_per_second, defaults.address_rate_per_second),
        ("GATEWAY_ADDRESS_RATE_BURST", &mut settings.address_rate_burst, defaults.address_rate_burst),
    ] {
        if *value == default {
            *value = LOCAL_ADDRESS_RATE;
            raised.push(Raised { name: name.into(), from: default.to_string(), to: value.to_string() });
        }
    }
    for route in &mut table.routes {
        if let Some(limit) = route.limit.as_mut().filter(|limit| limit.per == Per::Address) {
            let from = format!("{} per {} s", limit.requests, limit.per_secs);
            limit.requests = limit.requests.saturating_mul(LOCAL_ROUTE_FACTOR);
            let to = format!("{} per {} s", limit.requests, limit.per_secs);
            raised.push(Raised { name: format!("route {} (per address)", route.name), from, to });
        }
    }
    Ok(raised)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::parse(
            r#"{ "routes": [
              { "name": "register", "path": "/r", "methods": ["POST"], "service": "user", "rewrite": "/r",
                "limit": { "requests": 5, "per_secs": 3600 } },
              { "name": "mine", "path": "/m", "methods": ["POST"], "service": "user", "rewrite": "/m",
                "limit": { "requests": 7, "per_secs": 60, "per": "user" } },
              { "name": "open", "path": "/o", "methods": ["GET"], "service": "user", "rewrite": "/o" }
            ] }"#,
        )
        .unwrap()
    }

    fn local() -> Settings {
        Settings { host: "127.0.0.1".into(), profile: Profile::Local, ..Settings::default() }
    }

    #[test]
    fn local_raises_each_per_address_limit_by_name_and_nothing_else() {
        let (mut settings, mut table) = (local(), table());
        let raised = apply(&mut settings, &mut table).unwrap();
        let names: Vec<&str> = raised.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["GATEWAY_ADDRESS_RATE_PER_SECOND", "GATEWAY_ADDRESS_RATE_BURST", "route register (per address)"]
        );
        assert_eq!(raised[2].to, "5000 per 3600 s");

        // Every other limit is its default: the raised two are the only
        // limits off it, and the per-user route limit is untouched.
        let changed: Vec<String> = settings.changed_limits().into_iter().map(|(name, _)| name).collect();
        assert_eq!(changed, ["GATEWAY_ADDRESS_RATE_BURST", "GATEWAY_ADDRESS_RATE_PER_SECOND"]);
        assert_eq!(table.routes[1].limit.unwrap().requests, 7);
    }

    #[test]
    fn a_rate_the_operator_set_stays_as_set() {
        let mut settings = Settings { address_rate_per_second: 300, ..local() };
        let raised = apply(&mut settings, &mut table()).unwrap();
        assert_eq!(settings.address_rate_per_second, 300);
        assert!(raised.iter().all(|r| r.name != "GATEWAY_ADDRESS_RATE_PER_SECOND"));
    }

    #[test]
    fn local_is_refused_on_a_listener_that_is_not_loopback() {
        for host in ["0.0.0.0", "::", "192.0.2.10"] {
            let mut settings = Settings { host: host.into(), ..local() };
            let error = apply(&mut settings, &mut table()).unwrap_err().to_string();
            assert!(error.contains("GATEWAY_HOST"), "{error}");
        }
        for host in ["127.0.0.1", "::1", "localhost"] {
            let mut settings = Settings { host: host.into(), ..local() };
            assert!(apply(&mut settings, &mut table()).is_ok(), "{host}");
        }
        let mut public = Settings { host: "0.0.0.0".into(), ..Settings::default() };
        assert!(apply(&mut public, &mut table()).unwrap().is_empty(), "the defaults run anywhere");
    }
}
