//! A notification as an Internet message (RFC 5322): headers, a blank line,
//! a plain-text body.
//!
//! Everything is made 7-bit so any SMTP server takes it without extensions:
//! a non-ASCII subject becomes RFC 2047 encoded words, and the body is
//! quoted-printable (RFC 2045), which also keeps lines under the 998-octet
//! limit whatever a template produced. Lines end in CRLF.

use std::fmt::Write;

use crate::domain::{Address, Notification};

/// Quoted-printable lines stay within 76 characters, the `=` of a soft
/// break included.
const QP_LINE: usize = 76;

pub fn render(from: &Address, to: &Address, notification: &Notification) -> String {
    let domain = from.as_str().rsplit('@').next().unwrap_or("localhost");
    let mut message = String::new();
    let headers = [
        ("From", format!("<{}>", from.as_str())),
        ("To", format!("<{}>", to.as_str())),
        ("Subject", encode_header(&notification.subject)),
        ("Date", notification.created_at.to_rfc2822()),
        // Stable per notification: a retried delivery is recognisably the
        // same message to whoever receives both copies.
        ("Message-ID", format!("<{}@{domain}>", notification.id)),
        ("MIME-Version", "1.0".to_owned()),
        ("Content-Type", "text/plain; charset=utf-8".to_owned()),
        ("Content-Transfer-Encoding", "quoted-printable".to_owned()),
    ];
    for (name, value) in headers {
        let _ = write!(message, "{name}: {value}\r\n");
    }
    message.push_str("\r\n");
    message.push_str(&quoted_printable(&notification.body));
    message
}

/// A header value: as it is if plain printable ASCII, else encoded words
/// of at most 75 characters, folded onto continuation lines.
fn encode_header(value: &str) -> String {
    // Control characters never reach a header, encoded or not.
    let value: String = value.chars().filter(|c| !c.is_control()).collect();
    if value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return value;
    }
    const OPEN: &str = "=?utf-8?q?";
    const CLOSE: &str = "?=";
    let mut words = Vec::new();
    let mut word = String::new();
    for c in value.chars() {
        let mut encoded = String::new();
        if c.is_ascii_alphanumeric() {
            encoded.push(c);
        } else if c == ' ' {
            encoded.push('_');
        } else {
            let mut utf8 = [0; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(encoded, "={byte:02X}");
            }
        }
        // A character's bytes never split across words (RFC 2047 §5).
        if OPEN.len() + word.len() + encoded.len() + CLOSE.len() > 75 {
            words.push(std::mem::take(&mut word));
        }
        word.push_str(&encoded);
    }
    words.push(word);
    words.iter().map(|w| format!("{OPEN}{w}{CLOSE}")).collect::<Vec<_>>().join("\r\n ")
}

/// The body, quoted-printable, with CRLF line ends.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let token = match byte {
                // Trailing white space would be stripped in transit.
                b' ' | b'\t' if last => format!("={byte:02X}"),
                b' ' | b'\t' => (byte as char).to_string(),
                b'=' => "=3D".to_owned(),
                b'!'..=b'~' => (byte as char).to_string(),
                _ => format!("={byte:02X}"),
            };
            // Room for the token and, unless it ends the line, a soft break.
            let room = if last { QP_LINE } else { QP_LINE - 1 };
            if width + token.len() > room {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&token);
            width += token.len();
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_subjects_are_left_alone_and_others_are_encoded_words() {
        assert_eq!(encode_header("Your order is confirmed"), "Your order is confirmed");
        assert_eq!(encode_header("Welcome, Zoë"), "=?utf-8?q?Welcome=2C_Zo=C3=AB?=");
        let long = encode_header(&"é".repeat(40));
        for line in long.split("\r\n") {
            assert!(line.trim_start().len() <= 75, "{line:?} is too long");
            assert!(line.trim_start().starts_with("=?utf-8?q?") && line.ends_with("?="));
        }
    }

    #[test]
    fn bodies_are_quoted_printable_with_short_crlf_lines() {
        assert_eq!(quoted_printable("a=b \nZoë\n"), "a=3Db=20\r\nZo=C3=AB\r\n\r\n");
        let long = quoted_printable(&"x".repeat(200));
        assert!(long.split("\r\n").all(|line| line.len() <= QP_LINE), "{long}");
        assert_eq!(long.replace("=\r\n", "").trim_end(), "x".repeat(200));
    }

    #[test]
    fn a_rendered_message_has_headers_a_blank_line_and_the_body() {
        let notification = Notification {
            id: uuid::Uuid::nil(),
            event_id: uuid::Uuid::nil(),
            event_type: "user.registered".into(),
            user_id: None,
            recipient: "ada@example.com".into(),
            subject: "Hello".into(),
            body: "Hi Ada\n.\n".into(),
            status: crate::domain::Status::Pending,
            attempts: 0,
            last_error: None,
            created_at: chrono::Utc::now(),
            sent_at: None,
        };
        let from = Address::parse("notifications@switchyard.local").unwrap();
        let to = Address::parse("ada@example.com").unwrap();
        let text = render(&from, &to, &notification);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Subject: Hello\r\n"));
        assert!(head.contains("Message-ID: <00000000-0000-0000-0000-000000000000@switchyard.local>"));
        assert_eq!(body, "Hi Ada\r\n.\r\n\r\n");
    }
}
