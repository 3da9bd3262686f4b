//! Builds the service: its delivery workers, its consumers, its live feed
//! and its API, inside the skeleton `comms::service` provides. Tests build
//! exactly this, on port 0.

use std::sync::Arc;

use anyhow::Context as _;
use comms::client::UpstreamConfig;
use comms::client::http::HttpClient;
use comms::messaging::Subscription;
use comms::service::{Application, Builder, Parts};

use crate::config::Settings;
use crate::consumers::Consumers;
use crate::delivery::{self, DeliveryWorker};
use crate::state::AppState;
use crate::users::UserDirectory;
use crate::{SERVICE, channel, http, live};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn build(settings: &Settings) -> anyhow::Result<Application<AppState>> {
    let own = &settings.own;
    let operators = own.operators()?;
    let channel = channel::from_settings(own)?;
    Builder::new(&settings.service, &SERVICE)
        .build(|ctx| async move {
            let changes = ctx.change_feed(live::CHANNEL, live::BACKLOG).await.context("LISTEN for the live feed")?;
            let (live, forwarding) = live::start(ctx.db().clone(), &changes, ctx.stopping());
            ctx.spawn(forwarding);
            // The user service's instances, watched (Consul) or configured
            // (NOTIFICATION_UPSTREAMS): no registry call on the event path.
            let users = UserDirectory::new(HttpClient::new(
                UpstreamConfig::new("user").identity(ctx.identity().clone()),
                ctx.registry().watch("user"),
            ));
            // Workers first: the task queue exists before any event queues a task.
            let mut tasks = Subscription::tasks(delivery::QUEUE);
            tasks.retry_delays = own.delivery_retry_delays();
            let worker = DeliveryWorker::new(ctx.db().clone(), channel, tasks.max_attempts());
            ctx.subscribe(tasks, Arc::new(worker)).await?;
            ctx.consume(Consumers { users, operators }.router()).await?;
            let state = Arc::new(AppState {
                db: ctx.db().clone(),
                live,
                keep_alive: own.stream_keep_alive(),
                streams: ctx.streams().clone(),
            });
            Ok(Parts::new(state, http::api()))
        })
        .await
}
