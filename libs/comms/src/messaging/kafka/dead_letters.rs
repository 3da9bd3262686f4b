//! A subscription's dead-letter topic, read and settled by an operator.
//!
//! A log cannot lose one record, so the tool keeps its own place in it: a
//! consumer group `{name}.dlq-tool` whose committed offsets mark where the
//! dead letters still waiting begin. It reads from there without
//! committing (listing twice shows the same records). A replayed record is
//! settled by a marker record in the same topic (header `x-settled`, no
//! body) that later reads skip, and purging commits the group's offsets at
//! the end of the log. The replayed copy goes to the subscription's first
//! retry topic, due at once: only that service's retry member reads it.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::future::BoxFuture;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{KafkaBroker, NOT_BEFORE, SETTLED, forward};
use crate::messaging::broker::{BrokerError, Subscription, headers};
use crate::messaging::dead_letters::{DeadLetter, DeadLetterQueues, Which, is_death_header};

/// How long a read may take before it is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One record of the dead-letter topic.
struct Record {
    partition: i32,
    headers: BTreeMap<String, String>,
    key: Option<Vec<u8>>,
    body: Vec<u8>,
}

impl DeadLetterQueues for KafkaBroker {
    fn list<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>> {
        Box::pin(async move {
            let records = self.waiting(subscription).await?;
            Ok(records.into_iter().map(letter).collect())
        })
    }

    fn replay<'a>(
        &'a self,
        subscription: &'a Subscription,
        which: Which<'a>,
    ) -> BoxFuture<'a, Result<Vec<String>, BrokerError>> {
        Box::pin(async move {
            let names = self.names(subscription);
            let Some((retry, _)) = names.retries.first() else {
                return Err(BrokerError::Refused(format!(
                    "{} has no retry topic to replay through",
                    subscription.name
                )));
            };
            let mut replayed = Vec::new();
            for record in self.waiting(subscription).await? {
                let id = record.headers.get("message-id").cloned().unwrap_or_default();
                if !which.takes(&id) {
                    continue;
                }
                let mut revived: BTreeMap<String, String> = record
                    .headers
                    .iter()
                    .filter(|(k, _)| !is_death_header(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                revived.insert(headers::ATTEMPT.into(), "1".into());
                revived.insert(NOT_BEFORE.into(), chrono::Utc::now().timestamp_millis().to_string());
                let revived = revived.into_iter().collect();
                if !forward(&self.producer, retry, record.key.as_deref(), &record.body, &revived).await {
                    return Err(BrokerError::Unavailable(format!(
                        "the copy of {id} was not acknowledged; it stays a dead letter (replayed before it: {replayed:?})"
                    )));
                }
                let marker = [(SETTLED.to_owned(), id.clone())].into_iter().collect();
                if !forward(&self.producer, &names.dead_letters, record.key.as_deref(), &[], &marker).await {
                    return Err(BrokerError::Unavailable(format!(
                        "{id} was replayed but could not be marked settled; it will be listed again"
                    )));
                }
                replayed.push(id);
            }
            Ok(replayed)
        })
    }

    fn purge<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move {
            let waiting = self.waiting(subscription).await?.len();
            let names = self.names(subscription);
            let (topic, group, brokers) = (names.dead_letters, tool_group(&names.group), self.config.brokers.clone());
            blocking(move || {
                let consumer = tool_consumer(&brokers, &group)?;
                let mut ends = TopicPartitionList::new();
                for (partition, _, high) in partitions(&consumer, &topic)? {
                    ends.add_partition_offset(&topic, partition, Offset::Offset(high)).map_err(refused)?;
                }
                consumer.commit(&ends, CommitMode::Sync).map_err(refused)
            })
            .await?;
            Ok(waiting as u64)
        })
    }

    fn depth<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move { Ok(self.waiting(subscription).await?.len() as u64) })
    }
}

impl KafkaBroker {
    /// The dead letters after the tool's offsets, less those settled.
    async fn waiting(&self, subscription: &Subscription) -> Result<Vec<Record>, BrokerError> {
        let names = self.names(subscription);
        let (topic, group, brokers) = (names.dead_letters, tool_group(&names.group), self.config.brokers.clone());
        let records = blocking(move || read_from_tool_offsets(&brokers, &group, &topic)).await?;
        let settled: HashSet<String> = records.iter().filter_map(|r| r.headers.get(SETTLED).cloned()).collect();
        Ok(records
            .into_iter()
            .filter(|r| !r.headers.contains_key(SETTLED))
            .filter(|r| !r.headers.get("message-id").is_some_and(|id| settled.contains(id)))
            .collect())
    }
}

fn tool_group(group: &str) -> String {
    format!("{group}.dlq-tool")
}

fn tool_consumer(brokers: &str, group: &str) -> Result<BaseConsumer, BrokerError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(unavailable)
}

/// Each partition of `topic` with its low and high watermarks.
fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<(i32, i64, i64)>, BrokerError> {
    let metadata = consumer.fetch_metadata(Some(topic), READ_TIMEOUT).map_err(unavailable)?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(Vec::new());
    };
    found
        .partitions()
        .iter()
        .map(|p| {
            let (low, high) = consumer.fetch_watermarks(topic, p.id(), READ_TIMEOUT).map_err(unavailable)?;
            Ok((p.id(), low, high))
        })
        .collect()
}

/// Every record of `topic` from `group`'s committed offsets (or the start)
/// to the end of the log as it is now, committing nothing.
fn read_from_tool_offsets(brokers: &str, group: &str, topic: &str) -> Result<Vec<Record>, BrokerError> {
    let consumer = tool_consumer(brokers, group)?;
    let found = partitions(&consumer, topic)?;
    let mut wanted = TopicPartitionList::new();
    for (partition, _, _) in &found {
        wanted.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(wanted, READ_TIMEOUT).map_err(unavailable)?;
    let mut start = TopicPartitionList::new();
    let mut remaining = 0;
    let mut ends = BTreeMap::new();
    for (partition, low, high) in found {
        let from = match committed.find_partition(topic, partition).map(|p| p.offset()) {
            Some(Offset::Offset(at)) => at.max(low),
            _ => low,
        };
        if from < high {
            start.add_partition_offset(topic, partition, Offset::Offset(from)).map_err(refused)?;
            ends.insert(partition, high);
            remaining += 1;
        }
    }
    let mut records = Vec::new();
    if remaining == 0 {
        return Ok(records);
    }
    consumer.assign(&start).map_err(refused)?;
    let deadline = std::time::Instant::now() + READ_TIMEOUT;
    while remaining > 0 {
        if std::time::Instant::now() > deadline {
            return Err(BrokerError::Unavailable(format!("reading {topic} took longer than {READ_TIMEOUT:?}")));
        }
        let Some(polled) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = polled.map_err(unavailable)?;
        let Some(end) = ends.get(&message.partition()).copied() else { continue };
        if message.offset() >= end {
            continue;
        }
        let mut headers = BTreeMap::new();
        if let Some(list) = message.headers() {
            for header in list.iter() {
                if let Some(value) = header.value {
                    headers.insert(header.key.to_owned(), String::from_utf8_lossy(value).into_owned());
                }
            }
        }
        records.push(Record {
            partition: message.partition(),
            headers,
            key: message.key().map(<[u8]>::to_vec),
            body: message.payload().unwrap_or_default().to_vec(),
        });
        if message.offset() + 1 >= end {
            remaining -= 1;
        }
    }
    records.sort_by_key(|r| r.partition);
    Ok(records)
}

fn letter(record: Record) -> DeadLetter {
    let id = record.headers.get("message-id").cloned().unwrap_or_default();
    let event_type = record.headers.get("type").cloned().unwrap_or_default();
    DeadLetter::read(id, event_type, record.headers, record.body)
}

/// librdkafka's calls block: on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BrokerError> + Send + 'static,
) -> Result<T, BrokerError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| BrokerError::Unavailable(e.to_string()))?
}

fn unavailable(error: rdkafka::error::KafkaError) -> BrokerError {
    BrokerError::Unavailable(error.to_string())
}

fn refused(error: rdkafka::error::KafkaError) -> BrokerError {
    BrokerError::Refused(error.to_string())
}
