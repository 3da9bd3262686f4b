//! The gateway binary: telemetry, settings, build, run.

use gateway::config::Settings;
use gateway::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = comms::telemetry::init("gateway")?;
    let settings = Settings::from_env()?;
    let app = Application::build(&settings).await?;
    app.run_until_stopped(comms::Shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
