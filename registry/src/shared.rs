//! A store behind a trait object: [`SharedStore`] is a [`Store`] and a [`TraceStore`] that
//! forwards to any backend ([`RedbStore`](crate::RedbStore), [`MemStore`](crate::MemStore), a
//! PostgreSQL store) chosen at run time, so the node and its tests run the same code over
//! each. [`Store`]'s futures are `impl Future`, which a trait object cannot return, so
//! [`DynStore`] boxes them; the box costs one allocation per commit, next to a commit's
//! fsync.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::aux::{AuxEntry, AuxScan};
use crate::changes::Change;
use crate::trace::{
    CapturedEvent, StoredTrace, SubjectEntry, SubjectHead, TraceBatch, TraceCommitted, TraceRead,
    TraceStore, WitnessState,
};
use crate::{CommitListener, Epilogue, Hash, Store, StoreError, StoredRecord, WriteBatch};

/// A boxed future of a store operation.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`Store`] + [`TraceStore`]; every type that is both is one.
#[allow(missing_docs)] // Each method is the one of the same name in `Store` or `TraceRead`.
pub trait DynStore: Send + Sync + 'static {
    fn set_commit_listener(&self, listener: CommitListener);
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError>;
    fn commit(&self, batch: WriteBatch) -> StoreFuture<'_, Result<(), StoreError>>;
    fn commit_all(
        &self,
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
    ) -> StoreFuture<'_, Vec<Result<(), StoreError>>>;
    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError>;
    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError>;
    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError>;
    fn aux(&self, space: &str, key: &[u8]) -> Result<Option<AuxEntry>, StoreError>;
    fn scan_aux(&self, space: &str, scan: &AuxScan)
    -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError>;
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError>;
    fn last_change(&self) -> Result<u64, StoreError>;
    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError>;
    fn commit_trace(
        &self,
        batch: TraceBatch,
    ) -> StoreFuture<'_, Result<TraceCommitted, StoreError>>;
    fn trace_size(&self) -> Result<u64, StoreError>;
    fn trace_records(&self, start: u64, limit: usize) -> Result<Vec<StoredTrace>, StoreError>;
    fn trace_digests(&self, start: u64, limit: usize) -> Result<Vec<Hash>, StoreError>;
    fn trace_index_of(&self, digest: &Hash) -> Result<Option<u64>, StoreError>;
    fn trace_subject(
        &self,
        subject: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SubjectEntry>, StoreError>;
    fn trace_head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError>;
    fn trace_heads(&self, subjects: &[&str]) -> Result<Vec<Option<SubjectHead>>, StoreError>;
    fn trace_events(&self, keys: &[(&str, &str)])
    -> Result<Vec<Option<CapturedEvent>>, StoreError>;
    fn trace_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;
    fn trace_checkpoint(&self, size: u64) -> Result<Option<String>, StoreError>;
    fn trace_latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError>;
    fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>, StoreError>;
}

impl<S: Store + TraceStore> DynStore for S {
    fn set_commit_listener(&self, listener: CommitListener) {
        Store::set_commit_listener(self, listener);
    }
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        Store::get(self, key)
    }
    fn commit(&self, batch: WriteBatch) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(Store::commit(self, batch))
    }
    fn commit_all(
        &self,
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
    ) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        Box::pin(Store::commit_all(self, batches, epilogue))
    }
    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError> {
        Store::is_homed(self, prefix)
    }
    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError> {
        Store::homed_prefixes(self)
    }
    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        Store::list_handles(self, prefix, offset, limit)
    }
    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError> {
        Store::count_handles(self, prefix)
    }
    fn aux(&self, space: &str, key: &[u8]) -> Result<Option<AuxEntry>, StoreError> {
        Store::aux(self, space, key)
    }
    fn scan_aux(
        &self,
        space: &str,
        scan: &AuxScan,
    ) -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError> {
        Store::scan_aux(self, space, scan)
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
    fn commit_trace(
        &self,
        batch: TraceBatch,
    ) -> StoreFuture<'_, Result<TraceCommitted, StoreError>> {
        Box::pin(TraceStore::commit_trace(self, batch))
    }
    fn trace_size(&self) -> Result<u64, StoreError> {
        TraceRead::trace_size(self)
    }
    fn trace_records(&self, start: u64, limit: usize) -> Result<Vec<StoredTrace>, StoreError> {
        TraceRead::trace_records(self, start, limit)
    }
    fn trace_digests(&self, start: u64, limit: usize) -> Result<Vec<Hash>, StoreError> {
        TraceRead::trace_digests(self, start, limit)
    }
    fn trace_index_of(&self, digest: &Hash) -> Result<Option<u64>, StoreError> {
        TraceRead::trace_index_of(self, digest)
    }
    fn trace_subject(
        &self,
        subject: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SubjectEntry>, StoreError> {
        TraceRead::trace_subject(self, subject, after, limit)
    }
    fn trace_head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError> {
        TraceRead::trace_head(self, subject)
    }
    fn trace_heads(&self, subjects: &[&str]) -> Result<Vec<Option<SubjectHead>>, StoreError> {
        TraceRead::trace_heads(self, subjects)
    }
    fn trace_events(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<Option<CapturedEvent>>, StoreError> {
        TraceRead::trace_events(self, keys)
    }
    fn trace_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        TraceRead::trace_hashes(self, indexes)
    }
    fn trace_checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        TraceRead::trace_checkpoint(self, size)
    }
    fn trace_latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        TraceRead::trace_latest_checkpoint(self)
    }
    fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>, StoreError> {
        TraceRead::witness_state(self, origin)
    }
}

/// Any store, shared: what the node runs on.
#[derive(Clone)]
pub struct SharedStore(Arc<dyn DynStore>);

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStore")
    }
}

impl SharedStore {
    /// Shares `store`.
    pub fn new(store: impl DynStore) -> Self {
        Self(Arc::new(store))
    }

    /// See [`Store::set_commit_listener`].
    pub fn set_commit_listener(&self, listener: CommitListener) {
        self.0.set_commit_listener(listener);
    }
}

impl Store for SharedStore {
    fn set_commit_listener(&self, listener: CommitListener) {
        self.0.set_commit_listener(listener);
    }
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        self.0.get(key)
    }
    fn commit(&self, batch: WriteBatch) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.0.commit(batch)
    }
    fn commit_all(
        &self,
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
    ) -> impl Future<Output = Vec<Result<(), StoreError>>> + Send {
        self.0.commit_all(batches, epilogue)
    }
    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError> {
        self.0.is_homed(prefix)
    }
    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError> {
        self.0.homed_prefixes()
    }
    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.0.list_handles(prefix, offset, limit)
    }
    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError> {
        self.0.count_handles(prefix)
    }
    fn aux(&self, space: &str, key: &[u8]) -> Result<Option<AuxEntry>, StoreError> {
        self.0.aux(space, key)
    }
    fn scan_aux(
        &self,
        space: &str,
        scan: &AuxScan,
    ) -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError> {
        self.0.scan_aux(space, scan)
    }
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        self.0.changes_since(after, limit)
    }
    fn last_change(&self) -> Result<u64, StoreError> {
        self.0.last_change()
    }
    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError> {
        self.0.scan_handles(after, limit)
    }
}

impl TraceStore for SharedStore {
    fn commit_trace(
        &self,
        batch: TraceBatch,
    ) -> impl Future<Output = Result<TraceCommitted, StoreError>> + Send {
        self.0.commit_trace(batch)
    }
}

impl TraceRead for SharedStore {
    fn trace_size(&self) -> Result<u64, StoreError> {
        self.0.trace_size()
    }
    fn trace_records(&self, start: u64, limit: usize) -> Result<Vec<StoredTrace>, StoreError> {
        self.0.trace_records(start, limit)
    }
    fn trace_digests(&self, start: u64, limit: usize) -> Result<Vec<Hash>, StoreError> {
        self.0.trace_digests(start, limit)
    }
    fn trace_index_of(&self, digest: &Hash) -> Result<Option<u64>, StoreError> {
        self.0.trace_index_of(digest)
    }
    fn trace_subject(
        &self,
        subject: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SubjectEntry>, StoreError> {
        self.0.trace_subject(subject, after, limit)
    }
    fn trace_head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError> {
        self.0.trace_head(subject)
    }
    fn trace_heads(&self, subjects: &[&str]) -> Result<Vec<Option<SubjectHead>>, StoreError> {
        self.0.trace_heads(subjects)
    }
    fn trace_events(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<Option<CapturedEvent>>, StoreError> {
        self.0.trace_events(keys)
    }
    fn trace_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.0.trace_hashes(indexes)
    }
    fn trace_checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        self.0.trace_checkpoint(size)
    }
    fn trace_latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.0.trace_latest_checkpoint()
    }
    fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>, StoreError> {
        self.0.witness_state(origin)
    }
}
