//! What anonymous clients may consume, as plain counters that every listener shares: token
//! buckets per source address ([`SourceTable`], [`SourceRates`]) and budgets of work in flight
//! ([`InFlight`]: requests, body bytes). The listeners decide what to answer when a budget is
//! spent; the resolver's per-identity quotas are a different thing (they need an identity).
//!
//! Source tables are fixed tables of `MAX_SOURCES` slots, found by a keyed hash of the address
//! and split into independently locked shards, so that every check is O(1) whatever the number
//! of sources: a source whose slot is taken by another address replaces it (the other address
//! is forgotten and starts again with full buckets, as the least recently seen source of a
//! bounded map would). The hash key is random per process, so which addresses share a slot
//! cannot be chosen from outside.

use std::hash::BuildHasher as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// When a client refused for want of capacity should try again, in seconds (HTTP
/// `Retry-After`).
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

/// The most source addresses a table tracks.
pub(crate) const MAX_SOURCES: usize = 65_536;

/// The number of independently locked parts of a source table.
const SHARDS: usize = 64;

/// Source slots per shard.
const SLOTS_PER_SHARD: usize = MAX_SOURCES / SHARDS;

/// A token bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens.
    pub(crate) fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            updated: now,
        }
    }

    /// Takes `amount` tokens if the bucket (refilled at `rate` per second up to `burst`) holds
    /// them.
    pub(crate) fn take(&mut self, amount: f64, rate: f64, burst: f64, now: Instant) -> bool {
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

/// One shard of a [`SourceTable`]: its slots, allocated on first use.
type Shard<T> = Mutex<Vec<Option<(IpAddr, T)>>>;

/// Per-source state of type `T`, in a bounded table.
#[derive(Debug)]
pub(crate) struct SourceTable<T> {
    hasher: std::collections::hash_map::RandomState,
    shards: Box<[Shard<T>]>,
}

impl<T: Clone> SourceTable<T> {
    pub(crate) fn new() -> Self {
        Self {
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Runs `f` on the state of `ip`, made with `fresh` when its slot is empty or held by
    /// another address.
    pub(crate) fn with<R>(
        &self,
        ip: IpAddr,
        fresh: impl FnOnce() -> T,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let hash = self.hasher.hash_one(ip) as usize;
        let mut shard = self.shards[hash % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.is_empty() {
            shard.resize(SLOTS_PER_SHARD, None);
        }
        let slot = &mut shard[(hash / SHARDS) % SLOTS_PER_SHARD];
        let state = match slot {
            Some((held, state)) if *held == ip => state,
            _ => &mut slot.insert((ip, fresh())).1,
        };
        f(state)
    }

    /// The number of slots allocated, for tests of the bound.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

/// A request rate per source address: `rate` per second with a burst of twice that.
#[derive(Debug)]
pub(crate) struct SourceRates {
    /// Requests per second; `None` means no limit.
    rate: Option<f64>,
    table: SourceTable<Bucket>,
}

impl SourceRates {
    /// `per_second` requests per source; 0 means no limit.
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            rate: (per_second > 0).then_some(f64::from(per_second)),
            table: SourceTable::new(),
        }
    }

    /// Whether a rate is configured at all.
    pub(crate) fn limited(&self) -> bool {
        self.rate.is_some()
    }

    /// Whether one more request from `ip` is within its rate.
    pub(crate) fn admit(&self, ip: IpAddr, now: Instant) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        let burst = rate * 2.0;
        self.table.with(
            ip,
            || Bucket::full(burst, now),
            |b| b.take(1.0, rate, burst, now),
        )
    }
}

/// A budget of something in flight (requests, body bytes), shared by every listener.
#[derive(Debug)]
pub(crate) struct InFlight {
    used: AtomicUsize,
    max: usize,
}

impl InFlight {
    /// A budget of `max`; 0 means no limit.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max: if max == 0 { usize::MAX } else { max },
        })
    }

    /// Takes `amount` from the budget until the charge is dropped, or `None` when the budget
    /// cannot hold it.
    pub(crate) fn charge(self: &Arc<Self>, amount: usize) -> Option<Charge> {
        let mut charge = Charge {
            budget: Arc::clone(self),
            amount: 0,
        };
        charge.grow(amount).then_some(charge)
    }

    /// What is in use now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// A part of an [`InFlight`] budget; dropping it gives the part back.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<InFlight>,
    amount: usize,
}

impl Charge {
    /// Takes `more` from the budget into this charge, if the budget can hold it.
    pub(crate) fn grow(&mut self, more: usize) -> bool {
        let budget = &self.budget;
        let taken = budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|&total| total <= budget.max)
            })
            .is_ok();
        if taken {
            self.amount += more;
        }
        taken
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.amount, Ordering::AcqRel);
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
    fn rates_are_per_source_and_refill() {
        let rates = SourceRates::new(2);
        let t0 = base();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..4 {
            assert!(rates.admit(a, t0));
        }
        assert!(!rates.admit(a, t0), "over the burst");
        assert!(rates.admit(b, t0), "another source keeps its own budget");
        assert!(rates.admit(a, t0 + std::time::Duration::from_secs(1)));
        let open = SourceRates::new(0);
        assert!((0..10_000).all(|_| open.admit(a, t0)));
    }

    #[test]
    fn the_source_table_is_bounded() {
        let rates = SourceRates::new(1);
        let t0 = base();
        for i in 0..(MAX_SOURCES as u32 * 2) {
            rates.admit(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)), t0);
        }
        assert_eq!(rates.table.slots(), MAX_SOURCES);
    }

    #[test]
    fn in_flight_budgets_are_given_back() {
        let budget = InFlight::new(10);
        let mut first = budget.charge(4).unwrap();
        assert!(first.grow(5));
        assert!(budget.charge(2).is_none(), "9 of 10 used");
        assert!(!first.grow(2));
        let second = budget.charge(1).unwrap();
        assert_eq!(budget.used(), 10);
        drop(first);
        drop(second);
        assert_eq!(budget.used(), 0);
        let open = InFlight::new(0);
        assert!(open.charge(usize::MAX / 2).is_some());
    }
}
