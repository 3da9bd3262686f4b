//! The user service binary (see `comms::service::main`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    comms::service::main(&user::SERVICE, user::startup::build).await
}
