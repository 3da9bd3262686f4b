//! The clock on one accepted connection: it must open in time, and it is
//! closed once nothing has moved on it for a while.
//!
//! hyper bounds the wait for an HTTP/1 request's headers, but nothing
//! bounds an HTTP/2 connection whose client never finishes the 24-byte
//! preface, a request that stalls once under way (a body that stops half
//! way, a client that never reads the response), or an HTTP/2 connection
//! with no streams. This wraps the socket:
//!
//! - **opening:** until the bytes read either complete the HTTP/2 preface or
//!   stop matching it (an HTTP/1 request, whose head hyper's own timer then
//!   bounds), the connection has the header timeout to arrive, however
//!   slowly its bytes trickle in;
//! - **idle:** after that, every byte read or written restarts the idle
//!   clock.
//!
//! When a clock runs out reads fail with `TimedOut`, so hyper drops the
//! connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

/// What every HTTP/2 connection starts with (RFC 9113, section 3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub struct ConnectionClock<T> {
    inner: T,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    /// How many bytes of the HTTP/2 preface have arrived, while the
    /// connection is still opening.
    opening: Option<usize>,
    /// The listener's slot this connection holds, freed with it.
    _slot: Option<OwnedSemaphorePermit>,
}

impl<T> ConnectionClock<T> {
    pub fn new(inner: T, opening: Duration, idle: Duration) -> Self {
        Self { inner, idle, deadline: Box::pin(tokio::time::sleep(opening)), opening: Some(0), _slot: None }
    }

    /// Holds `slot` for as long as the connection lives.
    pub fn holding(self, slot: OwnedSemaphorePermit) -> Self {
        Self { _slot: Some(slot), ..self }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    fn moved(&mut self) {
        if self.opening.is_none() {
            self.deadline.as_mut().reset(Instant::now() + self.idle);
        }
    }

    /// Follows the opening through newly read bytes.
    fn read(&mut self, bytes: &[u8]) {
        if let Some(seen) = self.opening {
            let expected = &HTTP2_PREFACE[seen..];
            let n = bytes.len().min(expected.len());
            if bytes[..n] != expected[..n] || seen + n == HTTP2_PREFACE.len() {
                self.opening = None;
            } else {
                self.opening = Some(seen + n);
            }
        }
        self.moved();
    }

    fn written(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &written
            && *n > 0
        {
            self.moved();
        }
        written
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnectionClock<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() != before {
                    this.read(&buf.filled()[before..]);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    if this.opening.is_some() {
                        "the connection did not open within the header timeout"
                    } else {
                        "the connection was idle too long"
                    },
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

super::write_through!(ConnectionClock);

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> ConnectionClock<()> {
        ConnectionClock::new((), Duration::from_secs(1), Duration::from_secs(30))
    }

    #[tokio::test]
    async fn the_opening_ends_when_the_preface_completes_even_in_pieces() {
        let mut clock = clock();
        clock.read(&HTTP2_PREFACE[..5]);
        assert_eq!(clock.opening, Some(5));
        clock.read(&HTTP2_PREFACE[5..]);
        assert_eq!(clock.opening, None);
    }

    #[tokio::test]
    async fn the_opening_ends_at_the_first_byte_that_is_not_the_preface() {
        let mut clock = clock();
        clock.read(b"P");
        assert_eq!(clock.opening, Some(1), "PUT, POST and PATCH start like the preface");
        clock.read(b"OST / HTTP/1.1\r\n");
        assert_eq!(clock.opening, None);
    }

    #[tokio::test]
    async fn bytes_past_the_preface_in_the_same_read_end_the_opening() {
        let mut clock = clock();
        let mut bytes = HTTP2_PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        clock.read(&bytes);
        assert_eq!(clock.opening, None);
    }
}
