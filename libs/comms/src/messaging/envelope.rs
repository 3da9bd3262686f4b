//! The event envelope: CloudEvents 1.0 attribute names, JSON encoded.
//!
//! Every message on the broker is one envelope. Its attributes are copied
//! into the transport's own metadata (AMQP properties and headers, Kafka
//! headers) so that stock tools can route and inspect messages without
//! parsing bodies, but the body alone is always complete.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A typed domain event or task payload.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The event type and routing key, e.g. `order.placed`.
    const TYPE: &'static str;
    /// Bumped when the payload changes incompatibly.
    const SCHEMA_VERSION: u32 = 1;

    /// The aggregate the event is about (an order id): the `subject`, and
    /// the partition key where a broker has partitions.
    fn subject(&self) -> String;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// UUIDv7: unique, and ordered by creation time.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The service that emitted it, e.g. `order`.
    pub source: String,
    pub specversion: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub datacontenttype: String,
    /// Extension: the payload's schema version.
    pub schemaversion: u32,
    /// Extension: the id shared by every message of one business flow.
    pub correlationid: String,
    /// Extension: the id of the message that caused this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<String>,
    pub data: serde_json::Value,
}

/// Why a message could not be read as an envelope or a typed payload.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not a JSON event envelope: {0}")]
    NotAnEnvelope(String),
    #[error("expected a {expected} event, got {actual}")]
    WrongType { expected: String, actual: String },
    #[error("data does not match {event_type} v{version}: {reason}")]
    BadData { event_type: String, version: u32, reason: String },
}

impl Envelope {
    /// Wraps a typed event. `causation` is the envelope being handled when
    /// this one is emitted, so correlation flows along a saga.
    pub fn new<E: Event>(source: &str, event: &E, causation: Option<&Envelope>) -> Self {
        let id = Uuid::now_v7();
        Self {
            id,
            event_type: E::TYPE.to_owned(),
            source: source.to_owned(),
            specversion: "1.0".to_owned(),
            time: Utc::now(),
            subject: Some(event.subject()),
            datacontenttype: "application/json".to_owned(),
            schemaversion: E::SCHEMA_VERSION,
            correlationid: causation.map_or_else(|| id.to_string(), |c| c.correlationid.clone()),
            causationid: causation.map(|c| c.id.to_string()),
            data: serde_json::to_value(event).expect("events serialize to JSON"),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelopes serialize to JSON")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotAnEnvelope(e.to_string()))
    }

    /// The typed payload, checking the type first.
    pub fn decode<E: Event>(&self) -> Result<E, DecodeError> {
        if self.event_type != E::TYPE {
            return Err(DecodeError::WrongType { expected: E::TYPE.into(), actual: self.event_type.clone() });
        }
        serde_json::from_value(self.data.clone()).map_err(|e| DecodeError::BadData {
            event_type: self.event_type.clone(),
            version: self.schemaversion,
            reason: e.to_string(),
        })
    }
}
