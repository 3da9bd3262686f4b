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
    // The gauge of waiting dead letters follows within a second.
    settings.broker_dead_letter_check_secs = 1;
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
    env.push(("BROKER_DEAD_LETTER_CHECK_SECS", settings.broker_dead_letter_check_secs.to_string()));
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
    settings.metrics_port = 0;
    settings.database_url = service.database.map(|_| database_url.to_owned());
    settings.shutdown_grace_secs = 5;
    settings.broker = service.uses_broker().then(broker_settings);
    settings.auth = crate::identity::auth_settings(service);
    settings
}

/// `rabbitmqctl` for the broker the tests use, ready for its arguments:
/// deploy/rabbitmq/ctl.sh, which finds it as init.sh and `just
/// clean-test-dbs` do.
pub fn rabbitmqctl() -> std::process::Command {
    std::process::Command::new(deploy_rabbitmq().join("ctl.sh"))
}

fn deploy_rabbitmq() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rabbitmq")
}

/// RabbitMQ users of a test's own, made by deploy/rabbitmq/init.sh exactly
/// as an installation's are: one per service of deploy/rabbitmq/users and
/// an operator, each named and confined to `namespace`, with passwords made
/// here. Deleted on drop; guest is never touched.
pub struct BrokerUsers {
    pub namespace: String,
    passwords: std::collections::HashMap<String, String>,
}

impl BrokerUsers {
    pub async fn create(namespace: &str) -> anyhow::Result<Self> {
        let root = deploy_rabbitmq();
        let listed = std::fs::read_to_string(root.join("users"))?;
        let mut names: Vec<String> = listed
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .collect();
        names.push("operator".into());
        let secrets = std::env::temp_dir().join(format!("switchyard-broker-{namespace}"));
        let passwords: std::collections::HashMap<String, String> =
            names.iter().map(|name| (name.clone(), uuid::Uuid::new_v4().simple().to_string())).collect();
        for (name, password) in &passwords {
            std::fs::create_dir_all(secrets.join(name))?;
            std::fs::write(secrets.join(name).join("broker-password"), password)?;
        }
        let users = Self { namespace: namespace.to_owned(), passwords };
        let made = tokio::process::Command::new(root.join("init.sh"))
            .arg(&secrets)
            .env("BROKER_NAMESPACE", namespace)
            .env("EXCHANGE_AUTO_DELETE", "true")
            .output()
            .await;
        std::fs::remove_dir_all(&secrets)?;
        let made = made?;
        anyhow::ensure!(
            made.status.success(),
            "deploy/rabbitmq/init.sh failed: {}{}",
            String::from_utf8_lossy(&made.stdout),
            String::from_utf8_lossy(&made.stderr)
        );
        Ok(users)
    }

    /// The local broker's URL as `name`'s user (a service, or `operator`).
    pub fn url(&self, name: &str) -> String {
        let password = &self.passwords[name];
        format!("amqp://{}{name}:{password}@127.0.0.1:5672/%2f", self.namespace)
    }

    /// A user's password.
    pub fn password(&self, name: &str) -> &str {
        &self.passwords[name]
    }

    /// Whether `name` has a user: every service that uses the broker, and
    /// the operator.
    pub fn has(&self, name: &str) -> bool {
        self.passwords.contains_key(name)
    }
}

impl Drop for BrokerUsers {
    fn drop(&mut self) {
        let users: Vec<String> = self.passwords.keys().map(|name| format!("{}{name}", self.namespace)).collect();
        // One rabbitmqctl call for all (each call starts an Erlang VM, about
        // a second), one per user if that fails.
        let list: Vec<String> = users.iter().map(|user| format!("<<\"{user}\">>")).collect();
        let expression = format!(
            "lists:foreach(fun(U) -> rabbit_auth_backend_internal:delete_user(U, <<\"switchyard-tests\">>) end, [{}]).",
            list.join(",")
        );
        let all = rabbitmqctl().args(["-q", "eval", &expression]).output();
        if !all.is_ok_and(|out| out.status.success()) {
            for user in &users {
                let _ = rabbitmqctl().args(["-q", "delete_user", user]).output();
            }
        }
    }
}
