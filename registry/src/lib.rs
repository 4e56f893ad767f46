//! Storage for idnode: the [`Store`] trait, [`RedbStore`] on a redb file, and [`MemStore`] for
//! tests.
//!
//! A stored handle is a [`StoredRecord`]: the handle as first spelled, a version that grows with
//! every change, and its values in the RFC 3651 encoding (`int4 count` + value records, see
//! `idnode_proto::Record`). Keys are the ASCII upper-cased handle (`idnode_proto::normalize`).
//!
//! Writes are [`WriteBatch`]es of [`Mutation`]s with preconditions. A batch is applied
//! atomically: if any precondition fails, none of its mutations is applied. [`RedbStore`] runs a
//! single writer thread that drains every batch queued while the previous commit was in flight,
//! applies them in one redb transaction, commits durably (`Durability::Immediate`), and only then
//! acknowledges each batch. Durability is never relaxed; batching provides the throughput.
//!
//! Auxiliary key-value entries (templates, enterprises, tokens, the audit log; see [`aux`]) are
//! [`Mutation`]s too, so they commit atomically with the handle changes of the same batch.
//!
//! Every committed handle mutation is also recorded in a change feed ([`changes`]), in the
//! same transaction, so that followers such as the search index can tail it.
//!
//! Signed trace records and their Merkle log live in the same database behind the separate
//! [`TraceStore`] trait: a [`TraceBatch`] goes through the same writer thread and the same
//! transactions as handle writes (see the `trace` module for the tables).
//!
//! This is the only crate that knows redb. It does not read the clock.
#![warn(missing_docs)]

pub mod aux;
pub mod changes;
mod listen;
mod mem;
mod plan;
mod redb_store;
mod shared;
mod trace;

use std::future::Future;

use thiserror::Error;

pub use aux::{AuxEntry, AuxScan};
pub use changes::Change;
/// The Merkle hash of the trace log, as the trace store's reads return it.
pub use idnode_trace::merkle::Hash;
pub use listen::{CommitListener, CommitNotice};
pub use mem::MemStore;
pub use redb_store::{DEFAULT_CACHE_BYTES, RedbStats, RedbStore};
pub use shared::{DynStore, SharedStore, StoreFuture};
pub use trace::{
    CapturedEvent, EventKey, StoredTrace, SubjectEntry, SubjectHead, TraceBatch, TraceCommitted,
    TraceEntry, TraceHashes, TraceMutation, TraceRead, TraceStore, WitnessState,
};

/// A handle as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The handle in the spelling of its creation.
    pub handle: String,
    /// Grows by at least one with every change; starts at 1.
    pub version: u64,
    /// `int4 count` + encoded values (`idnode_proto::Record`).
    pub values: Vec<u8>,
}

/// What a mutation expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Apply whatever is there.
    Any,
    /// The handle must not exist.
    Absent,
    /// The handle must exist at exactly this version.
    Version(u64),
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Create or replace a handle's values. The stored version becomes the old version + 1, or
    /// 1 for a new handle. The spelling is kept from creation.
    PutHandle {
        /// The handle as spelled by the caller; its normalized form is the key.
        handle: String,
        /// `int4 count` + encoded values.
        values: Vec<u8>,
        /// The precondition.
        expect: Expect,
    },
    /// Delete a handle.
    DeleteHandle {
        /// The handle; its normalized form is the key.
        handle: String,
        /// The precondition; `Expect::Absent` is a caller error and always fails.
        expect: Expect,
    },
    /// Mark a prefix (`88.118.8`) as homed at this node. Idempotent.
    HomePrefix {
        /// The prefix in the caller's spelling.
        prefix: String,
    },
    /// Remove a homed prefix. Idempotent.
    UnhomePrefix {
        /// The prefix.
        prefix: String,
    },
    /// Create or replace an auxiliary entry (see [`aux`]). The stored version becomes the old
    /// version + 1, or 1 for a new entry.
    PutAux {
        /// The space, such as `template`.
        space: String,
        /// The key within the space.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// The precondition.
        expect: Expect,
    },
    /// Delete an auxiliary entry.
    DeleteAux {
        /// The space.
        space: String,
        /// The key.
        key: Vec<u8>,
        /// The precondition; `Expect::Absent` is a caller error and always fails.
        expect: Expect,
    },
    /// Append an entry to an append-only space: the key is `key_prefix` followed by the space's
    /// next sequence number (big-endian `u64`, from 1), assigned in the writer's transaction.
    AppendAux {
        /// The space, such as `audit`.
        space: String,
        /// What comes before the sequence number, such as a big-endian timestamp; may be empty.
        key_prefix: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
}

/// Mutations applied all together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The mutations, applied in order (later ones see the effect of earlier ones).
    pub mutations: Vec<Mutation>,
}

/// Builds the closing batch of [`Store::commit_all`] from which of its batches were applied
/// (`true` at the position of every applied batch). Used for summaries that must commit with
/// exactly the changes they describe, such as one audit entry for a bulk import.
pub type Epilogue = Box<dyn FnOnce(&[bool]) -> Option<WriteBatch> + Send>;

/// Why the store failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A precondition did not hold; nothing of the batch was applied.
    #[error("precondition failed for {handle}")]
    Conflict {
        /// The handle whose precondition failed.
        handle: String,
    },
    /// The database failed; nothing of the batch was applied.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The store is shut down.
    #[error("store is closed")]
    Closed,
}

/// The reads a follower of the store needs to keep derived data (the search index) in step: the
/// change feed, a scan to rebuild from, and single records. Every [`Store`] is one; the
/// resolver hands followers a view that implements this trait and nothing that writes.
pub trait ChangeFeed: Send + Sync {
    /// See [`Store::get`].
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError>;
    /// See [`Store::changes_since`].
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError>;
    /// See [`Store::last_change`].
    fn last_change(&self) -> Result<u64, StoreError>;
    /// See [`Store::scan_handles`].
    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError>;
}

impl<S: Store + ?Sized> ChangeFeed for S {
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        Store::get(self, key)
    }
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        Store::changes_since(self, after, limit)
    }
    fn last_change(&self) -> Result<u64, StoreError> {
        Store::last_change(self)
    }
    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError> {
        Store::scan_handles(self, after, limit)
    }
}

/// The storage operations idnode needs.
pub trait Store: Send + Sync + 'static {
    /// The stored record of the handle with this normalized key.
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError>;

    /// Calls `listener` after every commit that changed handles or prefixes, once the commit is
    /// durable and before its writers are acknowledged (see [`listen`]). Replaces any earlier
    /// listener.
    fn set_commit_listener(&self, listener: CommitListener);

    /// Applies a batch atomically and durably. Resolves after the commit is on disk.
    fn commit(&self, batch: WriteBatch) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies several batches, each atomically on its own, in order, in one durable
    /// transaction: a batch whose precondition fails writes nothing and answers
    /// [`StoreError::Conflict`] without keeping the others from applying, exactly as if the
    /// batches had been committed one after the other. Then the batch that `epilogue` builds
    /// from which batches applied is applied in the same transaction, so it commits together
    /// with them or not at all. The epilogue is meant for appends; should its batch fail its
    /// precondition anyway, nothing of the transaction is kept and every batch answers
    /// [`StoreError::Storage`]. Resolves with one result per batch, after the commit is on disk.
    fn commit_all(
        &self,
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
    ) -> impl Future<Output = Vec<Result<(), StoreError>>> + Send;

    /// Whether this prefix (any letter case) is homed here.
    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError>;

    /// The homed prefixes in their stored spelling, sorted by normalized form.
    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError>;

    /// Handles under `prefix` (all handles whose key starts with `PREFIX/`), in key order,
    /// skipping `offset` and returning at most `limit`, as first spelled.
    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// The number of handles under `prefix`.
    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError>;

    /// The auxiliary entry at `(space, key)` (see [`aux`]). The default implementation is for
    /// stores without auxiliary data and always fails.
    fn aux(&self, space: &str, key: &[u8]) -> Result<Option<AuxEntry>, StoreError> {
        let _ = (space, key);
        Err(StoreError::Storage(
            "this store keeps no auxiliary data".to_owned(),
        ))
    }

    /// The auxiliary entries of `space` within the bounds of `scan`, as `(key, entry)` pairs in
    /// key order (reversed when `scan.reverse`). The default implementation always fails.
    fn scan_aux(
        &self,
        space: &str,
        scan: &AuxScan,
    ) -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError> {
        let _ = (space, scan);
        Err(StoreError::Storage(
            "this store keeps no auxiliary data".to_owned(),
        ))
    }

    /// The committed handle changes with a sequence number greater than `after`, in sequence
    /// order, at most `limit` (see [`changes`]). `changes_since(0, n)` starts at the first
    /// change. The default implementation is for stores without a change feed and always fails.
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let _ = (after, limit);
        Err(changes::unsupported())
    }

    /// The sequence number of the last committed change, or 0 when nothing has changed yet. The
    /// default implementation always fails.
    fn last_change(&self) -> Result<u64, StoreError> {
        Err(changes::unsupported())
    }

    /// Stored handles in key order, starting after the normalized key `after` (from the first
    /// handle when `after` is empty), at most `limit`, as `(key, record)` pairs. Followers
    /// rebuild from this. The default implementation always fails.
    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError> {
        let _ = (after, limit);
        Err(changes::unsupported())
    }
}
