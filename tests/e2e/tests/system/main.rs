//! The system end to end, through the gateway only: one test binary.

mod api_page;
mod flow;
mod login_storm;
mod outage;
mod replicas;
mod rotation;
mod stranded;
