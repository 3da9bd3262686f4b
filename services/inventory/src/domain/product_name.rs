/// A product's display name: at most 200 characters as sent, not blank, no
/// control characters (NUL above all, which PostgreSQL text refuses); stored
/// trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        // The limit applies to what was sent, as the OpenAPI schema says.
        if raw.chars().count() > 200 {
            return Err("must be at most 200 characters".into());
        }
        // Leading white space is dropped as the pattern's `\s*` allows (in
        // Python's reading of `\s`, which also counts \x1c-\x1f, the fuzzer's).
        let name = raw.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '\x1c'..='\x1f'));
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.trim_end().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ProductName;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(ProductName::parse("  Kettle ").unwrap().as_str(), "Kettle");
        assert_eq!(ProductName::parse("\t\nTea pot").unwrap().as_str(), "Tea pot");
        assert!(ProductName::parse(&"a".repeat(200)).is_ok());
        for bad in [String::new(), "   ".into(), "a\0b".into(), "tab\there".into(), "end\t".into(), "a".repeat(201)] {
            assert!(ProductName::parse(&bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
