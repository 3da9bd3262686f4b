//! Rate limiting per client: the user id when the request carries a valid
//! token, the client IP otherwise.
//!
//! A token bucket per key (GCRA, from `governor`): `per_second` requests a
//! second on average, with bursts up to `burst`. The bucket belongs to the
//! client, not to a connection, so opening more connections buys nothing.

use std::num::NonZeroU32;
use std::sync::Weak;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

type Keyed = RateLimiter<String, governor::state::keyed::DefaultKeyedStateStore<String>, DefaultClock>;

pub struct ClientLimiter {
    limiter: Keyed,
    clock: DefaultClock,
}

impl ClientLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least one");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
        Self { limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)), clock: DefaultClock::default() }
    }

    /// `Ok` to go ahead, or how long until this client may try again.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.limiter.check_key(&key.to_owned()).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets every client whose bucket has filled up again: its state is
    /// then the same as a client never seen, so nothing is lost, and the
    /// map stops growing with every address that ever called.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Clients with a bucket held right now.
    pub fn clients(&self) -> usize {
        self.limiter.len()
    }
}

/// Prunes `limiter` every `every`, for as long as anything else holds it
/// (the gateway does, until it stops).
pub fn prune_periodically(limiter: Weak<ClientLimiter>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(limiter) = limiter.upgrade() else { return };
            limiter.prune();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_forgotten_once_its_bucket_has_filled_up_again() {
        // One a second: the bucket stays empty for a second after the call.
        let slow = ClientLimiter::new(1, 1);
        slow.check("198.51.100.7").unwrap();
        slow.prune();
        assert_eq!(slow.clients(), 1, "a client still waiting for tokens is kept");
        assert!(slow.check("198.51.100.7").is_err(), "and still limited");

        // A thousand a second: full again a millisecond after the call.
        let fast = ClientLimiter::new(1000, 1);
        for client in ["198.51.100.7", "198.51.100.8", "user-42"] {
            fast.check(client).unwrap();
        }
        assert_eq!(fast.clients(), 3);
        std::thread::sleep(Duration::from_millis(50));
        fast.prune();
        assert_eq!(fast.clients(), 0);
        assert!(fast.check("198.51.100.7").is_ok(), "a forgotten client starts with a full bucket");
    }
}
