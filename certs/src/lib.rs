//! Keys, signatures, secret hashing and TLS configuration for idnode, as pure functions.
//!
//! This is the only crate of the workspace that touches private keys and stored secrets. It
//! must not read files, the environment or the clock: callers pass bytes, times and a
//! random-number generator (`&mut impl rand_core::CryptoRngCore`) in.
#![warn(missing_docs)]

pub mod mac;
pub mod secret;
pub mod sign;

pub use secret::{CredentialCache, SecretError, SecretKeeper};
pub use sign::{NodeKey, SignError};
