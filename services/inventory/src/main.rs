//! The inventory service binary (see `comms::service::main`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    comms::service::main(&inventory::SERVICE, inventory::startup::build).await
}
