comms::checked_text! {
    /// A product's display name: at most 200 characters as sent, not blank,
    /// no control characters; stored trimmed (`comms::validate::display_name`).
    pub struct ProductName = display_name(200);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_limit_is_two_hundred_characters() {
        assert!(super::ProductName::parse(&"a".repeat(200)).is_ok());
        assert!(super::ProductName::parse(&"a".repeat(201)).is_err());
    }
}
