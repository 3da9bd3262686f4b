/// How many units a restock adds: 1 to 1,000,000. Bounded so that no
/// sequence of plausible requests can overflow the stock column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub const MAX: i64 = 1_000_000;

    pub fn parse(raw: i64) -> Result<Self, String> {
        comms::validate::in_range(raw, 1..=Self::MAX).map(Self)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// The stock a new product starts with: 0 to 1,000,000.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InitialStock(i64);

impl InitialStock {
    pub fn parse(raw: i64) -> Result<Self, String> {
        if (0..=Quantity::MAX).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(format!("must be between 0 and {}", Quantity::MAX))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}
