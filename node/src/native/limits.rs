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
//! Sources live in a bounded [`SourceTable`], so every check is O(1) whatever the number of
//! sources.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::budget::{Bucket, SourceTable};
use crate::config::NativeConfig;

/// How long a TCP or HTTP exchange vouches for a source address.
const VERIFIED_FOR: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
struct Source {
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
    sources: SourceTable<Source>,
}

impl UdpPolicy {
    pub(crate) fn new(config: &NativeConfig) -> Self {
        Self {
            request_rate: f64::from(config.udp_requests_per_second.max(1)),
            byte_rate: f64::from(config.udp_unverified_bytes_per_second.max(512)),
            max_amplification: config.udp_max_amplification as usize,
            sources: SourceTable::new(),
        }
    }

    /// Runs `f` on the source of `ip`, made fresh (full buckets, unverified) when its slot is
    /// empty or held by another address.
    fn with_source<T>(&self, ip: IpAddr, now: Instant, f: impl FnOnce(&mut Source) -> T) -> T {
        let fresh = || Source {
            requests: Bucket::full(self.request_rate * 2.0, now),
            bytes: Bucket::full(self.byte_rate * 4.0, now),
            verified_until: None,
        };
        self.sources.with(ip, fresh, f)
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
}
