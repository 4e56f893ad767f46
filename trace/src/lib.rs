//! The sans-IO core of idnode's signed traceability records.
//!
//! This crate holds the pieces a node, a witness and an offline verifier share: the RFC 6962 /
//! RFC 9162 Merkle log with its tlog-tiles layout ([`merkle`]), RFC 8785 JSON canonicalization
//! ([`jcs`]), C2SP signed notes, checkpoints, cosignatures and tlog-proof bundles ([`note`]), the
//! CBV 2.0 EPCIS event hash of JSON-LD events ([`epcis`]), and the signed trace record with its
//! JWS and offline verification ([`record`]), which carries that hash as `eventHash`. The
//! capture rules of EPCIS 2.0 documents ([`capture`], with the CBV 2.0 vocabularies in [`cbv`])
//! and the identifier forms of captured events ([`ids`]) live here too, so that any front end
//! that accepts events applies the same checks.
//!
//! It must not do I/O, read the clock or generate randomness: callers pass times, keys, salts
//! and bytes in and get values out. Stored hashes are read through the [`merkle::HashReader`]
//! trait so the node can back the log with its database. Parsers of untrusted text are bounded
//! and never panic.
#![warn(missing_docs)]

pub mod capture;
pub mod cbv;
pub mod epcis;
#[doc(hidden)]
pub mod fuzzing;
mod gs1;
pub mod ids;
pub mod jcs;
pub mod merkle;
pub mod note;
pub mod record;
