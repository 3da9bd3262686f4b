comms::bounded_integer! {
    /// How many units a restock adds: 1 to 1,000,000. Bounded so that no
    /// sequence of plausible requests can overflow the stock column.
    pub struct Quantity(i64) in 1..=1_000_000;
}

comms::bounded_integer! {
    /// The stock a new product starts with: 0 to 1,000,000.
    #[derive(Default)]
    pub struct InitialStock(i64) in 0..=1_000_000;
}
