//! A cache of rendered REST resolutions, for the hot path of anonymous `GET
//! /api/handles/{handle}` requests without parameters.
//!
//! Entries are dropped by the store's commit listener after a commit is durable and before its
//! writers are acknowledged, so a client that was told its write succeeded never reads the old
//! record from here, whichever interface wrote it. A generation counter closes the remaining
//! race: a reader notes the generation before it reads the store, and its rendering is kept
//! only if no commit was announced in between.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use idnode_registry::CommitNotice;

const SHARDS: usize = 16;

/// Rendered answers by normalized handle.
pub(crate) struct ResponseCache {
    shards: Vec<Mutex<Shard>>,
    generation: AtomicU64,
    max_shard_bytes: usize,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<Vec<u8>, Entry>,
    bytes: usize,
}

struct Entry {
    /// The request's spelling of the handle, which the answer echoes.
    spelling: Box<str>,
    body: Bytes,
}

impl Entry {
    fn size(&self, key: &[u8]) -> usize {
        key.len() + self.spelling.len() + self.body.len() + 64
    }
}

impl ResponseCache {
    /// A cache holding at most about `max_bytes`; 0 disables it.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            generation: AtomicU64::new(0),
            max_shard_bytes: max_bytes / SHARDS,
        }
    }

    /// Whether the cache keeps anything.
    pub(crate) fn enabled(&self) -> bool {
        self.max_shard_bytes > 0
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        // FNV-1a: cheap, and the keys are not chosen to collide within one process's shards
        // in any way that matters beyond an uneven spread.
        let mut hash: u32 = 0x811c_9dc5;
        for &b in key {
            hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        &self.shards[hash as usize % SHARDS]
    }

    /// The cached answer for `key` as spelled `spelling`.
    pub(crate) fn get(&self, key: &[u8], spelling: &str) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let shard = self
            .shard(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = shard.entries.get(key)?;
        (*entry.spelling == *spelling).then(|| entry.body.clone())
    }

    /// The generation to note before reading the store for [`Self::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps an answer rendered from a store read made at `generation`, unless a commit was
    /// announced since.
    pub(crate) fn insert(&self, key: Vec<u8>, spelling: &str, body: Bytes, generation: u64) {
        if !self.enabled() {
            return;
        }
        let entry = Entry {
            spelling: spelling.into(),
            body,
        };
        let size = entry.size(&key);
        if size > self.max_shard_bytes {
            return;
        }
        let mut shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Checked under the shard lock: an invalidation either ran before (and the generation
        // moved) or runs after this insertion (and removes it).
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        while shard.bytes + size > self.max_shard_bytes {
            // Evict an arbitrary entry; iteration order of a HashMap is effectively random.
            let Some(victim) = shard.entries.keys().next().cloned() else {
                break;
            };
            if let Some(old) = shard.entries.remove(&victim) {
                shard.bytes -= old.size(&victim);
            }
        }
        if let Some(old) = shard.entries.insert(key.clone(), entry) {
            shard.bytes -= old.size(&key);
        }
        shard.bytes += size;
    }

    /// Drops what a commit changed: the named handles, or everything when homing changed.
    pub(crate) fn invalidate(&self, notice: &CommitNotice) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if notice.prefixes_changed {
            for shard in &self.shards {
                let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
                shard.entries.clear();
                shard.bytes = 0;
            }
            return;
        }
        for key in &notice.handles {
            let mut shard = self
                .shard(key)
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(old) = shard.entries.remove(key) {
                shard.bytes -= old.size(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(keys: &[&[u8]]) -> CommitNotice {
        CommitNotice {
            handles: keys.iter().map(|k| k.to_vec()).collect(),
            prefixes_changed: false,
        }
    }

    #[test]
    fn entries_are_dropped_by_commits() {
        let cache = ResponseCache::new(1 << 20);
        let generation = cache.generation();
        cache.insert(
            b"88/A".to_vec(),
            "88/a",
            Bytes::from_static(b"{}"),
            generation,
        );
        assert_eq!(cache.get(b"88/A", "88/a").as_deref(), Some(&b"{}"[..]));
        assert_eq!(
            cache.get(b"88/A", "88/A"),
            None,
            "another spelling is another answer"
        );
        cache.invalidate(&notice(&[b"88/A"]));
        assert_eq!(cache.get(b"88/A", "88/a"), None);
    }

    #[test]
    fn renderings_from_before_a_commit_are_not_kept() {
        let cache = ResponseCache::new(1 << 20);
        let generation = cache.generation();
        // A commit is announced while the reader renders what it read before.
        cache.invalidate(&notice(&[b"88/B"]));
        cache.insert(
            b"88/A".to_vec(),
            "88/a",
            Bytes::from_static(b"old"),
            generation,
        );
        assert_eq!(cache.get(b"88/A", "88/a"), None);
    }

    #[test]
    fn homing_changes_clear_everything_and_size_is_bounded() {
        let cache = ResponseCache::new(SHARDS * 1000);
        for i in 0..200u32 {
            let key = format!("88/{i}").into_bytes();
            cache.insert(
                key,
                &format!("88/{i}"),
                Bytes::from(vec![b'x'; 100]),
                cache.generation(),
            );
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(total <= SHARDS * 1000, "{total}");
        cache.invalidate(&CommitNotice {
            handles: vec![],
            prefixes_changed: true,
        });
        assert!(
            cache
                .shards
                .iter()
                .all(|s| s.lock().unwrap().entries.is_empty())
        );
        assert!(!ResponseCache::new(0).enabled());
    }
}
