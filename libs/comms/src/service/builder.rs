//! Building a service: the library's steps around the service's own.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::application::{Application, Listeners};
use super::context::Context;
use super::parts::Parts;
use crate::auth::{Guard, ServiceIdentity, ServiceKeys, UserKeys, Verifier};
use crate::discovery::ServiceRegistry;
use crate::instance::InstanceId;
use crate::long_streams::OpenStreams;
use crate::messaging::Messaging;
use crate::settings::{ServiceDefaults, ServiceSettings};
use crate::shutdown::Shutdown;

/// How a service is built. See the module docs for the steps.
pub struct Builder<'a> {
    settings: &'a ServiceSettings,
    service: &'static ServiceDefaults,
    listener: Option<TcpListener>,
    registry: Option<Arc<dyn ServiceRegistry>>,
    user_keys: Option<UserKeys>,
}

impl<'a> Builder<'a> {
    pub fn new(settings: &'a ServiceSettings, service: &'static ServiceDefaults) -> Self {
        Self { settings, service, listener: None, registry: None, user_keys: None }
    }

    /// Serves HTTP on this listener instead of binding `host:http_port`
    /// (the gateway tunes its socket first).
    pub fn http_listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Discovery through this registry instead of the one the settings
    /// describe (tests pass a double).
    pub fn registry(mut self, registry: Arc<dyn ServiceRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Verify user tokens with these keys instead of fetching the user
    /// service's (the user service itself, which holds them).
    pub fn user_keys(mut self, keys: UserKeys) -> Self {
        self.user_keys = Some(keys);
        self
    }

    /// Opens what the service declares, runs `parts` with the context,
    /// binds the listeners. If any step fails, what was opened is closed
    /// again before the error is returned.
    pub async fn build<S, F, Fut>(mut self, parts: F) -> anyhow::Result<Application<S>>
    where
        S: Send + Sync + 'static,
        F: FnOnce(Context) -> Fut,
        Fut: Future<Output = anyhow::Result<Parts<S>>>,
    {
        // The metrics recorder before anything records: a gauge raised by a
        // delivery that arrives before the metrics listener is built would
        // otherwise go nowhere, and its lowering would leave it at -1.
        crate::prometheus::install();
        crate::http::problem::set_type_base(&self.settings.problem_type_base)?;
        let (failed, failures) = mpsc::unbounded_channel();
        let registry = match self.registry.clone() {
            Some(registry) => registry,
            None => self.settings.discovery.registry()?,
        };
        // Credentials first: a service that cannot prove who it is, or check
        // who calls it, does not start.
        let (identity, service_keys, guard) = self.credentials()?;
        let mut context = Context {
            service: self.service,
            instance: InstanceId::for_service(self.service.name),
            db: None,
            messaging: None,
            registry,
            identity,
            stopping: Shutdown::new(),
            streams: OpenStreams::new(self.settings.streams),
            tasks: Arc::new(Mutex::new(Vec::new())),
            failed,
        };
        let auth = self.settings.auth.clone();
        if auth.identity_key_file.is_some() || auth.service_keys_file.is_some() {
            let stop = context.stopping();
            context.spawn(crate::auth::reload_credentials(auth, context.identity.clone(), service_keys, stop));
        }
        let settings = self.settings;
        let built = async {
            self.open(&mut context).await?;
            let parts = parts(context.clone()).await?;
            let listeners = self.bind(parts.grpc.is_some()).await?;
            Ok::<_, anyhow::Error>((parts, listeners))
        }
        .await;
        match built {
            Ok((parts, listeners)) => Ok(Application::new(settings, context, failures, parts, guard, listeners)),
            Err(error) => {
                context.close().await;
                Err(error)
            }
        }
    }

    /// This service's identity, the service keys, and the guard that
    /// checks its callers with them.
    fn credentials(&mut self) -> anyhow::Result<(Arc<ServiceIdentity>, ServiceKeys, Arc<Guard>)> {
        let (auth, service) = (&self.settings.auth, self.service);
        let identity = Arc::new(auth.identity(service.name, service.prefix)?);
        let user_keys = match self.user_keys.take() {
            Some(keys) => keys,
            None => auth.user_keys(service.prefix)?,
        };
        let service_keys = auth.service_keys(service.prefix)?;
        let verifier = Verifier::new(service.name, user_keys, service_keys.clone(), &auth.issuer, &auth.audience);
        Ok((identity, service_keys, Arc::new(Guard::new(verifier, service.access))))
    }

    /// The pool (with migrations) and messaging, each only if declared.
    async fn open(&self, context: &mut Context) -> anyhow::Result<()> {
        if let Some(database) = self.service.database {
            let url = self.settings.database_url.as_deref().unwrap_or_default();
            let max = self.settings.database_max_connections.unwrap_or(10);
            let variable = format!("{}DATABASE_PASSWORD_FILE", self.service.prefix);
            let password_file = self.settings.database_password_file.as_deref();
            let password = password_file.map(|path| crate::secret::read_secret(path, &variable)).transpose()?;
            let db = crate::db::pool(url, password.as_deref(), max, self.service.name).await?;
            context.db = Some(db.clone());
            database.migrations.run(&db).await?;
        }
        if let Some(broker) = &self.settings.broker {
            let messaging = Messaging::connect(broker, self.service.name, context.db()).await?;
            context.messaging = Some(Arc::new(messaging));
        }
        Ok(())
    }

    async fn bind(self, with_grpc: bool) -> anyhow::Result<Listeners> {
        let host = self.settings.host.as_str();
        let http = match self.listener {
            Some(listener) => listener,
            None => TcpListener::bind((host, self.settings.http_port)).await?,
        };
        let grpc = match (with_grpc, self.settings.grpc_port) {
            (false, _) => None,
            (true, Some(port)) => Some(TcpListener::bind((host, port)).await?),
            (true, None) => anyhow::bail!("{} serves gRPC but has no gRPC port", self.service.name),
        };
        let metrics = TcpListener::bind((self.settings.metrics_host.as_str(), self.settings.metrics_port)).await?;
        Ok(Listeners { http, grpc, metrics })
    }
}
