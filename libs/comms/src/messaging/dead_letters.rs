//! Dead letters, for the person on call: what a service gave up on, listed
//! without removing anything, replayed to that one service, or purged; and
//! how many wait (a gauge every service exports for its own).
//!
//! Each broker implements [`DeadLetterQueues`]; the `dlq` tool
//! (`tools/dlq`) is a command line over it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::broker::{BrokerError, Subscription, headers};

/// One dead-lettered message, as the tool shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message id (the envelope's id).
    pub id: String,
    pub event_type: String,
    /// Why it was given up on: the handler's error, or the broker's reason
    /// (`delivery_limit`) for what the broker dead-lettered itself.
    pub reason: String,
    /// The attempt it died at.
    pub attempts: u32,
    pub died_at: Option<DateTime<Utc>>,
    /// Every string header, the trace context among them.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl DeadLetter {
    /// From a message's id, type, string headers and body.
    pub(crate) fn read(id: String, event_type: String, headers: BTreeMap<String, String>, body: Vec<u8>) -> Self {
        let reason = headers
            .get(headers::DEATH_REASON)
            .or_else(|| headers.get(FIRST_DEATH_REASON))
            .cloned()
            .unwrap_or_else(|| "no reason recorded".into());
        let attempts = headers.get(headers::ATTEMPT).and_then(|a| a.parse().ok()).unwrap_or(1);
        let died_at = headers
            .get(headers::DEATH_TIME)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        Self { id, event_type, reason, attempts, died_at, headers, body }
    }
}

/// RabbitMQ's own reason, on what a queue dead-lettered by itself.
pub(crate) const FIRST_DEATH_REASON: &str = "x-first-death-reason";

/// Which dead letters to replay.
#[derive(Clone, Copy, Debug)]
pub enum Which<'a> {
    All,
    Ids(&'a [String]),
}

impl Which<'_> {
    pub(crate) fn takes(&self, id: &str) -> bool {
        match self {
            Which::All => true,
            Which::Ids(ids) => ids.iter().any(|wanted| wanted == id),
        }
    }
}

/// A broker's dead-letter queues, one per subscription.
pub trait DeadLetterQueues: Send + Sync {
    /// Every dead letter of `subscription`, in queue order (on Kafka,
    /// partition by partition). None is lost or added: listing twice shows
    /// the same messages.
    fn list<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>>;

    /// Sends the dead letters `which` picks back to the subscription's own
    /// queue, and to no other subscriber, with their attempts reset; each
    /// leaves the dead letters only once the broker has confirmed its copy.
    /// Returns the ids replayed. The service's inbox makes a replay of a
    /// message it already applied change nothing.
    fn replay<'a>(
        &'a self,
        subscription: &'a Subscription,
        which: Which<'a>,
    ) -> BoxFuture<'a, Result<Vec<String>, BrokerError>>;

    /// Removes every dead letter of `subscription`; returns how many.
    fn purge<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<u64, BrokerError>>;

    /// How many dead letters wait.
    fn depth<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<u64, BrokerError>>;
}

/// The headers a replayed copy drops: its death, in ours and in RabbitMQ's
/// words, so it starts again as a first attempt.
pub(crate) fn is_death_header(name: &str) -> bool {
    name.starts_with("x-death")
        || name.starts_with("x-first-death")
        || name.starts_with("x-last-death")
        || name == headers::DEATH_TIME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_reads_our_reason_or_the_brokers() {
        let mut ours = BTreeMap::new();
        ours.insert(headers::DEATH_REASON.to_owned(), "stock row locked".to_owned());
        ours.insert(headers::ATTEMPT.to_owned(), "11".to_owned());
        ours.insert(headers::DEATH_TIME.to_owned(), "2026-12-07T10:00:00Z".to_owned());
        let letter = DeadLetter::read("id".into(), "order.placed".into(), ours, vec![]);
        assert_eq!((letter.reason.as_str(), letter.attempts), ("stock row locked", 11));
        assert_eq!(letter.died_at.map(|t| t.to_rfc3339()), Some("2026-12-07T10:00:00+00:00".into()));

        let mut brokers = BTreeMap::new();
        brokers.insert(FIRST_DEATH_REASON.to_owned(), "delivery_limit".to_owned());
        let letter = DeadLetter::read("id".into(), "order.placed".into(), brokers, vec![]);
        assert_eq!((letter.reason.as_str(), letter.attempts, letter.died_at), ("delivery_limit", 1, None));
    }

    #[test]
    fn a_replay_drops_every_death_header_and_keeps_the_rest() {
        for dead in ["x-death", "x-death-reason", "x-death-queue", "x-first-death-queue", "x-last-death-reason"] {
            assert!(is_death_header(dead), "{dead}");
        }
        assert!(is_death_header(headers::DEATH_TIME));
        for kept in ["traceparent", "x-attempt", "source", "x-not-before"] {
            assert!(!is_death_header(kept), "{kept}");
        }
    }
}
