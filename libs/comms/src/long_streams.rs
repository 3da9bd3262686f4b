//! Long responses: server-sent events and gRPC server streams.
//!
//! A stream holds a connection, a task and a subscription for as long as it
//! runs, and costs its caller nothing after the first request. So each
//! caller (a user, or a service) may hold only so many open at once, and
//! each ends after a maximum lifetime, cleanly (a last event, an OK status,
//! never a reset), so that clients reconnect: through the balancer, to an
//! instance that may be a newer one, with their token checked again.
//!
//! | variable (under the service's prefix) | default |
//! |---|---|
//! | `STREAMS__PER_CALLER` | `4` open at once per caller; the next gets 429 / RESOURCE_EXHAUSTED with a time to retry |
//! | `STREAMS__MAX_LIFETIME_SECS` | `900` (15 min), after which a stream ends and its client reconnects |
//!
//! Only endless streams are bounded so: a finite one (a listing) ends when
//! its rows do, and ending it early with OK would read as a complete list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::{ErrorKind, ServiceError};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct StreamLimits {
    pub per_caller: usize,
    pub max_lifetime_secs: u64,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self { per_caller: 4, max_lifetime_secs: 15 * 60 }
    }
}

impl StreamLimits {
    pub fn max_lifetime(&self) -> Duration {
        Duration::from_secs(self.max_lifetime_secs)
    }

    /// Refuses a limit of 0 (which would refuse every stream, or end each at
    /// once), naming the variable under `prefix`.
    pub fn validate(&self, prefix: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.per_caller > 0,
            "{prefix}STREAMS__PER_CALLER must be above 0: 0 would refuse every stream"
        );
        anyhow::ensure!(
            self.max_lifetime_secs > 0,
            "{prefix}STREAMS__MAX_LIFETIME_SECS must be above 0: 0 would end every stream as it opens"
        );
        Ok(())
    }
}

/// The long streams one process has open, per caller.
#[derive(Clone)]
pub struct OpenStreams {
    limits: StreamLimits,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One caller has as many streams open as it may.
#[derive(Debug, thiserror::Error)]
#[error("{limit} streams are already open for this caller; close one, or retry later")]
pub struct TooManyStreams {
    pub limit: usize,
}

impl ServiceError for TooManyStreams {
    fn kind(&self) -> ErrorKind {
        ErrorKind::RateLimited
    }

    /// No one knows when a stream will close; a few seconds keeps a
    /// reconnecting client from spinning.
    fn retry_after(&self) -> Option<Duration> {
        Some(Duration::from_secs(5))
    }
}

impl OpenStreams {
    pub fn new(limits: StreamLimits) -> Self {
        Self { limits, open: Arc::default() }
    }

    /// [`Self::open`] for the caller of a gRPC call (the principal the
    /// guard put on it), as the call's status when refused.
    pub fn open_for<T>(&self, request: &tonic::Request<T>) -> Result<StreamSlot, tonic::Status> {
        let caller = request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| tonic::Status::unauthenticated("the call carries no checked caller"))?;
        self.open(caller).map_err(|refused| crate::grpc::status_of(&refused))
    }

    /// A place for one more stream of `caller`, held until the slot (or
    /// the stream [`StreamSlot::bound`] made of it) is dropped.
    pub fn open(&self, caller: &Principal) -> Result<StreamSlot, TooManyStreams> {
        let key = match caller {
            Principal::User(user) => format!("user:{}", user.user_id),
            Principal::Service(name) => format!("service:{name}"),
        };
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(key.clone()).or_default();
        if *count >= self.limits.per_caller {
            return Err(TooManyStreams { limit: self.limits.per_caller });
        }
        *count += 1;
        Ok(StreamSlot { key, open: self.open.clone(), lifetime: self.limits.max_lifetime() })
    }
}

/// One open stream's place in its caller's count.
pub struct StreamSlot {
    key: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
    lifetime: Duration,
}

impl StreamSlot {
    /// `stream`, ended (as if it had run out) once the lifetime passes, and
    /// holding this slot until the client or the server drops it.
    pub fn bound<S: Stream>(self, stream: S) -> impl Stream<Item = S::Item> {
        let ends = tokio::time::sleep(self.lifetime);
        // The closure owns the slot, so it is freed with the stream.
        stream.take_until(ends).map(move |item| {
            let _held = &self;
            item
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Caller;

    fn user(n: u128) -> Principal {
        Principal::User(Caller { user_id: uuid::Uuid::from_u128(n), roles: Vec::new() })
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let limits = StreamLimits::default();
        assert_eq!((limits.per_caller, limits.max_lifetime()), (4, Duration::from_secs(900)));
        limits.validate("SVC_").unwrap();
    }

    #[test]
    fn each_invalid_limit_is_refused_by_its_variable() {
        let ok = StreamLimits::default();
        let error = StreamLimits { per_caller: 0, ..ok }.validate("SVC_").unwrap_err().to_string();
        assert!(error.contains("SVC_STREAMS__PER_CALLER"), "{error}");
        let error = StreamLimits { max_lifetime_secs: 0, ..ok }.validate("SVC_").unwrap_err().to_string();
        assert!(error.contains("SVC_STREAMS__MAX_LIFETIME_SECS"), "{error}");
    }

    #[tokio::test]
    async fn a_caller_past_its_cap_is_refused_while_others_open_and_a_closed_stream_frees_a_place() {
        let streams = OpenStreams::new(StreamLimits { per_caller: 2, ..StreamLimits::default() });
        let first = streams.open(&user(1)).unwrap().bound(futures::stream::pending::<()>());
        let _second = streams.open(&user(1)).unwrap();
        assert_eq!(streams.open(&user(1)).err().map(|e| e.limit), Some(2));
        assert!(streams.open(&user(2)).is_ok(), "another user opens");
        assert!(
            streams.open(&Principal::Service("user".into())).is_ok(),
            "a service named like a user is another caller"
        );
        drop(first);
        assert!(streams.open(&user(1)).is_ok(), "a dropped stream freed its place");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_ends_cleanly_at_its_lifetime() {
        let streams = OpenStreams::new(StreamLimits { max_lifetime_secs: 55, ..StreamLimits::default() });
        let ticks = futures::stream::unfold(0, |n| async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Some((n, n + 1))
        });
        let seen: Vec<u32> = streams.open(&user(1)).unwrap().bound(ticks).collect().await;
        assert_eq!(seen, [0, 1, 2, 3, 4], "ended at 55 s, after the tick of 50 s");
        assert!(streams.open.lock().unwrap().is_empty(), "the ended stream gave its place back");
    }
}
