//! A client of the native Handle protocol, for node-to-node work: resolving on a client's
//! behalf (recursion) and, later, writing to the top-level node.
//!
//! Layered as hickory's client is on its protocol crate: `idnode-proto` holds the messages,
//! this crate sends them. [`transport`] exchanges one message with one server (UDP, then TCP)
//! behind the [`transport::Transport`] trait; [`locate`] is the client algorithm of
//! handle-protocol.md §8.1 over any transport; [`cache`] the bounded TTL cache both use.
//!
//! It is a crate of its own because it opens sockets, which neither `proto` nor `resolver`
//! may, and because the node, the load tools and the tests all need the same client.

pub mod auth;
pub mod cache;
mod error;
pub mod locate;
pub mod transport;

pub use error::Error;
pub use locate::{Limits, Locator, Query};
pub use transport::{Answer, Network, Timeouts, Transport};
