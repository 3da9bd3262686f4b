//! The user service binary: telemetry, settings, build, run. Nothing else.

use user::config::Settings;
use user::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = comms::telemetry::init("user")?;
    let settings = Settings::from_env()?;
    let app = Application::build(&settings).await?;
    app.run_until_stopped(comms::Shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
