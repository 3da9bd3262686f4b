//! A raw HTTP/2 client over cleartext TCP that writes frames by hand, for
//! what a well-behaved client library never sends: more streams than the
//! server allows at once, or a burst of streams opened and reset.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const GOAWAY: u8 = 0x7;

pub const CANCEL: u32 = 0x8;
pub const REFUSED_STREAM: u32 = 0x7;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const END_HEADERS: u8 = 0x4;

#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return None,
        };
        Some(u32::from_be_bytes(self.payload.get(at..at + 4)?.try_into().ok()?))
    }
}

pub struct H2c {
    stream: TcpStream,
    read: Vec<u8>,
}

impl H2c {
    /// Connects, sends the preface and an empty SETTINGS frame.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let mut stream = TcpStream::connect(addr).await?;
        let mut opening = PREFACE.to_vec();
        opening.extend(frame(SETTINGS, 0, 0, &[]));
        stream.write_all(&opening).await?;
        Ok(Self { stream, read: Vec::new() })
    }

    /// Opens the streams `ids` (odd numbers, rising) with a GET of `path`
    /// whose request never ends, so each stays open; with `reset`, each is
    /// cancelled right after it opens. All frames go in one write, so the
    /// server reads them as one burst.
    pub async fn open(&mut self, ids: impl IntoIterator<Item = u32>, path: &str, reset: bool) -> std::io::Result<()> {
        let block = request_headers(path);
        let mut bytes = Vec::new();
        for id in ids {
            bytes.extend(frame(HEADERS, END_HEADERS, id, &block));
            if reset {
                bytes.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
            }
        }
        self.stream.write_all(&bytes).await
    }

    /// The next frame the server sends, `None` once the connection ends or
    /// nothing arrives within `within`.
    pub async fn next_frame(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.read.len() >= 9 {
                let length =
                    usize::from(self.read[0]) << 16 | usize::from(self.read[1]) << 8 | usize::from(self.read[2]);
                if self.read.len() >= 9 + length {
                    let head: Vec<u8> = self.read.drain(..9 + length).collect();
                    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
                    return Some(Frame { kind: head[3], flags: head[4], stream, payload: head[9..].to_vec() });
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.read.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Reads frames until one matches `wanted`; `None` if the connection
    /// ends or `within` passes first.
    pub async fn wait_for(&mut self, within: Duration, wanted: impl Fn(&Frame) -> bool) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next_frame(left).await?;
            if wanted(&frame) {
                return Some(frame);
            }
        }
    }
}

/// One frame: 24-bit length, type, flags, stream id, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("a small frame").to_be_bytes();
    let mut bytes = vec![length[1], length[2], length[3], kind, flags];
    bytes.extend(stream.to_be_bytes());
    bytes.extend(payload);
    bytes
}

/// `GET path` over http to 127.0.0.1, HPACK-encoded with the static table
/// and literals only (no dynamic table, no Huffman), so every block is the
/// same and the server's decoder state never matters.
fn request_headers(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
    for (index, value) in [(4u8, path), (1u8, "127.0.0.1")] {
        // Literal without indexing, name from the static table (:path,
        // :authority); values stay short enough for a one-byte length.
        block.push(index);
        block.push(u8::try_from(value.len()).expect("a value under 127 bytes"));
        block.extend(value.as_bytes());
    }
    block
}
