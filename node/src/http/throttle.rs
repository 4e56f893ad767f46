//! Throttling of failed logins, per identity and per source address: after
//! [`FREE_FAILURES`] failures of an identity (or [`FREE_SOURCE_FAILURES`] from one address) in
//! a row, the key is locked for a time that doubles with every further failure, up to
//! [`MAX_LOCK`]. While an identity or a source is locked, its logins are
//! refused at once, without checking the password, so a guesser gets neither answers nor the
//! node's CPU. A successful login clears the identity's count. The table is bounded
//! ([`MAX_KEYS`]); when it is full, the entry that failed longest ago is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one identity allowed before it is locked.
pub(crate) const FREE_FAILURES: u32 = 5;

/// Failures from one source address allowed before it is locked: more than for an identity,
/// since many clients may share an address (a NAT, a proxy).
pub(crate) const FREE_SOURCE_FAILURES: u32 = 50;

/// The first lock; each further failure doubles it.
const FIRST_LOCK: Duration = Duration::from_secs(1);

/// The longest lock.
pub(crate) const MAX_LOCK: Duration = Duration::from_secs(15 * 60);

/// The most keys remembered.
const MAX_KEYS: usize = 65_536;

/// A throttled key: an identity (case-folded) or a source address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Identity(String),
    Source(IpAddr),
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Identity,
    Source,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Instant,
}

/// The failed-login counters.
#[derive(Debug, Default)]
pub(crate) struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginThrottle {
    /// How long logins of `identity` from `source` must wait, if either is locked at `now`.
    pub(crate) fn wait(&self, identity: &str, source: IpAddr, now: Instant) -> Option<Duration> {
        let entries = self.lock();
        [
            Key::Identity(identity.to_ascii_uppercase()),
            Key::Source(source),
        ]
        .iter()
        .filter_map(|key| entries.get(key))
        .filter(|entry| entry.locked_until > now)
        .map(|entry| entry.locked_until - now)
        .max()
    }

    /// Counts a failed login of `identity` from `source` at `now`.
    pub(crate) fn failed(&self, identity: &str, source: IpAddr, now: Instant) {
        let mut entries = self.lock();
        for key in [
            Key::Identity(identity.to_ascii_uppercase()),
            Key::Source(source),
        ] {
            let key_kind = match key {
                Key::Identity(_) => KeyKind::Identity,
                Key::Source(_) => KeyKind::Source,
            };
            if !entries.contains_key(&key) && entries.len() >= MAX_KEYS {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.last)
                    .map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                last: now,
                locked_until: now,
            });
            entry.failures = entry.failures.saturating_add(1);
            entry.last = now;
            let free = match key_kind {
                KeyKind::Identity => FREE_FAILURES,
                KeyKind::Source => FREE_SOURCE_FAILURES,
            };
            if entry.failures >= free {
                let doublings = (entry.failures - free).min(20);
                let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
                entry.locked_until = now + lock;
            }
        }
    }

    /// Clears the count of `identity` after a successful login.
    pub(crate) fn succeeded(&self, identity: &str) {
        self.lock()
            .remove(&Key::Identity(identity.to_ascii_uppercase()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // The counters are plain numbers; a panic elsewhere cannot leave them inconsistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_with_backoff_and_success_clears_the_identity() {
        let throttle = LoginThrottle::default();
        let source: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed("300:A/B", source, t0);
        }
        assert_eq!(throttle.wait("300:a/b", source, t0), None);
        throttle.failed("300:A/B", source, t0);
        assert_eq!(throttle.wait("300:A/B", source, t0), Some(FIRST_LOCK));
        throttle.failed("300:A/B", source, t0);
        assert_eq!(throttle.wait("300:A/B", source, t0), Some(FIRST_LOCK * 2));
        // Another identity from the same source is not locked by so few failures.
        assert!(throttle.wait("300:C/D", source, t0).is_none());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for n in 0..FREE_SOURCE_FAILURES {
            throttle.failed(&format!("300:X/{n}"), other, t0);
        }
        assert!(
            throttle.wait("300:C/D", other, t0).is_some(),
            "the source is locked"
        );
        let other: IpAddr = "192.0.2.3".parse().unwrap();
        // The lock ends; a success clears the identity but not the source.
        assert_eq!(
            throttle.wait("300:A/B", other, t0 + Duration::from_secs(3)),
            None
        );
        throttle.succeeded("300:A/B");
        assert_eq!(throttle.wait("300:A/B", other, t0), None);
        for _ in 0..40 {
            throttle.failed("300:E/F", other, t0);
        }
        assert_eq!(throttle.wait("300:E/F", other, t0), Some(MAX_LOCK));
    }
}
