/// An email address a message can be sent to: trimmed, lower-cased, and
/// free of anything that could break out of an SMTP command or a mail
/// header (`<`, `>`, whitespace, control characters). Like the user
/// service's check it is modest; only delivery proves an address works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let address = raw.trim().to_lowercase();
        if address.is_empty() || address.len() > 254 {
            return Err(format!("{raw:?} is not between 1 and 254 characters"));
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err(format!("{raw:?} has no '@'"));
        };
        let plain = !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'));
        if local.is_empty() || domain.is_empty() || domain.contains('@') || !plain {
            return Err(format!("{raw:?} is not an email address"));
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn addresses_are_normalised_and_cannot_smuggle_commands() {
        assert_eq!(Address::parse(" Ops@Switchyard.Local ").unwrap().as_str(), "ops@switchyard.local");
        for bad in ["", "ops", "@x", "ops@", "a@b@c", "a b@x.y", "a@x.y>\r\nRCPT TO:<b@x.y", "a\0@x.y"] {
            assert!(Address::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
