//! The analytics service binary (see `comms::service::main`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    comms::service::main(&analytics::SERVICE, analytics::startup::build).await
}
