/// A product's stock-keeping unit as the inventory service names it: 1 to
/// 64 characters, no control characters (NUL included: PostgreSQL refuses
/// it in text), taken as sent.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Sku;

    #[test]
    fn skus_are_bounded_and_free_of_control_characters() {
        assert!(Sku::parse("SKU-1").is_ok());
        assert!(Sku::parse(&"x".repeat(64)).is_ok());
        assert!(Sku::parse(&"é".repeat(64)).is_ok(), "the limit counts characters, not bytes");
        for bad in ["", "a\0b", "tab\there", &"x".repeat(65)] {
            assert!(Sku::parse(bad).is_err(), "{bad:?}");
        }
    }
}
