//! An SMTP server that records what it is sent, for testing a service's
//! mail delivery over a real SMTP conversation.
//!
//! It speaks enough of RFC 5321 for any plain client: greeting 220,
//! `EHLO`/`HELO` 250, `MAIL`/`RCPT` 250, `DATA` 354 then lines up to a lone
//! `.` (dot-unstuffed) and 250, `RSET`/`NOOP` 250, `QUIT` 221. It can be
//! switched to refuse `MAIL` or the message with a chosen code (451 for a
//! temporary failure, 554 for a permanent one).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpMessage {
    /// The `MAIL FROM` address, without angle brackets.
    pub from: String,
    /// The `RCPT TO` addresses, without angle brackets.
    pub recipients: Vec<String>,
    /// Headers and body as sent, dot-unstuffed, lines joined with CRLF.
    pub data: String,
}

impl SmtpMessage {
    /// The first header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }
}

/// Where a failing sink refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailAt {
    /// The reply to `MAIL FROM`.
    Mail,
    /// The reply after the message's final `.`.
    Data,
}

#[derive(Default)]
struct State {
    messages: Vec<SmtpMessage>,
    /// `MAIL` commands received: one per delivery attempt.
    attempts: usize,
    failure: Option<(FailAt, u16)>,
}

pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Listens on `127.0.0.1:0`, accepting everything.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let task = tokio::spawn({
            let (state, changed) = (state.clone(), changed.clone());
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (state, changed) = (state.clone(), changed.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, &state, &changed).await;
                    });
                }
            }
        });
        Ok(Self { addr, state, changed, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on, answer `code` at `at` (`None`: accept again).
    pub fn fail(&self, failure: Option<(FailAt, u16)>) {
        self.state.lock().expect("sink lock").failure = failure;
    }

    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.state.lock().expect("sink lock").messages.clone()
    }

    /// How many `MAIL` commands arrived (accepted or refused).
    pub fn attempts(&self) -> usize {
        self.state.lock().expect("sink lock").attempts
    }

    /// Waits until at least `n` messages were accepted; false on timeout.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(|s| s.messages.len() >= n, timeout).await
    }

    /// Waits until at least `n` delivery attempts arrived; false on timeout.
    pub async fn wait_for_attempts(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(|s| s.attempts >= n, timeout).await
    }

    async fn wait_until(&self, done: impl Fn(&State) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register before checking, so a change in between is not missed.
            let changed = self.changed.notified();
            if done(&self.state.lock().expect("sink lock")) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }
}

/// One SMTP session.
async fn serve(stream: TcpStream, state: &Mutex<State>, changed: &Notify) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut from = None;
    let mut recipients = Vec::new();
    reply(&mut stream, "220 testkit-smtp ESMTP ready").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let verb = command.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply(&mut stream, "250-testkit-smtp\r\n250 8BITMIME").await?,
            "HELO" | "NOOP" => reply(&mut stream, "250 OK").await?,
            "RSET" => {
                (from, recipients) = (None, Vec::new());
                reply(&mut stream, "250 OK").await?;
            }
            "MAIL" => {
                let failure = {
                    let mut state = state.lock().expect("sink lock");
                    state.attempts += 1;
                    state.failure
                };
                changed.notify_waiters();
                match failure {
                    Some((FailAt::Mail, code)) => reply(&mut stream, &format!("{code} refused by the test")).await?,
                    _ => {
                        from = Some(address(command));
                        reply(&mut stream, "250 OK").await?;
                    }
                }
            }
            "RCPT" if from.is_some() => {
                recipients.push(address(command));
                reply(&mut stream, "250 OK").await?;
            }
            "DATA" if !recipients.is_empty() => {
                reply(&mut stream, "354 end with <CRLF>.<CRLF>").await?;
                let data = read_data(&mut stream).await?;
                let failure = state.lock().expect("sink lock").failure;
                match failure {
                    Some((FailAt::Data, code)) => reply(&mut stream, &format!("{code} refused by the test")).await?,
                    _ => {
                        let message = SmtpMessage {
                            from: from.take().unwrap_or_default(),
                            recipients: std::mem::take(&mut recipients),
                            data,
                        };
                        state.lock().expect("sink lock").messages.push(message);
                        changed.notify_waiters();
                        reply(&mut stream, "250 OK: queued").await?;
                    }
                }
                (from, recipients) = (None, Vec::new());
            }
            "RCPT" | "DATA" => reply(&mut stream, "503 bad sequence of commands").await?,
            "QUIT" => {
                reply(&mut stream, "221 bye").await?;
                return Ok(());
            }
            _ => reply(&mut stream, "500 unrecognised command").await?,
        }
    }
}

/// The lines up to a lone `.`, with the leading dot of stuffed lines removed.
async fn read_data(stream: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed in DATA"));
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            return Ok(lines.join("\r\n"));
        }
        lines.push(text.strip_prefix('.').unwrap_or(text).to_owned());
    }
}

/// The address between `<` and `>` of a `MAIL FROM:` or `RCPT TO:` line.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..].find('>').map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

async fn reply(stream: &mut BufReader<TcpStream>, text: &str) -> std::io::Result<()> {
    stream.get_mut().write_all(format!("{text}\r\n").as_bytes()).await
}
