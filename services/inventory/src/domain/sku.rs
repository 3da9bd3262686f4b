/// A stock-keeping unit: 1 to 32 characters of `A-Z`, `0-9` and `-`, not
/// starting with `-`. Surrounding spaces, tabs and line breaks are dropped
/// (exactly what the OpenAPI pattern `^[ \t\n\r]*[A-Z0-9][A-Z0-9-]{0,31}[ \t\n\r]*$`
/// allows around it), nothing else is changed:
/// `sku-mug` is not `SKU-MUG`, so it is refused rather than guessed at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let sku = raw.trim_matches([' ', '\t', '\n', '\r']);
        if sku.is_empty() {
            return Err("must not be empty".into());
        }
        if sku.len() > 32 {
            return Err("must be at most 32 characters".into());
        }
        let allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-';
        // Checking the characters also keeps NUL (which PostgreSQL text
        // refuses) and every other control character out.
        if !sku.chars().all(allowed) || sku.starts_with('-') {
            return Err("must be A-Z, 0-9 and '-', not starting with '-'".into());
        }
        Ok(Self(sku.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Sku;

    #[test]
    fn skus_are_trimmed_and_checked() {
        assert_eq!(Sku::parse(" SKU-MUG\n").unwrap().as_str(), "SKU-MUG");
        assert_eq!(Sku::parse(&"A".repeat(32)).unwrap().as_str().len(), 32);
        for bad in ["", "  ", "sku-mug", "-MUG", "SKU MUG", "SKU\0", "SKU_MUG", "ÄPFEL", &"A".repeat(33), "\u{a0}SKU"]
        {
            assert!(Sku::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
