//! The system end to end, through the gateway only: one test binary.

mod api_page;
mod flow;
mod outage;
mod rotation;
