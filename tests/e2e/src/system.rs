//! Starting, stopping and restarting the system's processes.

use std::collections::HashMap;
use std::path::PathBuf;

use comms::messaging::settings::BrokerSettings;
use testkit::{BrokerUsers, ConsulDouble, ServiceProcess, TestDatabase};

/// Every service binary, in start order: a service starts after the ones it
/// calls, as compose's `depends_on` orders them.
pub const SERVICES: &[&str] = &["user", "inventory", "order", "notification", "analytics", "gateway"];

pub const ADMIN_EMAIL: &str = "admin@switchyard.local";

/// The seed admin's password, made per run as deploy/secrets.sh makes one
/// per installation: no password is written in the repository.
pub fn admin_password() -> &'static str {
    static PASSWORD: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string());
    &PASSWORD
}

/// How a test wants the system started; [`System::start`] takes the
/// defaults.
#[derive(Default)]
pub struct Options {
    /// How many user service instances (one if 0), on one database, all
    /// listed as key sources to every verifier.
    pub user_instances: usize,
    /// Where the user service reads its signing keys as files (as compose
    /// mounts them, for deploy/rotate-key.sh to change); unset, it
    /// gets a key of the run's own in its environment.
    pub user_key_dir: Option<PathBuf>,
    /// More variables for every process (each reads those of its prefix).
    pub env: Vec<(&'static str, String)>,
    /// Instances of other services: `("order", 2)` runs `order` and
    /// `order-2`, on one database and one queue, each registered.
    pub replicas: Vec<(&'static str, usize)>,
    /// An instance (`inventory-2`) that reaches its database through a
    /// fault proxy the test can slow ([`System::database_proxy`]).
    pub slow_database_for: Option<&'static str>,
}

pub struct System {
    /// The gateway's base URL: the only address tests talk to.
    pub gateway: String,
    pub consul: ConsulDouble,
    pub broker: BrokerSettings,
    processes: HashMap<&'static str, ServiceProcess>,
    env: HashMap<&'static str, Vec<(&'static str, String)>>,
    /// Variables one instance gets instead of its service's.
    instance_env: HashMap<&'static str, Vec<(&'static str, String)>>,
    database_proxy: Option<testkit::FaultProxy>,
    _databases: Vec<TestDatabase>,
    /// Dropped after the processes (fields drop in order): a user is
    /// deleted only once nothing logs in as it.
    _broker_users: Option<BrokerUsers>,
}

impl System {
    /// Starts everything on `broker` (`rabbitmq` or `kafka`), each service
    /// on free ports, registered in the Consul double.
    pub async fn start(broker: &str) -> anyhow::Result<Self> {
        Self::start_with(broker, Options::default()).await
    }

    pub async fn start_with(broker: &str, options: Options) -> anyhow::Result<Self> {
        let otlp = testkit::otlp();
        let consul = ConsulDouble::start().await;
        let mut broker_settings = testkit::broker_settings();
        broker.clone_into(&mut broker_settings.broker);
        // On RabbitMQ each service logs in as its own user, made by the
        // script compose runs (deploy/rabbitmq/init.sh), not as guest.
        let broker_users = match broker {
            "rabbitmq" => Some(BrokerUsers::create(&broker_settings.broker_namespace).await?),
            _ => None,
        };
        let shared: Vec<(&'static str, String)> = testkit::broker_env(&broker_settings)
            .into_iter()
            .chain([("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint().to_owned()), ("RUST_LOG", "info".to_owned())])
            .collect();

        let mut databases = Vec::new();
        let mut env = HashMap::new();
        for &service in SERVICES {
            let prefix = prefix(service);
            let mut vars = shared.clone();
            vars.push((leak(format!("{prefix}HOST")), "127.0.0.1".into()));
            vars.push((leak(format!("{prefix}CONSUL_URL")), consul.url()));
            // Each its own key and every service's public one, as
            // deploy/secrets.sh gives them; user-token keys from the real
            // user service, at the address `launch` configures once it runs.
            vars.push((leak(format!("{prefix}AUTH__IDENTITY_KEY")), testkit::identity::identity_pem(service)));
            vars.push((leak(format!("{prefix}AUTH__SERVICE_KEYS")), testkit::identity::service_keys()));
            if service == "gateway" {
                vars.retain(|(k, _)| !k.starts_with("BROKER") && !["AMQP_URL", "KAFKA_BROKERS"].contains(k));
                vars.push(("GATEWAY_PORT", "0".into()));
                vars.push(("GATEWAY_METRICS_PORT", "0".into()));
                vars.push(("GATEWAY_ROUTES_FILE", repo_path("deploy/gateway/routes.json")));
            } else {
                let db = TestDatabase::create_empty().await?;
                vars.push((leak(format!("{prefix}DATABASE_URL")), db.url.clone()));
                vars.push((leak(format!("{prefix}ADVERTISE_HOST")), "127.0.0.1".into()));
                vars.push((leak(format!("{prefix}HTTP_PORT")), "0".into()));
                vars.push((leak(format!("{prefix}METRICS_PORT")), "0".into()));
                if service != "notification" {
                    vars.push((leak(format!("{prefix}GRPC_PORT")), "0".into()));
                }
                vars.push((leak(format!("{prefix}SHUTDOWN_GRACE_SECS")), "3".into()));
                databases.push(db);
            }
            if let Some(users) = broker_users.as_ref().filter(|users| users.has(service)) {
                vars.retain(|(k, _)| *k != "AMQP_URL");
                vars.push(("AMQP_URL", users.url(service)));
            }
            vars.extend(service_specific(service, options.user_key_dir.as_deref()));
            vars.extend(options.env.iter().cloned());
            env.insert(service, vars);
        }

        let mut system = Self {
            gateway: String::new(),
            consul,
            broker: broker_settings,
            processes: HashMap::new(),
            env,
            instance_env: HashMap::new(),
            database_proxy: None,
            _databases: databases,
            _broker_users: broker_users,
        };
        if let Some(instance) = options.slow_database_for {
            let service = SERVICES.iter().copied().find(|s| instance.starts_with(s)).expect("an instance of a service");
            let server = testkit::db::server_address();
            let proxy = testkit::FaultProxy::start(server).await?;
            let url = system.database_url(service).replace(&server.to_string(), &proxy.addr().to_string());
            system.instance_env.insert(instance, vec![(leak(format!("{}DATABASE_URL", prefix(service))), url)]);
            system.database_proxy = Some(proxy);
        }
        for &service in SERVICES {
            if service == "user" {
                // Every instance up before anyone verifies tokens: each is
                // a key source.
                let instances: Vec<&'static str> = (1..=options.user_instances.max(1))
                    .map(|n| if n == 1 { "user" } else { leak(format!("user-{n}")) })
                    .collect();
                for &instance in &instances {
                    system.launch_instance("user", instance).await?;
                }
                let addresses: Vec<_> = instances.iter().map(|i| system.processes[i].addr("http_addr")).collect();
                system.configure_user_keys(&addresses);
            } else {
                let count = options.replicas.iter().find(|(s, _)| *s == service).map_or(1, |(_, n)| *n);
                for n in 1..=count {
                    let instance = if n == 1 { service } else { leak(format!("{service}-{n}")) };
                    system.launch_instance(service, instance).await?;
                }
            }
        }
        system.gateway = format!("http://{}", system.processes["gateway"].addr("http_addr"));
        Ok(system)
    }

    /// Stops a service as an orchestrator would (SIGTERM), waiting for it.
    pub async fn stop(&mut self, service: &str) -> anyhow::Result<()> {
        let mut process = self.processes.remove(service).ok_or_else(|| anyhow::anyhow!("{service} is not running"))?;
        process.terminate()?;
        process.wait(std::time::Duration::from_secs(15)).await?;
        Ok(())
    }

    /// Starts a stopped service again, with the same database and settings.
    pub async fn restart(&mut self, service: &'static str) -> anyhow::Result<()> {
        self.launch(service).await
    }

    /// SIGKILLs an instance: no drain, no deregistration.
    pub async fn kill(&mut self, instance: &str) -> anyhow::Result<()> {
        let mut process =
            self.processes.remove(instance).ok_or_else(|| anyhow::anyhow!("{instance} is not running"))?;
        process.kill()?;
        let _ = process.wait(std::time::Duration::from_secs(5)).await?;
        Ok(())
    }

    /// The running instances of `service` (`order`, `order-2`).
    pub fn instances(&self, service: &str) -> Vec<&'static str> {
        let mut found: Vec<_> = self
            .processes
            .keys()
            .copied()
            .filter(|i| *i == service || i.strip_prefix(service).is_some_and(|n| n.starts_with('-')))
            .collect();
        found.sort_unstable();
        found
    }

    /// The proxy in front of the database of [`Options::slow_database_for`].
    pub fn database_proxy(&self) -> &testkit::FaultProxy {
        self.database_proxy.as_ref().expect("Options::slow_database_for names an instance")
    }

    /// Whether Consul lists `instance` as passing (its HTTP registration).
    pub fn is_listed(&self, service: &str, instance: &str) -> bool {
        self.consul.is_passing_at(service, self.http_addr(instance).port())
    }

    /// The log lines a service has written so far.
    pub fn logs(&self, service: &str) -> Vec<String> {
        self.processes.get(service).map(ServiceProcess::logs).unwrap_or_default()
    }

    /// A running process's HTTP address (`user-2` for the second user
    /// instance).
    pub fn http_addr(&self, instance: &str) -> std::net::SocketAddr {
        self.processes[instance].addr("http_addr")
    }

    /// A running process's internal listener, the one serving `/metrics`.
    pub fn metrics_addr(&self, instance: &str) -> std::net::SocketAddr {
        self.processes[instance].addr("metrics_addr")
    }

    /// The database URL `service` was given.
    pub fn database_url(&self, service: &str) -> String {
        let key = format!("{}DATABASE_URL", prefix(service));
        self.env[service].iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).expect("a service with a database")
    }

    /// Runs the dlq tool (`just dlq`) on this system's broker as its
    /// operator; returns its exit status and output.
    pub async fn dlq(&self, args: &[&str]) -> (i32, String) {
        let mut settings = self.broker.clone();
        if let Some(users) = &self._broker_users {
            settings.amqp_url = users.url("operator");
        }
        let output = tokio::process::Command::new(binary("dlq").expect("the dlq tool is built"))
            .args(args)
            .envs(testkit::broker_env(&settings))
            .env("DLQ_SERVICES", repo_path("deploy/services.toml"))
            .env_remove("AMQP_PASSWORD_FILE")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("the dlq tool runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap_or(-1), text)
    }

    async fn launch(&mut self, service: &'static str) -> anyhow::Result<()> {
        self.launch_instance(service, service).await
    }

    async fn launch_instance(&mut self, service: &'static str, instance: &'static str) -> anyhow::Result<()> {
        let binary = binary(service)?;
        let mut env = self.env[service].clone();
        for (key, value) in self.instance_env.get(instance).into_iter().flatten() {
            env.retain(|(k, _)| k != key);
            env.push((key, value.clone()));
        }
        let process = ServiceProcess::spawn(&binary, &env).await?;
        if service != "gateway" {
            self.wait_until_passing(service, &process).await?;
        }
        self.processes.insert(instance, process);
        Ok(())
    }

    /// Every other service fetches user-token keys from the user instances
    /// at `users`: configured addresses, as compose configures them.
    fn configure_user_keys(&mut self, users: &[std::net::SocketAddr]) {
        let urls: Vec<String> = users.iter().map(|user| format!("http://{user}/.well-known/jwks.json")).collect();
        for (service, vars) in self.env.iter_mut().filter(|(service, _)| **service != "user") {
            let key = leak(format!("{}AUTH__USER_KEYS_URLS", prefix(service)));
            vars.retain(|(k, _)| *k != key);
            vars.push((key, urls.join(",")));
        }
    }

    /// Waits until Consul's health check of the service passes, as compose
    /// waits for `service_healthy` before starting what depends on it.
    async fn wait_until_passing(&self, service: &str, process: &ServiceProcess) -> anyhow::Result<()> {
        let port = process.addr("http_addr").port();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if self.consul.is_passing_at(service, port) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!("{service} never passed its health check; its log:\n{}", process.logs().join("\n"))
    }
}

fn service_specific(service: &str, user_key_dir: Option<&std::path::Path>) -> Vec<(&'static str, String)> {
    match service {
        "user" => {
            let file = |name: &str| user_key_dir.map(|dir| dir.join(name).display().to_string()).unwrap_or_default();
            let keys = match user_key_dir {
                Some(_) => vec![
                    ("USER_JWT__PRIVATE_KEY_FILE", file("jwt-ed25519.pem")),
                    (
                        "USER_JWT__PUBLISHED_KEY_FILES",
                        format!("{},{}", file("jwt-ed25519.previous.pem"), file("jwt-ed25519.next.pem")),
                    ),
                ],
                None => vec![("USER_JWT__PRIVATE_KEY", testkit::keys::ed25519_pem())],
            };
            keys.into_iter()
                .chain([
                    ("USER_SEED_ADMIN__EMAIL", ADMIN_EMAIL.into()),
                    ("USER_SEED_ADMIN__PASSWORD", admin_password().into()),
                ])
                .collect()
        }
        // Logging at warn must not turn tracing off: inventory's spans are
        // still expected in the trace of an order (`flow.rs`). Its start-up
        // line stays at info, for the test kit to read its ports from.
        "inventory" => vec![("RUST_LOG", "warn,comms::service=info".into())],
        _ => vec![],
    }
}

fn prefix(service: &str) -> String {
    format!("{}_", service.to_uppercase())
}

/// Variable names are built once per service and live for the test run.
pub fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn repo_path(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative).display().to_string()
}

/// The built binary; `deploy/build.sh dev all` (the first step of
/// `just test`) builds all six.
fn binary(service: &str) -> anyhow::Result<String> {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| PathBuf::from(repo_path("target")), PathBuf::from);
    let path = target.join("debug").join(service);
    anyhow::ensure!(path.exists(), "{} is not built: run `deploy/build.sh dev all` (`just test` does)", path.display());
    Ok(path.display().to_string())
}
