//! Admitting a connection to a listener, HTTP and gRPC alike: past the cap
//! it is closed unread; otherwise it runs on a [`ConnectionClock`] and holds
//! one of the listener's slots until it ends.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::clock::ConnectionClock;
use super::connection_limits::ConnectionLimits;

/// An admitted connection; its slot is freed when it is dropped.
pub type Admitted = ConnectionClock<TcpStream>;

/// The slots of one listener.
#[derive(Clone)]
pub struct Admission {
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    /// Names the listener in the refusal counter.
    listener: &'static str,
}

impl Admission {
    pub fn new(limits: ConnectionLimits, listener: &'static str) -> Self {
        Self { limits, slots: Arc::new(Semaphore::new(limits.max_connections)), listener }
    }

    /// The accepted socket on its clock, or `None` past the cap: the caller
    /// drops it unread, so the client sees its connection end at once rather
    /// than wait in a queue it cannot see.
    pub fn admit(&self, tcp: TcpStream) -> Option<Admitted> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            ::metrics::counter!("connections_refused_total", "listener" => self.listener).increment(1);
            return None;
        };
        // Without TCP_NODELAY a small response written as two segments waits
        // for the client's delayed ACK, up to 40 ms on Linux, whenever a
        // connection has more than one request in flight or a body follows
        // its headers.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set on an accepted connection");
        }
        Some(ConnectionClock::new(tcp, self.limits.header_read_timeout(), self.limits.idle_timeout()).holding(slot))
    }
}
