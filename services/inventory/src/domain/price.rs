/// A price in minor units: 0 to 100,000,000.00 (10^10 cents). The bound
/// keeps any order total far from overflowing an i64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price(i64);

impl Price {
    pub const MAX: i64 = 10_000_000_000;

    pub fn parse(raw: i64) -> Result<Self, String> {
        comms::validate::in_range(raw, 0..=Self::MAX).map(Self)
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}
