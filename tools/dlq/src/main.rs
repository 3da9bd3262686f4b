//! `dlq` (`just dlq`): the dead letters of every service in the service
//! list, on whichever broker `BROKER` names, with the operator's credential.
//!
//!   dlq list [SERVICE] [--json]     what waits, without removing anything
//!   dlq show ID                     one message: envelope and headers
//!   dlq replay ID... | --all [--service S]
//!                                   back to the one service that gave up
//!   dlq purge SERVICE [--yes]       remove them all (asks first)
//!
//! Exit status: 0 done, 1 the broker failed, 2 refused (an unknown service
//! or id, a service's credential, a purge not confirmed): nothing changed.

mod cli;
mod commands;
mod credential;
mod services;

use std::process::ExitCode;

use clap::Parser;

use commands::Failure;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(&cli.services, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(why)) => {
            eprintln!("dlq: {why}");
            ExitCode::from(2)
        }
        Err(Failure::Broker(why)) => {
            eprintln!("dlq: {why:#}");
            ExitCode::FAILURE
        }
    }
}
