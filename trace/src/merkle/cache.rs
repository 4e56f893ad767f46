//! A bounded in-memory cache of stored hashes, shared by every reader of a log.
//!
//! A stored hash never changes once written (the log only grows), so a cached copy is always
//! right. The cache is split into shards, each behind its own lock; a shard that is full is
//! emptied before the next insertion, which bounds memory without bookkeeping per entry. The
//! hashes near the root, read by almost every proof, are refilled at once after such a reset.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Hash, HashReader};

/// The number of shards: a power of two, so that the shard of an index is a mask away.
const SHARDS: usize = 64;

/// A bounded, thread-safe cache of stored hashes by stored-hash index.
#[derive(Debug)]
pub struct HashCache {
    shards: Vec<Mutex<HashMap<u64, Hash>>>,
    per_shard: usize,
}

impl HashCache {
    /// A cache holding at most about `max_entries` hashes (each costs about 48 bytes); 0 turns
    /// caching off.
    pub fn new(max_entries: usize) -> Self {
        let per_shard = max_entries.div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard,
        }
    }

    /// A reader that answers from the cache and reads the rest from `inner`, in one call.
    pub fn reader<R: HashReader>(&self, inner: R) -> CachedReader<'_, R> {
        CachedReader { cache: self, inner }
    }

    /// The number of cached hashes.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, index: u64) -> &Mutex<HashMap<u64, Hash>> {
        // Spread consecutive indexes (one leaf's hashes) over the shards.
        let mixed = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
        &self.shards[(mixed as usize) & (SHARDS - 1)]
    }

    fn get(&self, index: u64) -> Option<Hash> {
        lock(self.shard(index)).get(&index).copied()
    }

    fn insert(&self, index: u64, hash: Hash) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = lock(self.shard(index));
        if shard.len() >= self.per_shard {
            shard.clear();
        }
        shard.insert(index, hash);
    }
}

/// Locks a shard; a shard whose holder panicked holds only complete entries, so it is used as is.
fn lock(shard: &Mutex<HashMap<u64, Hash>>) -> std::sync::MutexGuard<'_, HashMap<u64, Hash>> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A [`HashReader`] in front of another one, through a [`HashCache`].
#[derive(Debug)]
pub struct CachedReader<'a, R> {
    cache: &'a HashCache,
    inner: R,
}

impl<R: HashReader> HashReader for CachedReader<'_, R> {
    type Error = R::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, R::Error> {
        let mut out: Vec<Option<Hash>> = indexes.iter().map(|&i| self.cache.get(i)).collect();
        let missing: Vec<u64> = indexes
            .iter()
            .zip(&out)
            .filter(|(_, hash)| hash.is_none())
            .map(|(&index, _)| index)
            .collect();
        if !missing.is_empty() {
            let read = self.inner.read_hashes(&missing)?;
            let mut read = missing.iter().zip(read);
            for slot in out.iter_mut().filter(|slot| slot.is_none()) {
                // The inner reader answers one hash per index; a short answer is left for the
                // caller to detect as a short read.
                let Some((&index, hash)) = read.next() else {
                    break;
                };
                self.cache.insert(index, hash);
                *slot = Some(hash);
            }
        }
        Ok(out.into_iter().map_while(|hash| hash).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemHashStore, prove_inclusion, tree_hash};

    /// Counts the indexes read through it.
    struct Counting<'a>(&'a MemHashStore, std::cell::Cell<usize>);

    impl HashReader for Counting<'_> {
        type Error = crate::merkle::MissingHash;

        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
            self.1.set(self.1.get() + indexes.len());
            self.0.read_hashes(indexes)
        }
    }

    fn log(size: u64) -> MemHashStore {
        let mut store = MemHashStore::new();
        for n in 0..size {
            store.append_data(&n.to_be_bytes());
        }
        store
    }

    #[test]
    fn cached_proofs_equal_uncached_ones_and_read_less() {
        let store = log(1000);
        let cache = HashCache::new(10_000);
        let counting = Counting(&store, std::cell::Cell::new(0));
        let reader = cache.reader(&counting);
        for index in [0, 1, 511, 999, 0, 1, 511, 999] {
            assert_eq!(
                prove_inclusion(index, 1000, &reader).unwrap(),
                prove_inclusion(index, 1000, &store).unwrap()
            );
        }
        let first = counting.1.get();
        for index in [0, 1, 511, 999] {
            prove_inclusion(index, 1000, &reader).unwrap();
        }
        assert_eq!(counting.1.get(), first, "every hash came from the cache");
        assert_eq!(tree_hash(1000, &reader).unwrap(), store.root());
    }

    #[test]
    fn the_cache_stays_bounded_and_zero_turns_it_off() {
        let store = log(2000);
        let cache = HashCache::new(100);
        let reader = cache.reader(&store);
        for index in 0..2000 {
            prove_inclusion(index, 2000, &reader).unwrap();
        }
        assert!(cache.len() <= 100 + SHARDS, "{}", cache.len());
        let off = HashCache::new(0);
        prove_inclusion(5, 2000, &off.reader(&store)).unwrap();
        assert!(off.is_empty());
    }

    #[test]
    fn missing_hashes_are_errors_and_are_not_cached() {
        let store = log(10);
        let cache = HashCache::new(100);
        assert!(cache.reader(&store).read_hashes(&[1, 10_000]).is_err());
        assert_eq!(cache.len(), 0);
    }
}
