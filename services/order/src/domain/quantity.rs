comms::bounded_integer! {
    /// How many units of a product a line asks for: 1 to 1,000. The bound
    /// keeps totals far from overflow and a typo from reserving a warehouse.
    pub struct Quantity(i64) in 1..=1000;
}
