/// How many units of a product a line asks for: 1 to 1,000. The bound keeps
/// totals far from overflow and a typo from reserving a warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub const MAX: i64 = 1000;

    pub fn parse(raw: i64) -> Result<Self, String> {
        comms::validate::in_range(raw, 1..=Self::MAX).map(Self)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}
