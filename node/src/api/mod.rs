//! The HTTP services, one per interface, each registered in the route table by
//! `crate::server`: the handle.net REST API ([`handles`], with its [`sessions`]), the SNMS API
//! ([`snms`]), EPCIS capture and query with the log and witnessing ([`trace`]), search
//! ([`search`]), the native protocol's HTTP tunnel ([`tunnel`]), operation reports at a
//! top-level node ([`federation`]), and health and metrics ([`health`]).
//!
//! Each service maps requests to resolver calls and results back to its protocol's terms, in
//! one table per interface; none imports another service or the router.

pub(crate) mod federation;
pub(crate) mod handles;
pub(crate) mod health;
pub(crate) mod search;
pub(crate) mod sessions;
pub(crate) mod snms;
pub(crate) mod trace;
pub(crate) mod tunnel;
