//! How a notification leaves the system: a [`Channel`].
//!
//! [`LogChannel`] writes each message to the log (the default: `just dev`
//! needs no mail server); [`SmtpChannel`] hands it to a mail server.
//! Delivery workers do not know which one they have.

mod mime;
mod smtp;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use smtp::SmtpChannel;

use crate::config::{ChannelKind, NotificationSettings as Settings};
use crate::domain::Notification;

/// Why a message was not delivered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// It may work later: a connection failure, a timeout, a 4xx reply.
    #[error("{0}")]
    Temporary(String),
    /// It will not work as it is: a 5xx reply, an undeliverable address.
    #[error("{0}")]
    Rejected(String),
}

pub trait Channel: Send + Sync + 'static {
    /// For logs and metrics: `log`, `smtp`.
    fn name(&self) -> &'static str;

    fn send<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Result<(), SendError>>;
}

/// The channel the settings choose.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Channel>> {
    Ok(match settings.channel {
        ChannelKind::Log => Arc::new(LogChannel),
        ChannelKind::Smtp => Arc::new(SmtpChannel::new(&settings.smtp)?),
    })
}

/// Delivers by logging: every message shows up in the service's log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogChannel;

impl Channel for LogChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Result<(), SendError>> {
        tracing::info!(
            notification_id = %notification.id,
            to = %notification.recipient,
            subject = %notification.subject,
            body = %notification.body,
            "notification delivered to the log"
        );
        Box::pin(std::future::ready(Ok(())))
    }
}
