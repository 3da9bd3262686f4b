//! Checks that several services' domain types make, written once.

use std::ops::RangeInclusive;

/// `raw` if it lies in `range`, else what a field violation says about it
/// ("must be between 1 and 1000").
pub fn in_range(raw: i64, range: RangeInclusive<i64>) -> Result<i64, String> {
    if range.contains(&raw) { Ok(raw) } else { Err(format!("must be between {} and {}", range.start(), range.end())) }
}

#[cfg(test)]
mod tests {
    use super::in_range;

    #[test]
    fn the_bounds_are_inclusive_and_named_when_missed() {
        assert_eq!(in_range(1, 1..=1000), Ok(1));
        assert_eq!(in_range(1000, 1..=1000), Ok(1000));
        assert_eq!(in_range(0, 1..=1000), Err("must be between 1 and 1000".into()));
        assert_eq!(in_range(1001, 1..=1000), Err("must be between 1 and 1000".into()));
    }
}
