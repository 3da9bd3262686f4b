//! The service's binary (see `comms::service::main`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    comms::service::main(&template::SERVICE, template::startup::build).await
}
