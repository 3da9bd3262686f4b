//! The service reads only the settings every service reads
//! (`comms::settings::ServiceSettings`, under `TEMPLATE_`, defaults from
//! [`crate::SERVICE`]; `settings-keys` lists them).

/// Nothing of its own yet: when it needs some, a struct of its own takes
/// the place of `NoOwnSettings`, as in the order service.
pub type Settings = comms::settings::Settings<comms::settings::NoOwnSettings>;
