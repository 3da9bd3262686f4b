//! A broker namespace of the test's own on the shared RabbitMQ (or Kafka):
//! its exchange, queues, topics and groups carry a unique prefix, so tests
//! running side by side never see each other's messages, and its queues
//! expire once unused.

use comms::messaging::settings::BrokerSettings;

/// Settings for a fresh namespace on `BROKER` (RabbitMQ unless set).
pub fn broker_settings() -> BrokerSettings {
    let mut settings = BrokerSettings::from_env().unwrap_or_default();
    settings.broker_namespace = format!("test-{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    settings.broker_queue_expiry_secs = Some(120);
    settings
}

/// The same settings as a service process reads them from its environment.
pub fn broker_env(settings: &BrokerSettings) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("BROKER", settings.broker.clone()),
        ("AMQP_URL", settings.amqp_url.clone()),
        ("KAFKA_BROKERS", settings.kafka_brokers.clone()),
        ("BROKER_NAMESPACE", settings.broker_namespace.clone()),
    ];
    if let Some(expiry) = settings.broker_queue_expiry_secs {
        env.push(("BROKER_QUEUE_EXPIRY_SECS", expiry.to_string()));
    }
    env
}

/// The shared settings of `service` for a test: loopback, free ports
/// (port 0), the test's own database and broker namespace, a short drain,
/// and its test identity and keys (`identity::auth_settings`).
pub fn service_settings(
    service: &comms::settings::ServiceDefaults,
    database_url: &str,
) -> comms::settings::ServiceSettings {
    let mut settings = comms::settings::ServiceSettings::defaults(service);
    settings.host = "127.0.0.1".into();
    settings.http_port = 0;
    settings.grpc_port = service.grpc_port.map(|_| 0);
    settings.database_url = service.database.map(|_| database_url.to_owned());
    settings.shutdown_grace_secs = 5;
    settings.broker = service.uses_broker().then(broker_settings);
    settings.auth = crate::identity::auth_settings(service);
    settings
}
