/// A display name: at most 100 characters as sent, not blank, no control
/// characters; stored trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        // The limit applies to what was sent, as the OpenAPI schema says.
        if raw.chars().count() > 100 {
            return Err("must be at most 100 characters".into());
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
