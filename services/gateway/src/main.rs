//! The gateway binary: telemetry, settings, build, run (or `settings-keys` /
//! `healthcheck`, see `comms::cli`).

use gateway::config::Settings;
use gateway::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(code) = comms::cli::subcommand::<Settings>("GATEWAY_", &[comms::settings::TELEMETRY_KEYS], |s| s.port) {
        std::process::exit(code);
    }
    let telemetry = comms::telemetry::init("gateway")?;
    let settings = Settings::from_env()?;
    let app = Application::build(&settings).await?;
    app.run_until_stopped(comms::Shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
