//! A cache of rendered REST resolutions, for the hot path of anonymous `GET
//! /api/handles/{handle}` requests without parameters.
//!
//! Entries are dropped by the store's commit listener after a commit is durable and before its
//! writers are acknowledged, so a client that was told its write succeeded never reads the old
//! record from here, whichever interface wrote it. A generation counter closes the remaining
//! race: a reader notes the generation before it reads the store, and its rendering is kept
//! only if no commit was announced in between.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use idnode_registry::CommitNotice;

const SHARDS: usize = 16;

/// Rendered answers by normalized handle.
///
/// A lookup costs one hash of the request's spelling (case-folded on the fly, without
/// allocating the normalized key), one uncontended shard lock and one table probe, and then reads
/// a single allocation holding the spelling and the body. Entries are found by a keyed 64-bit
/// hash of the normalized handle rather than by the handle itself: two handles whose hashes
/// collide share a slot, the later insertion replacing the earlier, and a hit still requires the
/// stored spelling to equal the request's, so a collision can only cost a miss.
pub(crate) struct ResponseCache {
    shards: Box<[Mutex<Shard>]>,
    /// Keyed per process, so request paths cannot be chosen to collide.
    hasher: RandomState,
    generation: AtomicU64,
    max_shard_bytes: usize,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<u64, Entry, BuildHasherDefault<Prehashed>>,
    bytes: usize,
}

struct Entry {
    /// The request's spelling of the handle, which the answer echoes, followed by the answer.
    data: Arc<[u8]>,
    spelling_len: usize,
}

impl Entry {
    fn size(&self) -> usize {
        // The slot, the reference counts and the allocator's rounding, roughly.
        self.data.len() + 64
    }

    fn spelling(&self) -> &[u8] {
        &self.data[..self.spelling_len]
    }
}

/// A cached answer shared with the responses that send it: the body part of an entry's data.
struct Body {
    data: Arc<[u8]>,
    start: usize,
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        &self.data[self.start..]
    }
}

/// The hasher of the tables, whose keys already are hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; this keeps other input well defined all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl ResponseCache {
    /// A cache holding at most about `max_bytes`; 0 disables it.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            generation: AtomicU64::new(0),
            max_shard_bytes: max_bytes / SHARDS,
        }
    }

    /// The bytes held now (entries and their overhead, roughly).
    pub(crate) fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).bytes)
            .sum()
    }

    /// Whether the cache keeps anything.
    pub(crate) fn enabled(&self) -> bool {
        self.max_shard_bytes > 0
    }

    /// The hash of `text` with ASCII letters upper-cased, which is the hash of its normalized
    /// form (`idnode_proto::normalize`).
    fn hash(&self, text: &[u8]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        let mut folded = [0u8; 64];
        for chunk in text.chunks(folded.len()) {
            let folded = &mut folded[..chunk.len()];
            folded.copy_from_slice(chunk);
            folded.make_ascii_uppercase();
            hasher.write(folded);
        }
        hasher.finish()
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        // Bits the tables do not use: they take the bucket from the low bits and a tag from the
        // top seven.
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    fn lock(&self, hash: u64) -> std::sync::MutexGuard<'_, Shard> {
        self.shard(hash)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached answer for the handle whose normalized form is `key`, as spelled `spelling`.
    pub(crate) fn get(&self, key: &[u8], spelling: &str) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        self.find(self.hash(key), spelling)
    }

    /// The cached answer for the handle spelled `spelling`, whose normalized form is the
    /// spelling with ASCII letters upper-cased (`idnode_proto::normalize`): [`Self::get`]
    /// without building that key.
    pub(crate) fn spelled(&self, spelling: &str) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        self.find(self.hash(spelling.as_bytes()), spelling)
    }

    fn find(&self, hash: u64, spelling: &str) -> Option<Bytes> {
        let shard = self.lock(hash);
        let entry = shard.entries.get(&hash)?;
        if entry.spelling() != spelling.as_bytes() {
            return None;
        }
        let body = Body {
            data: Arc::clone(&entry.data),
            start: entry.spelling_len,
        };
        drop(shard);
        Some(Bytes::from_owner(body))
    }

    /// The generation to note before reading the store for [`Self::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps the answer for the handle whose normalized form is `key`, as spelled `spelling`,
    /// rendered from a store read made at `generation`, unless a commit was announced since.
    pub(crate) fn insert(&self, key: &[u8], spelling: &str, body: &[u8], generation: u64) {
        if !self.enabled() {
            return;
        }
        let mut data = Vec::with_capacity(spelling.len() + body.len());
        data.extend_from_slice(spelling.as_bytes());
        data.extend_from_slice(body);
        let entry = Entry {
            data: data.into(),
            spelling_len: spelling.len(),
        };
        let size = entry.size();
        if size > self.max_shard_bytes {
            return;
        }
        let hash = self.hash(key);
        let mut shard = self.lock(hash);
        // Checked under the shard lock: an invalidation either ran before (and the generation
        // moved) or runs after this insertion (and removes it).
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if let Some(old) = shard.entries.remove(&hash) {
            shard.bytes -= old.size();
        }
        while shard.bytes + size > self.max_shard_bytes {
            // Evict an arbitrary entry; iteration order of a HashMap is effectively random.
            let Some(&victim) = shard.entries.keys().next() else {
                break;
            };
            if let Some(old) = shard.entries.remove(&victim) {
                shard.bytes -= old.size();
            }
        }
        shard.entries.insert(hash, entry);
        shard.bytes += size;
    }

    /// Drops what a commit changed: the named handles, or everything when homing changed.
    pub(crate) fn invalidate(&self, notice: &CommitNotice) {
        if !notice.touches_handles() {
            return;
        }
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
            let hash = self.hash(key);
            let mut shard = self.lock(hash);
            // This may drop another handle whose hash collides with this one's; that only
            // costs that handle a miss.
            if let Some(old) = shard.entries.remove(&hash) {
                shard.bytes -= old.size();
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
            aux_spaces: Vec::new(),
        }
    }

    #[test]
    fn entries_are_dropped_by_commits() {
        let cache = ResponseCache::new(1 << 20);
        let generation = cache.generation();
        cache.insert(b"88/A", "88/a", b"{}", generation);
        assert_eq!(cache.spelled("88/a").as_deref(), Some(&b"{}"[..]));
        assert_eq!(cache.get(b"88/A", "88/a").as_deref(), Some(&b"{}"[..]));
        assert_eq!(
            cache.spelled("88/A"),
            None,
            "another spelling is another answer"
        );
        assert_eq!(cache.spelled("88/b"), None);
        cache.invalidate(&notice(&[b"88/A"]));
        assert_eq!(cache.spelled("88/a"), None);
    }

    #[test]
    fn renderings_from_before_a_commit_are_not_kept() {
        let cache = ResponseCache::new(1 << 20);
        let generation = cache.generation();
        // A commit is announced while the reader renders what it read before.
        cache.invalidate(&notice(&[b"88/B"]));
        cache.insert(b"88/A", "88/a", b"old", generation);
        assert_eq!(cache.spelled("88/a"), None);
    }

    #[test]
    fn homing_changes_clear_everything_and_size_is_bounded() {
        let cache = ResponseCache::new(SHARDS * 1000);
        for i in 0..200u32 {
            let key = format!("88/{i}");
            cache.insert(key.as_bytes(), &key, &[b'x'; 100], cache.generation());
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(total <= SHARDS * 1000, "{total}");
        cache.invalidate(&CommitNotice {
            handles: vec![],
            prefixes_changed: true,
            aux_spaces: Vec::new(),
        });
        assert!(
            cache
                .shards
                .iter()
                .all(|s| s.lock().unwrap().entries.is_empty())
        );
        assert!(!ResponseCache::new(0).enabled());
    }

    #[test]
    fn a_new_spelling_replaces_the_old_one_and_answers_outlive_their_entry() {
        let cache = ResponseCache::new(1 << 20);
        cache.insert(b"88/\xC3\xA9A", "88/\u{e9}a", b"first", cache.generation());
        let first = cache.spelled("88/\u{e9}a").unwrap();
        cache.insert(b"88/\xC3\xA9A", "88/\u{e9}A", b"second", cache.generation());
        assert_eq!(cache.spelled("88/\u{e9}a"), None);
        assert_eq!(cache.spelled("88/\u{e9}A").as_deref(), Some(&b"second"[..]));
        let size: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert_eq!(size, "88/\u{e9}A".len() + b"second".len() + 64, "one entry");
        cache.invalidate(&notice(&["88/\u{e9}A".as_bytes()]));
        assert_eq!(cache.spelled("88/\u{e9}A"), None);
        // An answer taken before the entry was dropped stays valid.
        assert_eq!(&first[..], b"first");
    }

    #[test]
    fn keys_other_than_the_spelling_folded() {
        // The native protocol's slashless handles name their prefix handle.
        let cache = ResponseCache::new(1 << 20);
        cache.insert(b"0.NA/88.118", "88.118", b"prefix", cache.generation());
        assert_eq!(cache.spelled("88.118"), None);
        assert_eq!(
            cache.get(b"0.NA/88.118", "88.118").as_deref(),
            Some(&b"prefix"[..])
        );
        cache.invalidate(&notice(&[b"0.NA/88.118"]));
        assert_eq!(cache.get(b"0.NA/88.118", "88.118"), None);
    }

    #[test]
    fn the_hash_folds_ascii_case_only() {
        let cache = ResponseCache::new(1 << 20);
        assert_eq!(
            cache.hash(b"88.118.8/chem-1"),
            cache.hash(b"88.118.8/CHEM-1")
        );
        let long = "x".repeat(200);
        assert_eq!(
            cache.hash(long.as_bytes()),
            cache.hash(long.to_ascii_uppercase().as_bytes())
        );
        assert_ne!(cache.hash(b"88/a"), cache.hash(b"88/b"));
        assert_ne!(
            cache.hash("88/\u{e9}".as_bytes()),
            cache.hash("88/\u{c9}".as_bytes())
        );
    }
}
