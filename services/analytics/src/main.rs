//! The analytics service binary: telemetry, settings, build, run. Nothing
//! else.

use analytics::config::Settings;
use analytics::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let shared = [comms::settings::TELEMETRY_KEYS, comms::settings::BROKER_KEYS];
    if let Some(code) = comms::cli::subcommand::<Settings>("ANALYTICS_", &shared, |s| s.http_port) {
        std::process::exit(code);
    }
    let telemetry = comms::telemetry::init("analytics")?;
    let settings = Settings::from_env()?;
    let app = Application::build(&settings).await?;
    app.run_until_stopped(comms::Shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
