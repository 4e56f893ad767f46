//! A bounded cache whose entries expire: the least recently used entry makes room for a new
//! one, so a client asking for ever new names cannot grow it.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use idnode_proto::{HandleValue, Ttl};

/// The longest any answer is kept, whatever its values say (handle-protocol.md §8.5).
pub const MAX_TTL: Duration = Duration::from_secs(2 * 86_400);

/// A bounded map of entries with expiry times, safe to share between tasks: shards, each a
/// least-recently-inserted map under its own lock, so that threads answering at once rarely
/// wait for each other. A hit does not reorder its shard (a lookup is a read); entries leave
/// when they expire or when newer ones need their room.
#[derive(Debug)]
pub struct TtlCache<K: Hash + Eq, V> {
    shards: Vec<Mutex<lru::LruCache<K, (Instant, V)>>>,
}

/// Shards of a cache: enough that two to a few dozen cores seldom meet on one lock.
const SHARDS: usize = 16;

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// A cache of at most about `capacity` entries (at least one per shard).
    pub fn new(capacity: usize) -> Self {
        let per_shard = NonZeroUsize::new(capacity.div_ceil(SHARDS)).unwrap_or(NonZeroUsize::MIN);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(lru::LruCache::new(per_shard)))
                .collect(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<lru::LruCache<K, (Instant, V)>> {
        use std::hash::{BuildHasher as _, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(key);
        &self.shards[(hash as usize) % SHARDS]
    }

    /// The entry for `key` if it has not expired at `now`.
    pub fn get<Q>(&self, key: &Q, now: Instant) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        match entries.peek(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` until `now + ttl`; a zero `ttl` keeps nothing.
    pub fn insert(&self, key: K, value: V, now: Instant, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
        entries.put(key, (now + ttl.min(MAX_TTL), value));
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// The number of entries, expired ones included.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long `values` may be cached, `unix_now` being the current epoch second: the shortest
/// TTL among them (relative, or what is left of an absolute one), at most [`MAX_TTL`].
pub fn ttl_of<'a>(values: impl IntoIterator<Item = &'a HandleValue>, unix_now: u64) -> Duration {
    values
        .into_iter()
        .map(|v| match v.ttl {
            Ttl::Relative(secs) => Duration::from_secs(u64::from(secs)),
            Ttl::Absolute(at) => Duration::from_secs(u64::from(at).saturating_sub(unix_now)),
        })
        .min()
        .unwrap_or(MAX_TTL)
        .min(MAX_TTL)
}

/// How long values in their wire encoding (`int4 count` + values) may be cached (see
/// [`ttl_of`]); zero for bytes that do not decode.
pub fn ttl_of_encoded(values: &[u8], unix_now: u64) -> Duration {
    idnode_proto::Record::parse(values)
        .and_then(|r| r.decode_all())
        .map_or(Duration::ZERO, |values| ttl_of(&values, unix_now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = TtlCache::new(2 * SHARDS);
        let now = Instant::now();
        cache.insert("a", 1, now, Duration::from_secs(10));
        cache.insert("b", 2, now, Duration::from_secs(1));
        assert_eq!(cache.get(&"a", now), Some(1));
        assert_eq!(cache.get(&"b", now + Duration::from_secs(2)), None);
        for n in 0..1000 {
            cache.insert(
                n.to_string().leak() as &str,
                n,
                now,
                Duration::from_secs(10),
            );
        }
        assert!(cache.len() <= 2 * SHARDS, "bounded: {}", cache.len());
        cache.insert("e", 5, now, Duration::ZERO);
        assert_eq!(cache.get(&"e", now), None);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn ttl_is_the_shortest_and_capped() {
        let mut a = HandleValue::new(1, "URL", b"x".to_vec());
        a.ttl = Ttl::Relative(10_000_000);
        assert_eq!(ttl_of([&a], 0), MAX_TTL);
        let mut b = a.clone();
        b.ttl = Ttl::Absolute(1_000);
        assert_eq!(ttl_of([&a, &b], 900), Duration::from_secs(100));
        assert_eq!(ttl_of([&b], 2_000), Duration::ZERO);
    }
}
