//! Per-source UDP limits against amplification, and per-identity daily quotas (IDIS RC 603 and
//! RC 604).
//!
//! UDP policy: every source address has a request bucket (`udp_requests_per_second`, burst of
//! twice that) and, until it has proven that it receives what is sent to it by completing a
//! TCP or HTTP exchange within the last ten minutes, a response-byte bucket
//! (`udp_unverified_bytes_per_second`, burst of four seconds). A request over the request
//! budget is dropped; a response over the byte budget is not sent (the client then falls back
//! to TCP, as Handle.Net clients do after UDP timeouts). So a forged source address can draw at
//! most that many bytes per second towards its victim. Buckets are kept for at most
//! `MAX_SOURCES` addresses; the oldest are dropped first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::config::NativeConfig;

/// How long a TCP or HTTP exchange vouches for a source address.
const VERIFIED_FOR: Duration = Duration::from_secs(600);

/// The most source addresses tracked.
const MAX_SOURCES: usize = 65_536;

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
    requests: Bucket,
    bytes: Bucket,
    verified_until: Option<Instant>,
    seen: Instant,
}

/// The UDP limits of every source address.
#[derive(Debug)]
pub(crate) struct UdpPolicy {
    request_rate: f64,
    byte_rate: f64,
    sources: HashMap<IpAddr, Source>,
}

impl UdpPolicy {
    pub(crate) fn new(config: &NativeConfig) -> Self {
        Self {
            request_rate: f64::from(config.udp_requests_per_second.max(1)),
            byte_rate: f64::from(config.udp_unverified_bytes_per_second.max(512)),
            sources: HashMap::new(),
        }
    }

    fn source(&mut self, ip: IpAddr, now: Instant) -> &mut Source {
        if !self.sources.contains_key(&ip)
            && self.sources.len() >= MAX_SOURCES
            && let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(k, _)| *k)
        {
            self.sources.remove(&oldest);
        }
        let (request_burst, byte_burst) = (self.request_rate * 2.0, self.byte_rate * 4.0);
        let source = self.sources.entry(ip).or_insert(Source {
            requests: Bucket {
                tokens: request_burst,
                updated: now,
            },
            bytes: Bucket {
                tokens: byte_burst,
                updated: now,
            },
            verified_until: None,
            seen: now,
        });
        source.seen = now;
        source
    }

    /// Whether a request from `ip` is within its rate.
    pub(crate) fn admit_request(&mut self, ip: IpAddr, now: Instant) -> bool {
        let (rate, burst) = (self.request_rate, self.request_rate * 2.0);
        self.source(ip, now).requests.take(1.0, rate, burst, now)
    }

    /// Whether a response of `bytes` (all datagrams) may be sent to `ip`.
    pub(crate) fn admit_response(&mut self, ip: IpAddr, bytes: usize, now: Instant) -> bool {
        let (rate, burst) = (self.byte_rate, self.byte_rate * 4.0);
        let source = self.source(ip, now);
        if source.verified_until.is_some_and(|until| until > now) {
            return true;
        }
        source.bytes.take(bytes as f64, rate, burst, now)
    }

    /// Marks `ip` as able to receive (it completed a TCP or HTTP exchange).
    pub(crate) fn verify(&mut self, ip: IpAddr, now: Instant) {
        self.source(ip, now).verified_until = Some(now + VERIFIED_FOR);
    }
}

/// Per-identity counters for the current UTC day.
#[derive(Debug)]
pub(crate) struct Quotas {
    daily_requests: u64,
    daily_registrations: u64,
    day: u32,
    used: HashMap<String, (u64, u64)>,
}

/// Which quota ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaExceeded {
    /// RC 603.
    Requests,
    /// RC 604.
    Registrations,
}

impl Quotas {
    pub(crate) fn new(daily_requests: u64, daily_registrations: u64) -> Self {
        Self {
            daily_requests,
            daily_registrations,
            day: 0,
            used: HashMap::new(),
        }
    }

    /// Counts one authenticated request by `identity` (and one registration when `registers`)
    /// at `unix` seconds; refuses, counting nothing, when a quota is used up.
    pub(crate) fn charge(
        &mut self,
        identity: &str,
        registers: bool,
        unix: u32,
    ) -> Result<(), QuotaExceeded> {
        if self.daily_requests == 0 && self.daily_registrations == 0 {
            return Ok(());
        }
        let day = unix / 86_400;
        if day != self.day {
            self.day = day;
            self.used.clear();
        }
        let used = self
            .used
            .entry(identity.to_ascii_uppercase())
            .or_insert((0, 0));
        if self.daily_requests != 0 && used.0 >= self.daily_requests {
            return Err(QuotaExceeded::Requests);
        }
        if registers && self.daily_registrations != 0 && used.1 >= self.daily_registrations {
            return Err(QuotaExceeded::Registrations);
        }
        used.0 += 1;
        if registers {
            used.1 += 1;
        }
        Ok(())
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
        let mut policy = UdpPolicy::new(&config);
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
    }

    #[test]
    fn quotas_reset_daily() {
        let mut q = Quotas::new(2, 1);
        assert_eq!(q.charge("300:A/B", true, 10), Ok(()));
        assert_eq!(
            q.charge("300:a/b", true, 11),
            Err(QuotaExceeded::Registrations)
        );
        assert_eq!(q.charge("300:A/B", false, 12), Ok(()));
        assert_eq!(q.charge("300:A/B", false, 13), Err(QuotaExceeded::Requests));
        assert_eq!(q.charge("300:A/B", true, 86_400 + 1), Ok(()));
        assert_eq!(Quotas::new(0, 0).charge("x", true, 1), Ok(()));
    }
}
