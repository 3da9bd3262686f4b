//! Which copy of a service this is.
//!
//! Several instances of one service run side by side (replicas, compose's
//! `--scale`) with one name, often one advertised host, sometimes one port.
//! Each needs an id of its own: for its registrations, so that the one
//! stopping deregisters only itself; in its log lines and on its spans
//! (`service.instance.id`), so that a trace or a log says which copy did
//! the work. The id is the service's name and eight random hex digits,
//! fixed for the life of the process and never reused.

use std::fmt;
use std::sync::OnceLock;

/// `inventory-3f9c2a71`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceId {
    service: String,
    suffix: String,
}

/// The process's own, once a binary has asked for it ([`InstanceId::of_process`]).
static PROCESS: OnceLock<InstanceId> = OnceLock::new();

impl InstanceId {
    /// A new id for an instance of `service`.
    pub fn new(service: &str) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self { service: service.to_owned(), suffix: random[..8].to_owned() }
    }

    /// This process's id, made on the first call. A service binary asks
    /// for it before anything logs, so its logs, spans and registrations
    /// all carry the same one.
    pub fn of_process(service: &str) -> Self {
        PROCESS.get_or_init(|| Self::new(service)).clone()
    }

    /// The process's id if it is an instance of `service`, else a new one.
    /// Tests run several services, or several copies of one, in a process
    /// that never asked for its own: each gets an id of its own.
    pub fn for_service(service: &str) -> Self {
        match PROCESS.get() {
            Some(process) if process.service == service => process.clone(),
            _ => Self::new(service),
        }
    }

    /// The process's id, if a binary has made one (the log lines' `instance`).
    pub fn process() -> Option<&'static InstanceId> {
        PROCESS.get()
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// What tells this instance from its siblings: the random part.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.service, self.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::InstanceId;

    #[test]
    fn two_instances_of_one_service_never_share_an_id() {
        let (a, b) = (InstanceId::new("inventory"), InstanceId::new("inventory"));
        assert_ne!(a, b);
        assert!(a.to_string().starts_with("inventory-"), "{a}");
        assert_eq!(a.suffix().len(), 8);
        assert!(a.suffix().chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn a_process_that_never_made_its_own_gives_each_copy_a_new_one() {
        // No binary here called `of_process`.
        assert_ne!(InstanceId::for_service("order"), InstanceId::for_service("order"));
    }
}
