//! The dlq tool works with the operator's broker credential (DESIGN.md
//! rule 6: services get only their own). A service's credential could read
//! only its own dead letters and replay none of them, so it is refused up
//! front, by name, rather than failing halfway.

use comms::messaging::settings::BrokerSettings;

/// Why `settings` must not be used, if its AMQP user is one of `services`
/// (with or without the namespace).
pub fn refusal(settings: &BrokerSettings, services: &[&str]) -> Option<String> {
    if settings.broker != "rabbitmq" {
        return None;
    }
    let user = user_of(&settings.amqp_url)?;
    let bare = user.strip_prefix(settings.broker_namespace.as_str()).unwrap_or(&user);
    services.contains(&bare).then(|| {
        format!(
            "AMQP_URL logs in as {user}, the {bare} service's own broker user; the dlq tool needs the operator's \
             (`just dlq` uses operator and .secrets/operator/broker-password)"
        )
    })
}

/// The user of an `amqp://user:password@host/vhost` URL.
fn user_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let credentials = rest.split_once('@')?.0;
    let user = credentials.split(':').next()?;
    (!user.is_empty()).then(|| user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, namespace: &str) -> BrokerSettings {
        BrokerSettings { amqp_url: url.into(), broker_namespace: namespace.into(), ..Default::default() }
    }

    #[test]
    fn a_services_user_is_refused_and_the_operator_is_not() {
        let services = ["inventory", "order"];
        assert!(refusal(&settings("amqp://inventory@127.0.0.1:5672/%2f", ""), &services).is_some());
        assert!(refusal(&settings("amqp://t1.order:pw@127.0.0.1:5672/%2f", "t1."), &services).is_some());
        assert!(refusal(&settings("amqp://operator@127.0.0.1:5672/%2f", ""), &services).is_none());
        assert!(refusal(&settings("amqp://127.0.0.1:5672/%2f", ""), &services).is_none());
    }
}
