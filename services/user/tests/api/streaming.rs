//! ListUsers really streams: with a table far larger than the service may
//! hold, the first user arrives while the query is still running, and the
//! service's memory does not grow by the table's size.

use contracts::user::v1 as pb;
use contracts::user::v1::user_service_client::UserServiceClient;
use testkit::ServiceProcess;

use crate::helpers::{process_env, spawn_app};

const ROWS: i64 = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_streams_from_the_database_without_loading_the_table() {
    let app = spawn_app().await; // only for its fresh, migrated database
    // ~600 bytes of name and email per row: about 120 MB on the wire.
    app.insert_users_by_sql(ROWS, 280).await;
    let table_bytes: i64 =
        sqlx::query_scalar("SELECT pg_total_relation_size('users')").fetch_one(&app.db.pool).await.unwrap();

    // A separate process, so its memory is the service's alone.
    let service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_user"), &process_env(&app.db.url)).await.unwrap();
    let admin = testkit::As::admin().token();
    let mut client = UserServiceClient::new(testkit::grpc::authorized(service.addr("grpc_addr"), &admin).await);
    // Warm up the pool and the allocator before the baseline.
    let mut warm =
        client.list_users(pb::ListUsersRequest { limit: 100, ..Default::default() }).await.unwrap().into_inner();
    while warm.message().await.unwrap().is_some() {}
    let baseline = service.rss_bytes().unwrap();

    let mut stream =
        client.list_users(pb::ListUsersRequest { limit: 0, ..Default::default() }).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().expect("a first user");
    assert!(first.email.starts_with("bulk"));
    // Give a service that buffered everything the time to do it.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = $1 AND state = 'active' AND query LIKE 'SELECT id, email, name, roles, created_at FROM users%ORDER BY id%'",
    )
    .bind(&app.db.name)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(running, 1, "the query is still running after the first message");

    let grown = service.rss_bytes().unwrap().saturating_sub(baseline);
    assert!(
        // Measured: well under 1 MB. Buffering the rows would cost tens of MB.
        grown < (table_bytes as u64) / 20,
        "memory grew by {} MB for a {} MB table",
        grown / 1_000_000,
        table_bytes / 1_000_000
    );

    // And the stream is whole when read to the end.
    let mut count = 1;
    while stream.message().await.unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, ROWS);

    // Filtered, on the same table: the database does the filtering, so only
    // matches cross the wire and memory stays as flat. Emails are
    // `bulk{n}eee…`: "BULK1234" (any case) matches n = 1234, 12340..=12349
    // and 123400..=123499.
    let before = service.rss_bytes().unwrap();
    let filter = pb::ListUsersRequest { contains: "BULK1234".into(), ..Default::default() };
    let mut matching = client.list_users(filter).await.unwrap().into_inner();
    let mut emails = Vec::new();
    while let Some(user) = matching.message().await.unwrap() {
        emails.push(user.email);
    }
    assert_eq!(emails.len(), 1 + 10 + 100, "every match and nothing else");
    assert!(emails.iter().all(|e| e.starts_with("bulk1234")), "{:?}", &emails[..3]);
    let grown = service.rss_bytes().unwrap().saturating_sub(before);
    assert!(grown < (table_bytes as u64) / 20, "memory grew by {} MB filtering", grown / 1_000_000);

    let admins = pb::ListUsersRequest { contains: "bulk1234".into(), role: "admin".into(), ..Default::default() };
    let mut none = client.list_users(admins).await.unwrap().into_inner();
    assert!(none.message().await.unwrap().is_none(), "no bulk user is an admin");

    let status = client.list_users(pb::ListUsersRequest { role: "root".into(), ..Default::default() }).await;
    let status = match status {
        Ok(response) => response.into_inner().message().await.unwrap_err(),
        Err(status) => status,
    };
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}
