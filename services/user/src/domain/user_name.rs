comms::checked_text! {
    /// A user's display name: at most 100 characters as sent, not blank, no
    /// control characters; stored trimmed (`comms::validate::display_name`).
    pub struct UserName = display_name(100);
}
