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
