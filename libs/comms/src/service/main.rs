//! A service binary's whole `main`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::application::Application;
use crate::settings::{ServiceDefaults, Settings};

/// Answers `settings-keys` and `healthcheck` (see [`crate::cli`]), or
/// sets up telemetry, reads the settings, builds the service with `build`
/// and runs it until SIGTERM or Ctrl-C; telemetry is flushed last.
pub async fn main<T, S>(
    service: &'static ServiceDefaults,
    build: impl AsyncFnOnce(&Settings<T>) -> anyhow::Result<Application<S>>,
) -> anyhow::Result<()>
where
    T: Serialize + DeserializeOwned + Default,
    S: Send + Sync + 'static,
{
    if let Some(code) = crate::cli::subcommand::<T>(service) {
        std::process::exit(code);
    }
    let telemetry = crate::telemetry::init(service.name)?;
    let served = async {
        let settings = Settings::<T>::from_env(service)?;
        build(&settings).await?.run_until_stopped(crate::Shutdown::on_signal()).await
    }
    .await;
    if let Err(error) = &served {
        tracing::error!(error = format!("{error:#}"), "the service stopped with an error");
    }
    telemetry.shutdown();
    served
}
