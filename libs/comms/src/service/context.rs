//! What a service builds its parts from: its pool, messaging, discovery,
//! the stop signal for long-lived work, and background tasks the library
//! stops and waits for.

use std::future::Future;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::ServiceIdentity;
use crate::db::ChangeFeed;
use crate::discovery::ServiceRegistry;
use crate::instance::InstanceId;
use crate::long_streams::OpenStreams;
use crate::messaging::{EventRouter, Handler, Messaging, Subscription};
use crate::settings::ServiceDefaults;
use crate::shutdown::Shutdown;

/// Cheap to clone; every clone is the same context.
#[derive(Clone)]
pub struct Context {
    pub(super) service: &'static ServiceDefaults,
    pub(super) instance: InstanceId,
    pub(super) db: Option<PgPool>,
    pub(super) messaging: Option<Arc<Messaging>>,
    pub(super) registry: Arc<dyn ServiceRegistry>,
    pub(super) identity: Arc<ServiceIdentity>,
    pub(super) stopping: Shutdown,
    pub(super) streams: OpenStreams,
    pub(super) tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// A background task that failed sends its error here: the service
    /// cannot work without it, so it stops.
    pub(super) failed: mpsc::UnboundedSender<anyhow::Error>,
}

impl Context {
    pub fn name(&self) -> &'static str {
        self.service.name
    }

    /// Which copy of the service this is (its registrations' ids).
    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    /// The service's pool.
    ///
    /// # Panics
    /// If the service's [`ServiceDefaults`] declare no database: a wiring
    /// mistake that its first test shows.
    pub fn db(&self) -> &PgPool {
        self.db.as_ref().expect("this service declares no database")
    }

    /// Where other services are: watched (Consul) or configured (static).
    /// Watch what you call here, once, so no request waits on discovery.
    pub fn registry(&self) -> &Arc<dyn ServiceRegistry> {
        &self.registry
    }

    /// This service's credential: the clients it builds send a token from
    /// it on every call (`UpstreamConfig::identity`).
    pub fn identity(&self) -> &Arc<ServiceIdentity> {
        &self.identity
    }

    /// The long streams (SSE, gRPC server streams) open in this process:
    /// open each through it, so it counts against its caller's cap and
    /// ends at the lifetime ([`crate::long_streams`]).
    pub fn streams(&self) -> &OpenStreams {
        &self.streams
    }

    /// Trips when the service starts to stop: long-lived responses
    /// (streams) end on it, so the drain does not wait for them.
    pub fn stopping(&self) -> Shutdown {
        self.stopping.clone()
    }

    /// Consumes the domain events `router` handles from the service's own
    /// queue, in transactions of its pool, with its name in the inbox.
    pub async fn consume<S: Send + Sync + 'static>(&self, router: EventRouter<S>) -> anyhow::Result<()> {
        let messaging = self.messaging.as_ref().expect("this service declares no broker use");
        let subscription = messaging.events_subscription(self.service.name, &router.types());
        let consumer = router.consumer(self.db().clone(), self.service.name);
        self.subscribe(subscription, Arc::new(consumer)).await
    }

    /// Any other subscription (a task queue's workers).
    pub async fn subscribe(&self, subscription: Subscription, handler: Arc<dyn Handler>) -> anyhow::Result<()> {
        let messaging = self.messaging.as_ref().expect("this service declares no broker use");
        messaging.subscribe(subscription, handler).await?;
        Ok(())
    }

    /// Listens for committed changes on `channel` (see [`ChangeFeed`]);
    /// the feed stops with the service, ending every subscription.
    pub async fn change_feed(&self, channel: &'static str, capacity: usize) -> anyhow::Result<ChangeFeed> {
        let (feed, task) = ChangeFeed::listen(self.db(), channel, capacity, self.stopping()).await?;
        self.tasks.lock().expect("tasks lock").push(task);
        Ok(feed)
    }

    /// Runs `task` in the background until it ends; it should end when
    /// [`Self::stopping`] trips. The service waits for it before closing
    /// the pool. If it fails, the service stops and reports the error.
    pub fn spawn(&self, task: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
        let failed = self.failed.clone();
        let handle = tokio::spawn(async move {
            if let Err(error) = task.await {
                let _ = failed.send(error);
            }
        });
        self.tasks.lock().expect("tasks lock").push(handle);
    }

    /// Steps 4 to 6 of the shutdown order (see the module docs).
    pub(super) async fn close(&self) {
        if let Some(messaging) = &self.messaging {
            messaging.stop().await;
        }
        self.stopping.trigger();
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("tasks lock"));
        for task in tasks {
            let _ = task.await;
        }
        if let Some(db) = &self.db {
            db.close().await;
        }
    }
}
