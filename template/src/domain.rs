//! The service's domain: an item, and its name, parsed once at the edge and
//! trusted afterwards.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An item as it is stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Item {
    pub id: Uuid,
    #[schema(example = "First item")]
    pub name: String,
    /// The user who created it; only they (or an admin) may read it.
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// An item's name: at most 100 characters as sent, something other than
/// white space, no control characters (NUL above all, which PostgreSQL text
/// refuses); stored trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemName(String);

impl ItemName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        // The limit counts what was sent, as the OpenAPI schema's
        // `maxLength` does, so a client checking the schema is never refused.
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be blank".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ItemName;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(ItemName::parse("  First item ").unwrap().as_str(), "First item");
        assert_eq!(ItemName::parse("\u{3000}Ünïcode\u{a0}").unwrap().as_str(), "Ünïcode");
        assert!(ItemName::parse(&"é".repeat(100)).is_ok(), "characters, not bytes");
        let too_long = "a".repeat(101);
        for bad in ["", "   ", "\u{2003}", "a\0b", "tab\there", "end\n", too_long.as_str()] {
            assert!(ItemName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
