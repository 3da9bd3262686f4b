//! What a run creates on the shared broker and database server: named so
//! it cannot clash with anything else there, and removed at the end.
//! Broker queues are also declared to expire, so a run that dies half-way
//! leaves nothing behind for long.

use std::time::Duration;

use anyhow::Context;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};

/// How long the broker keeps a run's queues once nothing uses them.
pub const QUEUE_EXPIRY: Duration = Duration::from_secs(120);

/// A prefix of the run's own for exchanges, queues, topics and groups.
pub fn namespace() -> String {
    format!("bench-{}.", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The domain-events exchange of a comms broker in `namespace`, as
/// `BrokerSettings::connect` names it.
pub fn comms_exchange(namespace: &str) -> String {
    format!("{namespace}{}", comms::messaging::rabbitmq::RabbitConfig::new("", "").exchange)
}

/// Deletes queues and exchanges, messages and all.
pub async fn delete_rabbit(uri: &str, queues: &[String], exchanges: &[String]) -> anyhow::Result<()> {
    let connection = Connection::connect(uri, ConnectionProperties::default()).await.context("connect to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    for queue in queues {
        channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await?;
    }
    for exchange in exchanges {
        channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await?;
    }
    connection.close(200, "OK".into()).await?;
    Ok(())
}

/// An empty database of the run's own on the server of `server_url`.
pub struct ScratchDatabase {
    name: String,
    admin: PgConnectOptions,
    pub pool: PgPool,
}

impl ScratchDatabase {
    /// `server_url` names any database the user may connect to (it only
    /// serves to create and drop the scratch one). `connections` bounds the
    /// pool: enough for every concurrent transaction of the run, so none
    /// waits for a connection and adds that wait to what is measured.
    pub async fn create(server_url: &str, connections: u32) -> anyhow::Result<Self> {
        let admin: PgConnectOptions = server_url.parse().context("--database-url")?;
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::connect_with(&admin).await.context("connect to PostgreSQL")?;
        let create = format!(r#"CREATE DATABASE "{name}""#);
        sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut connection).await?;
        connection.close().await?;
        let pool = PgPoolOptions::new().max_connections(connections).connect_with(admin.clone().database(&name)).await;
        match pool {
            Ok(pool) => Ok(Self { name, admin, pool }),
            Err(error) => {
                Self::drop_named(&admin, &name).await?;
                Err(error.into())
            }
        }
    }

    pub async fn drop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        Self::drop_named(&self.admin, &self.name).await
    }

    async fn drop_named(admin: &PgConnectOptions, name: &str) -> anyhow::Result<()> {
        let mut connection = PgConnection::connect_with(admin).await?;
        // FORCE: a consumer's connection may still be closing.
        let drop = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut connection).await?;
        connection.close().await?;
        Ok(())
    }
}
