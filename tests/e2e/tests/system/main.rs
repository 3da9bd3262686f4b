//! The system end to end, through the gateway only: one test binary.

mod flow;
mod outage;
