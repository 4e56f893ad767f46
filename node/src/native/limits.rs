//! Per-source UDP limits against amplification. (Per-identity daily quotas are charged by the
//! resolver, for every interface.)
//!
//! UDP policy: every source address has a request bucket (`udp_requests_per_second`, burst of
//! twice that) and, until it has proven that it receives what is sent to it by completing a
//! TCP or HTTP exchange within the last ten minutes, a response-byte bucket
//! (`udp_unverified_bytes_per_second`, burst of four seconds). A request over the request
//! budget is dropped; a response over the byte budget is not sent (the client then falls back
//! to TCP, as Handle.Net clients do after UDP timeouts). So a forged source address can draw at
//! most that many bytes per second towards its victim.
//!
//! Sources live in a fixed table of `MAX_SOURCES` slots, found by a keyed hash of the address
//! and split into independently locked shards, so that every check is O(1) whatever the number
//! of sources: a source whose slot is taken by another address replaces it (the other address
//! is forgotten and starts again with full buckets, as the least recently seen source of a
//! bounded map would). The hash key is random per process, so which addresses share a slot
//! cannot be chosen from outside.

use std::hash::BuildHasher as _;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::NativeConfig;

/// How long a TCP or HTTP exchange vouches for a source address.
const VERIFIED_FOR: Duration = Duration::from_secs(600);

/// The most source addresses tracked.
const MAX_SOURCES: usize = 65_536;

/// The number of independently locked parts of the source table.
const SHARDS: usize = 64;

/// Source slots per shard.
const SLOTS_PER_SHARD: usize = MAX_SOURCES / SHARDS;

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn take(&mut self, amount: f64, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.updated = now;
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Source {
    ip: IpAddr,
    requests: Bucket,
    bytes: Bucket,
    verified_until: Option<Instant>,
}

/// The UDP limits of every source address.
#[derive(Debug)]
pub(crate) struct UdpPolicy {
    request_rate: f64,
    byte_rate: f64,
    max_amplification: usize,
    hasher: std::collections::hash_map::RandomState,
    /// Each shard's slots, allocated on first use.
    shards: Box<[Mutex<Vec<Option<Source>>>]>,
}

impl UdpPolicy {
    pub(crate) fn new(config: &NativeConfig) -> Self {
        Self {
            request_rate: f64::from(config.udp_requests_per_second.max(1)),
            byte_rate: f64::from(config.udp_unverified_bytes_per_second.max(512)),
            max_amplification: config.udp_max_amplification as usize,
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Runs `f` on the source of `ip`, made fresh (full buckets, unverified) when its slot is
    /// empty or held by another address.
    fn with_source<T>(&self, ip: IpAddr, now: Instant, f: impl FnOnce(&mut Source) -> T) -> T {
        let hash = self.hasher.hash_one(ip) as usize;
        let mut shard = self.shards[hash % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.is_empty() {
            shard.resize(SLOTS_PER_SHARD, None);
        }
        let slot = &mut shard[(hash / SHARDS) % SLOTS_PER_SHARD];
        let source = match slot {
            Some(source) if source.ip == ip => source,
            _ => slot.insert(Source {
                ip,
                requests: Bucket {
                    tokens: self.request_rate * 2.0,
                    updated: now,
                },
                bytes: Bucket {
                    tokens: self.byte_rate * 4.0,
                    updated: now,
                },
                verified_until: None,
            }),
        };
        f(source)
    }

    /// Whether a request from `ip` is within its rate.
    pub(crate) fn admit_request(&self, ip: IpAddr, now: Instant) -> bool {
        let (rate, burst) = (self.request_rate, self.request_rate * 2.0);
        self.with_source(ip, now, |s| s.requests.take(1.0, rate, burst, now))
    }

    /// Whether a response of `bytes` (all datagrams) may be sent to `ip`.
    pub(crate) fn admit_response(&self, ip: IpAddr, bytes: usize, now: Instant) -> bool {
        let (rate, burst) = (self.byte_rate, self.byte_rate * 4.0);
        self.with_source(ip, now, |s| {
            s.verified_until.is_some_and(|until| until > now)
                || s.bytes.take(bytes as f64, rate, burst, now)
        })
    }

    /// Admits a request from `ip` and, if it is within its rate, an answer of `bytes` to it,
    /// in one look-up: (request admitted, answer admitted). A refused request takes nothing
    /// from the byte budget.
    pub(crate) fn admit_exchange(&self, ip: IpAddr, bytes: usize, now: Instant) -> (bool, bool) {
        let (request_rate, byte_rate) = (self.request_rate, self.byte_rate);
        self.with_source(ip, now, |s| {
            if !s.requests.take(1.0, request_rate, request_rate * 2.0, now) {
                return (false, false);
            }
            let answer = s.verified_until.is_some_and(|until| until > now)
                || s.bytes.take(bytes as f64, byte_rate, byte_rate * 4.0, now);
            (true, answer)
        })
    }

    /// Whether an answer of `answer_len` bytes to a request of `request_len` bytes exceeds the
    /// amplification an unverified source may get (`udp_max_amplification`; 0: no limit).
    pub(crate) fn amplifies(&self, request_len: usize, answer_len: usize) -> bool {
        self.max_amplification != 0
            && answer_len > self.max_amplification.saturating_mul(request_len)
    }

    /// Whether `ip` has proven within the last ten minutes that it receives what is sent to it.
    pub(crate) fn is_verified(&self, ip: IpAddr, now: Instant) -> bool {
        self.with_source(ip, now, |s| {
            s.verified_until.is_some_and(|until| until > now)
        })
    }

    /// Marks `ip` as able to receive (it completed a TCP or HTTP exchange).
    pub(crate) fn verify(&self, ip: IpAddr, now: Instant) {
        self.with_source(ip, now, |s| s.verified_until = Some(now + VERIFIED_FOR));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // A fixed base instant; every later time is derived.
    fn base() -> Instant {
        Instant::now()
    }

    #[test]
    fn unverified_sources_get_a_byte_budget() {
        let config = NativeConfig {
            udp_requests_per_second: 2,
            udp_unverified_bytes_per_second: 1000,
            ..NativeConfig::default()
        };
        let policy = UdpPolicy::new(&config);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = base();
        assert!(policy.admit_response(ip, 4000, t0));
        assert!(!policy.admit_response(ip, 100, t0));
        assert!(policy.admit_response(ip, 100, t0 + Duration::from_secs(1)));
        policy.verify(ip, t0);
        assert!(policy.admit_response(ip, 1_000_000, t0 + Duration::from_secs(1)));
        for _ in 0..4 {
            assert!(policy.admit_request(ip, t0));
        }
        assert!(!policy.admit_request(ip, t0));
        assert!(policy.admit_request(ip, t0 + Duration::from_secs(1)));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(policy.admit_exchange(other, 4000, t0), (true, true));
        assert_eq!(policy.admit_exchange(other, 100, t0), (true, false));
        for _ in 0..2 {
            policy.admit_request(other, t0);
        }
        assert_eq!(policy.admit_exchange(other, 1, t0), (false, false));
    }

    #[test]
    fn the_source_table_is_bounded_and_other_sources_keep_their_budgets() {
        let config = NativeConfig {
            udp_unverified_bytes_per_second: 1000,
            ..NativeConfig::default()
        };
        let policy = UdpPolicy::new(&config);
        let t0 = base();
        let victim: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(policy.admit_response(victim, 4000, t0));
        assert!(!policy.admit_response(victim, 1, t0));
        // Many other sources fill the table without growing it past its slots.
        for i in 0..(MAX_SOURCES as u32 * 2) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            policy.admit_request(ip, t0);
        }
        let slots: usize = policy.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert_eq!(slots, MAX_SOURCES);
    }
}
