comms::bounded_integer! {
    /// A price in minor units: 0 to 100,000,000.00 (10^10 cents). The bound
    /// keeps any order total far from overflowing an i64.
    pub struct Price(i64) in 0..=10_000_000_000;
}
