//! Requests whose length two headers disagree on are marked, not guessed.
//!
//! A request with both `Content-Length` and `Transfer-Encoding` can be read
//! two ways; when a proxy and the server behind it read it differently, one
//! request becomes two (request smuggling). hyper reads such a request as
//! chunked, drops `Content-Length` before a handler sees it and closes the
//! connection afterwards: safe, but silent, and the caller is never told
//! the request was malformed. RFC 9112 (section 6.3) lets a server reject it
//! instead, and that is the clearer answer.
//!
//! So the HTTP/1 byte stream is followed here, request by request (head,
//! then a body by `Content-Length` or by chunks), and a head carrying both
//! headers gets [`MARKER`] added before hyper reads it; the standard layers
//! answer a request with the marker 400 ([`refuse_marked`]). Everything
//! else passes unchanged. An HTTP/2 connection, an upgrade, or anything
//! this cannot follow (a head past the header limit, a malformed length) is
//! passed on as it is from there on: hyper answers those itself.
//!
//! hyper starts its header timer at a head's first byte, and it sees a head
//! only once it is complete, so the header timeout is kept here: a head
//! must be complete within it of its first byte, or reads fail with
//! `TimedOut` and hyper drops the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Sleep;

use super::problem::Problem;
use crate::error::ErrorKind;

/// The header added to a request whose framing is ambiguous. A client that
/// sends it itself gets the same 400.
pub const MARKER: &str = "x-switchyard-ambiguous-framing";

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\n";
/// A chunk-size line (size and extensions) longer than this is not followed.
const MAX_CHUNK_LINE: usize = 4096;

/// Where in the request stream the next byte falls.
#[derive(Debug, PartialEq)]
enum State {
    /// Collecting a request head; nothing of it is handed on until it is
    /// complete.
    Head(Vec<u8>),
    /// This many body bytes still to pass.
    Body(u64),
    /// A chunk-size line, collected up to its line end.
    ChunkSize(Vec<u8>),
    /// This many bytes of chunk data, then its CRLF, still to pass.
    ChunkData(u64),
    /// Trailer lines after the last chunk; `Vec` is the current line.
    Trailers(Vec<u8>),
    /// No longer followed: everything passes.
    Opaque,
}

/// The stream's follower, apart from any I/O (unit-tested on bytes).
#[derive(Debug)]
struct Framing {
    state: State,
    max_head: usize,
}

impl Framing {
    fn new(max_head: usize) -> Self {
        Self { state: State::Head(Vec::new()), max_head }
    }

    /// Follows `input`, appending what hyper should read to `out`.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match &mut self.state {
                State::Opaque => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Body(left) | State::ChunkData(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        // A body ends its request; a chunk's data, its chunk.
                        let request_done = matches!(self.state, State::Body(_));
                        self.state = if request_done { State::Head(Vec::new()) } else { State::ChunkSize(Vec::new()) };
                    }
                }
                State::ChunkSize(line) | State::Trailers(line) => {
                    let end = input.iter().position(|b| *b == b'\n').map_or(input.len(), |i| i + 1);
                    line.extend_from_slice(&input[..end]);
                    out.extend_from_slice(&input[..end]);
                    input = &input[end..];
                    if line.ends_with(b"\n") {
                        let line = std::mem::take(line);
                        self.line_done(&line);
                    } else if line.len() > MAX_CHUNK_LINE {
                        self.state = State::Opaque;
                    }
                }
                State::Head(head) => {
                    // Look for the blank line from just before the new bytes,
                    // so a terminator split across reads is found.
                    let from = head.len().saturating_sub(3);
                    head.extend_from_slice(input);
                    input = &[];
                    if head.starts_with(HTTP2_PREFACE) {
                        out.append(head);
                        self.state = State::Opaque;
                    } else if let Some(at) = find(&head[from..], b"\r\n\r\n").map(|i| from + i + 4) {
                        let rest = head.split_off(at);
                        let head = std::mem::take(head);
                        self.head_done(head, out);
                        // The bytes after the head belong to what comes next.
                        self.feed(&rest, out);
                    } else if head.len() > self.max_head {
                        out.append(head);
                        self.state = State::Opaque;
                    }
                }
            }
        }
    }

    /// A chunk-size or trailer line has ended.
    fn line_done(&mut self, line: &[u8]) {
        self.state = match self.state {
            State::ChunkSize(_) => {
                let text = std::str::from_utf8(line).unwrap_or("");
                let size = text.split(';').next().unwrap_or("").trim();
                match u64::from_str_radix(size, 16) {
                    Ok(0) => State::Trailers(Vec::new()),
                    // The data, then the CRLF that closes it.
                    Ok(size) => State::ChunkData(size.saturating_add(2)),
                    Err(_) => State::Opaque,
                }
            }
            _ if line == b"\r\n" || line == b"\n" => State::Head(Vec::new()),
            _ => State::Trailers(Vec::new()),
        };
    }

    /// A complete head: hand it on (marked if need be) and follow its body.
    fn head_done(&mut self, head: Vec<u8>, out: &mut Vec<u8>) {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(&head);
        let (mut lengths, mut encodings, mut upgrade) = (Vec::new(), Vec::new(), false);
        for header in request.headers.iter() {
            let value = std::str::from_utf8(header.value).unwrap_or("").trim();
            if header.name.eq_ignore_ascii_case("content-length") {
                lengths.push(value.to_owned());
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                encodings.push(value.to_ascii_lowercase());
            } else if header.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        let connect = request.method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
        if matches!(parsed, Ok(httparse::Status::Complete(_))) && !lengths.is_empty() && !encodings.is_empty() {
            // Marked after the request line. hyper closes the connection
            // after this request, so nothing further needs following.
            let line_end = find(&head, b"\r\n").map_or(0, |i| i + 2);
            out.extend_from_slice(&head[..line_end]);
            out.extend_from_slice(format!("{MARKER}: content-length-and-transfer-encoding\r\n").as_bytes());
            out.extend_from_slice(&head[line_end..]);
            self.state = State::Opaque;
            return;
        }
        self.state = if !matches!(parsed, Ok(httparse::Status::Complete(_))) || upgrade || connect {
            State::Opaque
        } else if let Some(last) = encodings.last() {
            match last.rsplit(',').next().map(str::trim) {
                Some("chunked") => State::ChunkSize(Vec::new()),
                _ => State::Opaque, // hyper refuses it
            }
        } else {
            let agree = lengths.windows(2).all(|pair| pair[0] == pair[1]);
            match lengths.first().map(|l| l.parse::<u64>()) {
                None => State::Head(Vec::new()),
                Some(Ok(0)) if agree => State::Head(Vec::new()),
                Some(Ok(length)) if agree => State::Body(length),
                _ => State::Opaque, // hyper refuses it
            }
        };
        out.extend_from_slice(&head);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A socket whose inbound HTTP/1 stream is followed by [`Framing`].
pub struct FramingGuard<T> {
    inner: T,
    framing: Framing,
    header_timeout: Duration,
    /// When the head being collected must be complete.
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// Followed bytes hyper has not read yet.
    ready: Vec<u8>,
    read_at: usize,
}

impl<T> FramingGuard<T> {
    /// What was written, as it was: the guard follows reads only.
    fn written(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        written
    }

    /// `max_head`: past this many bytes a head is handed on unfollowed, for
    /// hyper to answer 431; `header_timeout`: a head must be complete
    /// within it of its first byte.
    pub fn new(inner: T, max_head: usize, header_timeout: Duration) -> Self {
        let framing = Framing::new(max_head);
        Self { inner, framing, header_timeout, head_deadline: None, ready: Vec::new(), read_at: 0 }
    }

    /// Starts the head's clock at its first byte, stops it once it is
    /// handed on.
    fn follow_clock(&mut self) {
        match &self.framing.state {
            State::Head(head) if !head.is_empty() => {
                if self.head_deadline.is_none() {
                    self.head_deadline = Some(Box::pin(tokio::time::sleep(self.header_timeout)));
                }
            }
            _ => self.head_deadline = None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FramingGuard<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.read_at < this.ready.len() {
                let n = (this.ready.len() - this.read_at).min(buf.remaining());
                buf.put_slice(&this.ready[this.read_at..this.read_at + n]);
                this.read_at += n;
                return Poll::Ready(Ok(()));
            }
            this.ready.clear();
            this.read_at = 0;
            if this.framing.state == State::Opaque {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => {
                    if let Some(deadline) = &mut this.head_deadline
                        && deadline.as_mut().poll(cx).is_ready()
                    {
                        let late = "the request's headers did not arrive within the header timeout";
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, late)));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    // The end: a partial head goes on as it is, for hyper
                    // to see it cut short.
                    if let State::Head(head) = &mut this.framing.state
                        && !head.is_empty()
                    {
                        this.ready = std::mem::take(head);
                        this.framing.state = State::Opaque;
                        continue;
                    }
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(())) => {
                    this.framing.feed(read.filled(), &mut this.ready);
                    this.follow_clock();
                }
            }
        }
    }
}

super::write_through!(FramingGuard);

/// The standard layers' answer to a marked request: 400, before any
/// handler (or upstream) sees it.
pub async fn refuse_marked(request: Request, next: Next) -> Response {
    if request.headers().contains_key(MARKER) {
        return Problem::new(ErrorKind::BadRequest)
            .detail("a request may carry Content-Length or Transfer-Encoding, not both")
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What hyper reads when `input` arrives in pieces of `piece` bytes.
    fn followed(input: &[u8], piece: usize) -> Vec<u8> {
        let mut framing = Framing::new(16 * 1024);
        let mut out = Vec::new();
        for part in input.chunks(piece) {
            framing.feed(part, &mut out);
        }
        out
    }

    fn marked(output: &[u8]) -> usize {
        String::from_utf8_lossy(output).matches(MARKER).count()
    }

    #[test]
    fn ordinary_requests_pass_unchanged_however_they_arrive() {
        let stream: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
            POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nT: 1\r\n\r\n\
            GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(followed(stream, piece), stream, "in pieces of {piece}");
        }
    }

    #[test]
    fn both_lengths_are_marked_in_either_order_after_other_requests() {
        for head in [
            "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
        ] {
            let stream = format!("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc{head}0\r\n\r\n");
            for piece in [1, 5, 4096] {
                let out = followed(stream.as_bytes(), piece);
                assert_eq!(marked(&out), 1, "{head:?} in pieces of {piece}");
                let text = String::from_utf8(out).unwrap();
                assert!(text.contains(&format!("POST /x HTTP/1.1\r\n{MARKER}: ")), "{text}");
            }
        }
    }

    #[test]
    fn header_lines_inside_a_body_are_not_taken_for_a_head() {
        let body = "GET /y HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let stream = format!("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        assert_eq!(marked(&followed(stream.as_bytes(), 3)), 0);
        let chunked =
            format!("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
        assert_eq!(marked(&followed(chunked.as_bytes(), 3)), 0);
    }

    #[test]
    fn http2_and_upgrades_pass_unfollowed() {
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
        assert_eq!(followed(h2, 5), h2);
        let upgrade: &[u8] =
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(followed(upgrade, 4), upgrade);
    }

    #[test]
    fn a_head_past_the_limit_is_handed_on_for_hyper_to_refuse() {
        let mut framing = Framing::new(64);
        let mut out = Vec::new();
        framing.feed(&[b'a'; 100], &mut out);
        assert_eq!(out.len(), 100);
        assert_eq!(framing.state, State::Opaque);
    }
}
