//! The idnode binary's library: configuration, the shared core, the interfaces, the listeners,
//! the lifecycle and the CLI commands.
//!
//! A request's path through the folders: `server` (sockets and accept loops) → `http` (route
//! table, authentication) or `native` (the Handle protocol's handler) → `api` (one service per
//! interface) → the resolver in `core` → the store. `tasks` follow the store in the
//! background, and `cli` holds the offline commands. `main.rs` only parses the command line and
//! calls into here, so that tests can run a node in-process. This is the only crate that reads
//! files, the environment or the clock, opens sockets, or spawns tasks; the libraries below it
//! receive what they need as arguments.
#![warn(missing_docs)]

mod api;
mod budget;
mod cache;
pub mod cli;
pub mod config;
pub mod core;
#[doc(hidden)]
pub mod federation;
pub mod fuzzing;
mod http;
pub mod keys;
pub mod lifecycle;
mod metrics;
pub mod native;
pub mod server;
mod site;
mod tasks;
