//! A fresh PostgreSQL database per test, migrated and dropped afterwards.
//!
//! Tests never share tables, so they run in parallel without cleaning up
//! after each other, and a failed test leaves nothing that breaks the next.

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// The server tests run against; `TEST_DATABASE_URL` overrides it.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The server's `host:port`, for putting a fault proxy in front of it.
pub fn server_address() -> std::net::SocketAddr {
    use std::net::ToSocketAddrs;
    let url = server_url();
    let authority = url.rsplit('@').next().unwrap_or(&url).trim_start_matches("postgres://").trim_end_matches('/');
    authority.to_socket_addrs().ok().and_then(|mut a| a.next()).expect("TEST_DATABASE_URL names host:port")
}

/// Every test database name starts with this, so a crashed run's leftovers
/// can be found and dropped (`just clean-test-dbs`).
pub const PREFIX: &str = "switchyard_test_";

pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates an empty database and runs `migrator` on it.
    pub async fn create(migrator: &Migrator) -> anyhow::Result<Self> {
        let db = Self::create_empty().await?;
        migrator.run(&db.pool).await?;
        Ok(db)
    }

    /// Creates an empty database.
    pub async fn create_empty() -> anyhow::Result<Self> {
        let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url())).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#))).execute(&mut admin).await?;
        admin.close().await?;
        let url = format!("{}/{name}", server_url());
        let pool = PgPoolOptions::new().max_connections(5).connect(&url).await?;
        Ok(Self { name, url, pool })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, where we cannot block on a
        // future; a short-lived thread with its own runtime does the work.
        let name = self.name.clone();
        let server = server_url();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&format!("{server}/postgres")).await.ok()?;
                let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok()
            })
        });
        let _ = dropped.join();
    }
}
