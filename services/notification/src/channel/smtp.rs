//! A minimal SMTP client (RFC 5321): one connection per message, no TLS
//! and no authentication, which is what a relay on a private network or a
//! mail catcher (compose) expects.
//!
//! The conversation: greeting 220, `EHLO` (or `HELO` for an old server)
//! 250, `MAIL FROM` 250, `RCPT TO` 250, `DATA` 354, the message with its
//! lines dot-stuffed and a lone `.` to end it, 250, `QUIT`. Every reply is
//! checked: 4xx is a temporary failure, 5xx a permanent one (the RFC's own
//! split: "the SMTP client SHOULD NOT repeat the exact request" after 5yz).

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Channel, SendError, mime};
use crate::config::SmtpSettings;
use crate::domain::{Address, Notification};

/// Longest reply line read (the RFC allows 512 octets) and most lines per
/// reply: a broken server cannot make us buffer without end.
const MAX_LINE: u64 = 1024;
const MAX_LINES: usize = 100;

pub struct SmtpChannel {
    host: String,
    port: u16,
    from: Address,
    /// Bounds the connect and each reply.
    timeout: Duration,
}

impl SmtpChannel {
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let from = Address::parse(&settings.from).map_err(|e| anyhow::anyhow!("NOTIFICATION_SMTP__FROM: {e}"))?;
        Ok(Self {
            host: settings.host.clone(),
            port: settings.port,
            from,
            timeout: Duration::from_secs(settings.timeout_secs.max(1)),
        })
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), SendError> {
        let to = Address::parse(&notification.recipient).map_err(SendError::Rejected)?;
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let stream = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(SendError::Temporary(format!("connect to {}:{}: {e}", self.host, self.port))),
            Err(_) => return Err(SendError::Temporary(format!("connect to {}:{}: timed out", self.host, self.port))),
        };
        let mut session = Session { stream: BufReader::new(stream), timeout: self.timeout };
        session.expect("greeting", 220).await?;
        // The name we greet with: the part after '@' of our own address.
        let hello = self.from.as_str().rsplit('@').next().unwrap_or("localhost");
        match session.command(&format!("EHLO {hello}"), 250).await {
            // A server from before ESMTP does not know EHLO.
            Err(SendError::Rejected(_)) => session.command(&format!("HELO {hello}"), 250).await?,
            other => other?,
        }
        session.command(&format!("MAIL FROM:<{}>", self.from.as_str()), 250).await?;
        session.command(&format!("RCPT TO:<{}>", to.as_str()), 250).await?;
        session.command("DATA", 354).await?;
        let message = mime::render(&self.from, &to, notification);
        session.write(&dot_stuffed(&message)).await?;
        session.expect("end of data", 250).await?;
        // The server has taken the message; a failed goodbye changes nothing.
        let _ = session.command("QUIT", 221).await;
        Ok(())
    }
}

impl Channel for SmtpChannel {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(self.deliver(notification))
    }
}

struct Session {
    stream: BufReader<TcpStream>,
    timeout: Duration,
}

impl Session {
    /// Sends one command line and checks its reply.
    async fn command(&mut self, line: &str, expected: u16) -> Result<(), SendError> {
        self.write(&format!("{line}\r\n")).await?;
        // Name the command in errors, not its argument (an address).
        let verb = line.split([' ', ':']).next().unwrap_or(line);
        self.expect(verb, expected).await
    }

    async fn write(&mut self, text: &str) -> Result<(), SendError> {
        let written = tokio::time::timeout(self.timeout, self.stream.get_mut().write_all(text.as_bytes())).await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SendError::Temporary(format!("write: {e}"))),
            Err(_) => Err(SendError::Temporary("write: timed out".into())),
        }
    }

    /// Reads one (possibly multi-line) reply and checks its code's class
    /// (`RCPT` may answer 251 for 250, both positive).
    async fn expect(&mut self, step: &str, expected: u16) -> Result<(), SendError> {
        let reply = match tokio::time::timeout(self.timeout, self.reply()).await {
            Ok(reply) => reply.map_err(|e| SendError::Temporary(format!("{step}: {e}")))?,
            Err(_) => return Err(SendError::Temporary(format!("{step}: no reply within {:?}", self.timeout))),
        };
        match reply.code {
            code if code / 100 == expected / 100 => Ok(()),
            400..=499 => Err(SendError::Temporary(format!("{step}: {}", reply.text))),
            500..=599 => Err(SendError::Rejected(format!("{step}: {}", reply.text))),
            _ => Err(SendError::Temporary(format!("{step}: expected {expected}, got {}", reply.text))),
        }
    }

    async fn reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = (&mut self.stream).take(MAX_LINE).read_line(&mut line).await?;
            if read == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
            }
            let line = line.trim_end().to_owned();
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a reply: {line:?}")));
            };
            // `250-...` continues the reply; `250 ...` (or `250`) ends it.
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(Reply { code, text: lines.join(" / ") });
            }
            if lines.len() >= MAX_LINES {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "reply too long"));
            }
        }
    }
}

struct Reply {
    code: u16,
    text: String,
}

/// The DATA section: every line ends in CRLF, a line starting with `.`
/// gets another in front (the server removes it), and a lone `.` ends it.
fn dot_stuffed(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    let body = message.strip_suffix("\r\n").unwrap_or(message);
    for line in body.split("\r\n") {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::dot_stuffed;

    #[test]
    fn lines_starting_with_a_dot_are_stuffed_and_a_lone_dot_ends_the_data() {
        assert_eq!(dot_stuffed("Hi\r\n.\r\n..x\r\nend\r\n"), "Hi\r\n..\r\n...x\r\nend\r\n.\r\n");
        assert_eq!(dot_stuffed("no final newline"), "no final newline\r\n.\r\n");
    }
}
