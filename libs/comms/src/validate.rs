//! Checks that several services' domain types make, written once.

use std::ops::RangeInclusive;

/// `raw` if it lies in `range`, else what a field violation says about it
/// ("must be between 1 and 1000").
pub fn in_range(raw: i64, range: RangeInclusive<i64>) -> Result<i64, String> {
    if range.contains(&raw) { Ok(raw) } else { Err(format!("must be between {} and {}", range.start(), range.end())) }
}

/// A newtype over `i64` that holds only the values of a range: `parse`
/// checks (its message names the bounds), `get` reads, `MIN` and `MAX` say
/// the bounds.
///
/// ```ignore
/// comms::bounded_integer! {
///     /// How many units a line asks for.
///     pub struct Quantity(i64) in 1..=1000;
/// }
/// ```
#[macro_export]
macro_rules! bounded_integer {
    ($(#[$meta:meta])* $vis:vis struct $name:ident(i64) in $min:literal ..= $max:literal;) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis struct $name(i64);

        impl $name {
            pub const MIN: i64 = $min;
            pub const MAX: i64 = $max;

            pub fn parse(raw: i64) -> ::core::result::Result<Self, ::std::string::String> {
                $crate::validate::in_range(raw, Self::MIN..=Self::MAX).map(Self)
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }
    };
}

/// `raw` as sent, if it is 1 to `max_chars` characters (characters, not
/// bytes, as an OpenAPI `maxLength` counts) with no control character:
/// NUL above all, which PostgreSQL text refuses.
pub fn plain_text(raw: &str, max_chars: usize) -> Result<String, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(raw.to_owned())
}

/// A name people read (a user's, a product's): at most `max_chars`
/// characters as sent, something other than white space, no control
/// characters; trimmed.
///
/// Leading white space is what the OpenAPI pattern these names publish
/// (`^\s*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$`) allows
/// before the first character, in the widest reading of `\s`: Python's also
/// counts `\x1c`-`\x1f`, and a schema-driven fuzzer generates names that
/// start with them.
pub fn display_name(raw: &str, max_chars: usize) -> Result<String, String> {
    // The limit counts what was sent, as the schema's `maxLength` does, so
    // a client checking the schema is never refused.
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    let name = raw.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '\x1c'..='\x1f'));
    // After the leading white space the pattern allows no control character,
    // a trailing tab or line break included.
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let name = name.trim_end();
    if name.is_empty() {
        return Err("must not be blank".into());
    }
    Ok(name.to_owned())
}

/// A newtype over `String` that holds only text one of this module's
/// checks accepts: `parse` checks (`plain_text` or `display_name`, with
/// `MAX_CHARS`), `as_str` reads.
///
/// ```ignore
/// comms::checked_text! {
///     /// A product's display name.
///     pub struct ProductName = display_name(200);
/// }
/// ```
#[macro_export]
macro_rules! checked_text {
    ($(#[$meta:meta])* $vis:vis struct $name:ident = $check:ident($max:literal);) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(::std::string::String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> ::core::result::Result<Self, ::std::string::String> {
                $crate::validate::$check(raw, Self::MAX_CHARS).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::{display_name, in_range, plain_text};

    #[test]
    fn plain_text_is_taken_as_sent_within_its_length_and_without_control_characters() {
        assert_eq!(plain_text(" SKU-1 ", 64).unwrap(), " SKU-1 ");
        assert!(plain_text(&"é".repeat(64), 64).is_ok(), "characters, not bytes");
        for bad in ["", "a\0b", "tab\there", &"x".repeat(65)] {
            assert!(plain_text(bad, 64).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_checked() {
        assert_eq!(display_name("  Kettle ", 100).unwrap(), "Kettle");
        assert_eq!(display_name("\t\nTea pot", 100).unwrap(), "Tea pot");
        assert_eq!(display_name("\u{3000}Ünïcode\u{a0}", 100).unwrap(), "Ünïcode");
        assert_eq!(display_name("\x1c\x1fAda", 100).unwrap(), "Ada", "white space in Python's reading of \\s");
        assert!(display_name(&"é".repeat(100), 100).is_ok(), "characters, not bytes");
        let too_long = "a".repeat(101);
        for bad in ["", "   ", "\u{2003}", "a\0b", "tab\there", "end\t", "end\n", "\u{1}Ada", too_long.as_str()] {
            assert!(display_name(bad, 100).is_err(), "{bad:?} should be refused");
        }
        // Counted as sent: trailing spaces still count towards the limit.
        assert!(display_name(&format!("{} ", "a".repeat(100)), 100).is_err());
    }

    #[test]
    fn the_bounds_are_inclusive_and_named_when_missed() {
        assert_eq!(in_range(1, 1..=1000), Ok(1));
        assert_eq!(in_range(1000, 1..=1000), Ok(1000));
        assert_eq!(in_range(0, 1..=1000), Err("must be between 1 and 1000".into()));
        assert_eq!(in_range(1001, 1..=1000), Err("must be between 1 and 1000".into()));
    }
}
