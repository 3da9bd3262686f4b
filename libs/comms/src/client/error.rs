//! Why a call to another service failed, in terms a caller can act on.

use std::time::Duration;

use crate::discovery::NoInstances;
use crate::error::ErrorKind;
use crate::http::Problem;
use crate::resilience::{BreakerOpen, BulkheadFull};

#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    NoInstances(#[from] NoInstances),
    #[error(transparent)]
    CircuitOpen(#[from] BreakerOpen),
    #[error(transparent)]
    BulkheadFull(#[from] BulkheadFull),
    /// One attempt took longer than its timeout.
    #[error("{service} did not answer within {}ms", timeout.as_millis())]
    Timeout { service: String, timeout: Duration },
    /// The call's total deadline passed (across attempts).
    #[error("deadline exceeded calling {service}")]
    DeadlineExceeded { service: String },
    /// No connection was made: the upstream never saw the request.
    #[error("could not connect to {service}: {reason}")]
    Connect { service: String, reason: String },
    /// The connection failed after the request may have been sent.
    #[error("transport error calling {service}: {reason}")]
    Transport { service: String, reason: String },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl CallError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Timeout { .. } | Self::DeadlineExceeded { .. } => ErrorKind::Timeout,
            Self::InvalidRequest(_) => ErrorKind::Internal,
            _ => ErrorKind::Unavailable,
        }
    }

    /// True when the upstream certainly did not receive the request, so
    /// repeating it is harmless whatever it does.
    pub fn never_sent(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::NoInstances(_) | Self::CircuitOpen(_) | Self::BulkheadFull(_))
    }

    /// True when the call never reached an upstream because our own side
    /// refused it: it says nothing about the upstream's health.
    pub fn refused_locally(&self) -> bool {
        matches!(self, Self::NoInstances(_) | Self::CircuitOpen(_) | Self::BulkheadFull(_) | Self::InvalidRequest(_))
    }

    /// When a caller may try again, if the failure says.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::CircuitOpen(open) => Some(open.remaining),
            _ => None,
        }
    }
}

impl From<CallError> for Problem {
    fn from(error: CallError) -> Self {
        let mut problem = Problem::new(error.kind()).detail(error.to_string());
        if let Some(wait) = error.retry_after() {
            problem = problem.retry_after(wait);
        }
        problem
    }
}

impl From<CallError> for tonic::Status {
    fn from(error: CallError) -> Self {
        tonic::Status::new(error.kind().grpc_code(), error.to_string())
    }
}
