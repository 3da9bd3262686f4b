comms::checked_text! {
    /// A product's stock-keeping unit as the inventory service names it: 1 to
    /// 64 characters, no control characters, taken as sent
    /// (`comms::validate::plain_text`). Inventory decides whether it exists.
    pub struct Sku = plain_text(64);
}
