//! Rate limits, as token buckets (GCRA, from `governor`) keyed by client.
//!
//! Every request counts against two buckets: its address's (an IPv6
//! address by its /64, `comms::http::client_address::network`) and, when
//! it carries a valid token, its user's. So one address gets at most the
//! address rate however many accounts it signs in as, and one account at
//! most the user rate however many addresses it comes from. A route may
//! add a limit of its own in the route table (`limit`), counted per
//! address or per user, on top of both.
//!
//! A bucket belongs to the client, not to a connection, so opening more
//! connections buys nothing. Buckets live in this process: with N gateway
//! replicas a client gets up to N times each rate (docs/patterns/gateway.md).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Weak;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

use crate::routes::{Per, Route, RouteLimit, RouteTable};

type Keyed = RateLimiter<String, governor::state::keyed::DefaultKeyedStateStore<String>, DefaultClock>;

/// One bucket per key, all with the same quota.
pub struct Buckets {
    limiter: Keyed,
    clock: DefaultClock,
}

impl Buckets {
    /// `per_second` on average, bursts up to `burst`.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least one");
        Self::with_quota(Quota::per_second(rate).allow_burst(at_least_one(burst)))
    }

    /// `requests` per `per`, all of them usable at once.
    pub fn per_period(requests: u32, per: Duration) -> Self {
        let requests = at_least_one(requests);
        let each = (per / requests.get()).max(Duration::from_nanos(1));
        Self::with_quota(Quota::with_period(each).expect("a period above zero").allow_burst(requests))
    }

    fn with_quota(quota: Quota) -> Self {
        Self { limiter: RateLimiter::keyed(quota), clock: DefaultClock::default() }
    }

    /// `Ok` to go ahead, or how long until this key may try again.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.limiter.check_key(&key.to_owned()).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets every key whose bucket has filled up again: its state is
    /// then the same as a key never seen, so nothing is lost, and the map
    /// stops growing with every address that ever called.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Keys with a bucket held right now.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.limiter.len()
    }
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least one")
}

/// The gateway's rates, as configured.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    pub address_per_second: u32,
    pub address_burst: u32,
    pub user_per_second: u32,
    pub user_burst: u32,
}

/// Which limit refused a request, and for how long.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub limit: String,
    pub wait: Duration,
}

/// Every bucket the gateway keeps.
pub struct RateLimits {
    address: Buckets,
    user: Buckets,
    /// By route name: the routes whose table entry has a `limit`.
    routes: HashMap<String, (RouteLimit, Buckets)>,
}

impl RateLimits {
    pub fn new(rates: Rates, table: &RouteTable) -> Self {
        let routes = table
            .routes
            .iter()
            .filter_map(|route| route.limit.map(|limit| (route.name.clone(), (limit, limit.buckets()))))
            .collect();
        Self {
            address: Buckets::per_second(rates.address_per_second, rates.address_burst),
            user: Buckets::per_second(rates.user_per_second, rates.user_burst),
            routes,
        }
    }

    /// Counts a request to `route` from `address` (a network key), signed
    /// in as `user` if it is. The first bucket that is empty refuses it.
    pub fn check(&self, route: &Route, address: &str, user: Option<&str>) -> Result<(), Refused> {
        fn refused(limit: &str) -> impl FnOnce(Duration) -> Refused + '_ {
            move |wait| Refused { limit: limit.to_owned(), wait }
        }
        self.address.check(address).map_err(refused("the per-address limit"))?;
        if let Some(user) = user {
            self.user.check(user).map_err(refused("the per-user limit"))?;
        }
        if let Some((limit, buckets)) = self.routes.get(&route.name) {
            let key = match (limit.per, user) {
                (Per::User, Some(user)) => user,
                _ => address,
            };
            buckets.check(key).map_err(refused(&format!("the {} route's limit", route.name)))?;
        }
        Ok(())
    }

    pub fn prune(&self) {
        self.address.prune();
        self.user.prune();
        for (_, buckets) in self.routes.values() {
            buckets.prune();
        }
    }
}

impl RouteLimit {
    fn buckets(&self) -> Buckets {
        Buckets::per_period(self.requests, Duration::from_secs(self.per_secs))
    }
}

/// Prunes `limits` every `every`, for as long as anything else holds them
/// (the gateway does, until it stops).
pub fn prune_periodically(limits: Weak<RateLimits>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(limits) = limits.upgrade() else { return };
            limits.prune();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_forgotten_once_its_bucket_has_filled_up_again() {
        // One a second: the bucket stays empty for a second after the call.
        let slow = Buckets::per_second(1, 1);
        slow.check("198.51.100.7").unwrap();
        slow.prune();
        assert_eq!(slow.clients(), 1, "a client still waiting for tokens is kept");
        assert!(slow.check("198.51.100.7").is_err(), "and still limited");

        // A thousand a second: full again a millisecond after the call.
        let fast = Buckets::per_second(1000, 1);
        for client in ["198.51.100.7", "198.51.100.8", "user-42"] {
            fast.check(client).unwrap();
        }
        assert_eq!(fast.clients(), 3);
        std::thread::sleep(Duration::from_millis(50));
        fast.prune();
        assert_eq!(fast.clients(), 0);
        assert!(fast.check("198.51.100.7").is_ok(), "a forgotten client starts with a full bucket");
    }

    #[test]
    fn a_period_quota_allows_its_requests_at_once_and_then_waits_out_the_period() {
        let hourly = Buckets::per_period(5, Duration::from_secs(3600));
        for _ in 0..5 {
            hourly.check("198.51.100.7").unwrap();
        }
        let wait = hourly.check("198.51.100.7").unwrap_err();
        assert!(wait > Duration::from_secs(700) && wait <= Duration::from_secs(720), "{wait:?}");
        assert!(hourly.check("198.51.100.8").is_ok(), "another client has its own");
    }
}
