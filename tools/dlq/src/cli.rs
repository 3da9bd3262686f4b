//! The command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Dead letters: list, show, replay and purge them")]
pub struct Cli {
    /// The service list to read.
    #[arg(long, env = "DLQ_SERVICES", default_value = "deploy/services.toml")]
    pub services: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Every dead letter (of SERVICE only, if named), none removed.
    List {
        service: Option<String>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One dead letter's envelope and headers.
    Show { id: String },
    /// Returns dead letters to the service that gave up on them.
    Replay {
        ids: Vec<String>,
        /// Every dead letter (of --service only, if given).
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[arg(long, requires = "all")]
        service: Option<String>,
    },
    /// Removes every dead letter of SERVICE.
    Purge {
        service: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}
