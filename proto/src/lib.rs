//! The Handle data model (RFC 3651) and its codecs, with no I/O.
//!
//! This crate holds what every interface of idnode agrees on: validated handle names
//! ([`Handle`]), handle values ([`HandleValue`]) with their binary encoding, which is also the
//! storage format, the reserved value types ([`AdminRecord`], [`ValueList`], [`SiteInfo`],
//! [`PublicKey`]), response codes ([`ResponseCode`]), and the JSON mapping of the handle.net REST
//! API ([`json`]).
//!
//! It must not do I/O, read the clock, spawn tasks or depend on tokio, hyper or redb: callers
//! pass bytes and times in and get values out, so everything here is deterministic and can be
//! fuzzed. Decoders of untrusted bytes are bounded and never panic.
#![warn(missing_docs)]

mod admin;
mod codec;
mod handle;
pub mod json;
mod pubkey;
mod rc;
mod site;
pub mod time;
mod value;
pub mod wire;

pub use admin::{AdminPerms, AdminRecord, ValueList, ValueRef};
pub use codec::{DecodeError, MAX_ARRAY_LEN, Reader, Writer};
pub use handle::{Handle, HandleError, HandleRules, PREFIX_HANDLE_PREFIX, normalize};
pub use pubkey::PublicKey;
pub use rc::ResponseCode;
pub use site::{Interface, Protocol, ServerInfo, SiteHashError, SiteInfo};
pub use value::{
    EncodedValue, HandleValue, MAX_VALUES, Permissions, Record, RecordValues, Ttl, TypeFilter,
    types,
};

#[doc(hidden)]
pub use wire::fuzzing;
