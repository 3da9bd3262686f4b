//! A fresh PostgreSQL database per test, migrated and dropped afterwards.
//!
//! Tests never share tables, so they run in parallel without cleaning up
//! after each other, and a failed test leaves nothing that breaks the next.
//!
//! Each database has a role of its own, made as deploy/postgres/init.sh
//! makes a service's: it owns the database and nothing else, no other role
//! may connect to it, and it is no superuser and cannot create roles or
//! databases. The test's URL connects as that role, so every test runs the
//! service's migrations and queries with the privileges it has in
//! production. Both are dropped with the database.

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

/// Every test database and role name starts with this, so a crashed run's
/// leftovers can be found and dropped (`just clean-test-dbs`).
pub const PREFIX: &str = "switchyard_test_";

pub struct TestDatabase {
    /// The database's name, and its role's.
    pub name: String,
    /// Connects as the database's own role.
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

    /// The one value `sql` selects with `parameter` bound to `$1`: what a
    /// test reads back to see what a request wrote.
    pub async fn scalar<T>(&self, sql: &'static str, parameter: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        sqlx::query_scalar(sql)
            .bind(parameter)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql} with {parameter:?}: {e}"))
    }

    /// Creates an empty database and its role.
    pub async fn create_empty() -> anyhow::Result<Self> {
        let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        // A password as well, for servers that do not trust local
        // connections; made here, it lives as long as the role.
        let password = uuid::Uuid::new_v4().simple().to_string();
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url())).await?;
        // One statement at a time: CREATE DATABASE cannot run inside the
        // transaction a multi-statement query is.
        let mut made = Ok(());
        for sql in [
            format!(
                r#"CREATE ROLE "{name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
                     PASSWORD '{password}'"#
            ),
            format!(r#"CREATE DATABASE "{name}" OWNER "{name}""#),
            format!(r#"REVOKE ALL ON DATABASE "{name}" FROM PUBLIC"#),
        ] {
            made = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.map(drop);
            if made.is_err() {
                break;
            }
        }
        admin.close().await?;
        if let Err(error) = made {
            drop_database_and_role(&name);
            return Err(error.into());
        }
        let url = url_as(&name, &password, &name);
        let pool = PgPoolOptions::new().max_connections(5).connect(&url).await?;
        Ok(Self { name, url, pool })
    }
}

/// The test server's URL for `database`, as `role`.
pub fn url_as(role: &str, password: &str, database: &str) -> String {
    let server = server_url();
    let host = server.rsplit('@').next().unwrap_or(&server).trim_start_matches("postgres://").trim_end_matches('/');
    format!("postgres://{role}:{password}@{host}/{database}")
}

/// Drops `name`'s database (closing its connections) and then its role.
fn drop_database_and_role(name: &str) {
    // Drop may run inside a test's runtime, where we cannot block on a
    // future; a short-lived thread with its own runtime does the work.
    let (name, server) = (name.to_owned(), server_url());
    let dropped = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let mut admin = PgConnection::connect(&format!("{server}/postgres")).await.ok()?;
            let database = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
            sqlx::raw_sql(sqlx::AssertSqlSafe(database)).execute(&mut admin).await.ok()?;
            let role = format!(r#"DROP ROLE IF EXISTS "{name}""#);
            sqlx::raw_sql(sqlx::AssertSqlSafe(role)).execute(&mut admin).await.ok()
        })
    });
    let _ = dropped.join();
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        drop_database_and_role(&self.name);
    }
}
