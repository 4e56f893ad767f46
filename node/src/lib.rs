//! The idnode binary's library: configuration, listeners, lifecycle and the CLI commands.
//!
//! `main.rs` only parses the command line and calls into here, so that tests can run a node
//! in-process. This is the only crate that reads files, the environment or the clock, opens
//! sockets, or spawns tasks; the libraries below it receive what they need as arguments.
#![warn(missing_docs)]

mod cache;
pub mod config;
pub mod demo;
pub mod import;
pub mod init;
mod listeners;
mod metrics;
pub mod native;
mod rest;
mod rest_auth;
mod search;
pub mod server;
mod site;
mod snms;
pub mod state;
pub mod trace;
pub mod verify;

/// The current time in epoch seconds, for stamping changes.
pub(crate) fn rest_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}
