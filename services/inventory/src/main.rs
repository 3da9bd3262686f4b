//! The inventory service binary: telemetry, settings, build, run. Nothing else.

use inventory::config::Settings;
use inventory::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let shared = [comms::settings::TELEMETRY_KEYS, comms::settings::BROKER_KEYS];
    if let Some(code) = comms::cli::subcommand::<Settings>("INVENTORY_", &shared, |s| s.http_port) {
        std::process::exit(code);
    }
    let telemetry = comms::telemetry::init("inventory")?;
    let settings = Settings::from_env()?;
    let app = Application::build(&settings).await?;
    app.run_until_stopped(comms::Shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
