//! A service token, as a service's client sends it: for the nginx baseline
//! of figure 1, which must pass the inventory service's check as the
//! gateway's forwarded requests do.

use comms::auth::ServiceIdentity;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The signing service's private key (deploy/secrets.sh writes one per service).
    #[arg(long)]
    key: std::path::PathBuf,
    /// Who signs: the token names it as issuer and subject.
    #[arg(long)]
    service: String,
    /// The one service the token is for.
    #[arg(long)]
    audience: String,
}

pub fn run(args: Args) -> anyhow::Result<String> {
    let pem = std::fs::read(&args.key).map_err(|e| anyhow::anyhow!("read {}: {e}", args.key.display()))?;
    Ok(ServiceIdentity::from_pem(&args.service, &pem)?.token_for(&args.audience))
}
