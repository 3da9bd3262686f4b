//! The notification service binary (see `comms::service::main`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    comms::service::main(&notification::SERVICE, notification::startup::build).await
}
