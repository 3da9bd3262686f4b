//! The bench's own event: a sequence number and a note whose length sets
//! the payload's size.

use comms::messaging::{Envelope, Event};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Tick {
    pub n: u64,
    pub note: String,
}

impl Event for Tick {
    const TYPE: &'static str = "bench.tick";

    fn subject(&self) -> String {
        self.n.to_string()
    }
}

impl Tick {
    /// A tick whose JSON payload is about `bytes` long (never shorter than
    /// the sequence number itself needs).
    pub fn sized(n: u64, bytes: usize) -> Self {
        let bare = serde_json::json!({ "n": n, "note": "" }).to_string().len();
        Self { n, note: "x".repeat(bytes.saturating_sub(bare)) }
    }

    pub fn envelope(self) -> Envelope {
        Envelope::new("bench", &self, None)
    }
}
