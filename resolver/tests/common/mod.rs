//! Test doubles shared by the resolver's integration tests: deterministic randomness, a
//! reversible stand-in for the sealer of idnode-certs, and small constructors.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::sync::atomic::{AtomicU8, Ordering};

use idnode_proto::{Handle, ValueRef};
use idnode_resolver::{Random, SecretSealer};

/// The time every test request carries: 2026-11-18.
pub(crate) const NOW: u32 = 1_795_000_000;

/// Deterministic bytes for minting: each call starts one higher.
pub(crate) struct Counter(pub(crate) AtomicU8);

impl Counter {
    pub(crate) fn new() -> Self {
        Self(AtomicU8::new(0))
    }
}

impl Random for Counter {
    fn fill(&self, buf: &mut [u8]) {
        let start = self.0.fetch_add(1, Ordering::Relaxed);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = start.wrapping_add(i as u8);
        }
    }
}

/// A reversible stand-in for the real sealer of idnode-certs, so that tests can see that
/// secrets are sealed before they reach the store.
pub(crate) struct TestSealer;

impl SecretSealer for TestSealer {
    fn seal(&self, secret: &[u8]) -> Vec<u8> {
        [b"sealed:".as_slice(), secret].concat()
    }
    fn verify(&self, _identity: &ValueRef, stored: &[u8], candidate: &[u8]) -> bool {
        stored.strip_prefix(b"sealed:") == Some(candidate)
    }
    fn open(&self, stored: &[u8]) -> Option<Vec<u8>> {
        stored.strip_prefix(b"sealed:").map(<[u8]>::to_vec)
    }
}

/// A handle that must parse.
pub(crate) fn h(text: &str) -> Handle {
    Handle::parse(text).unwrap()
}
