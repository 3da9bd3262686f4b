//! The notification domain: what is stored for a recipient, and the
//! messages rendered for each kind of event.

mod address;
pub mod templates;

pub use address::Address;
use uuid::Uuid;

/// One message for one recipient about one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    /// The event it is about; with `recipient`, what makes it unique.
    pub event_id: Uuid,
    pub event_type: String,
    /// The user it belongs to, who may read it over REST; `None` for an
    /// operator known only by address.
    pub user_id: Option<Uuid>,
    /// The address it is delivered to.
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Where a notification is in its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Stored; its delivery task is queued or being retried.
    Pending,
    Sent,
    /// Every attempt failed; the task is in the dead-letter queue.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Who a message is for: a user (readable over REST) or an operator
/// address from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: Option<Uuid>,
    pub address: Address,
}

/// A rendered message, before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

/// A message to store for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub recipient: Recipient,
    pub message: Message,
}
