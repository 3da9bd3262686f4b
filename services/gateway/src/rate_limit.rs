//! Rate limiting per client: the user id when the request carries a valid
//! token, the client IP otherwise.
//!
//! A token bucket per key (GCRA, from `governor`): `per_second` requests a
//! second on average, with bursts up to `burst`. The bucket belongs to the
//! client, not to a connection, so opening more connections buys nothing.

use std::num::NonZeroU32;
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
}
