//! The order service binary (see `comms::service::main`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    comms::service::main(&order::SERVICE, order::startup::build).await
}
