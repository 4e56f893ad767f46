//! Read-only views of the store for the parts of the node that follow it or serve the trace
//! log, and the one way to append to that log. Front ends never hold the store itself: they get
//! these views, which implement the registry's read traits and nothing that writes handles.
//!
//! * [`Resolver::trace_log`] is a [`TraceRead`]: records, the log's hashes, checkpoints and
//!   witness state, which are public (the log is a transparency log); who may read a record's
//!   subject history is decided by [`Resolver::may_read_trace`].
//! * [`Resolver::change_feed`] is a [`ChangeFeed`] for the search index, which is derived data
//!   and answers nothing without checking each hit through [`Resolver::handle`].
//! * [`Resolver::commit_trace`] appends trace records, checkpoints and witness state.

use idnode_registry::{
    Change, ChangeFeed, Hash, Store, StoreError, StoredRecord, StoredTrace, SubjectEntry,
    SubjectHead, TraceBatch, TraceCommitted, TraceRead, TraceStore, WitnessState,
};

use idnode_proto::Handle;

use crate::op::Failure;
use crate::op::internal;
use crate::pipeline::Resolver;

/// The trace log of the store, read-only.
#[derive(Debug)]
pub struct TraceLog<'a, S>(&'a S);

/// The change feed of the store, read-only.
#[derive(Debug)]
pub struct Feed<'a, S>(&'a S);

impl<S: Store> Resolver<S> {
    /// The store's change feed, for followers such as the search index.
    pub fn change_feed(&self) -> Feed<'_, S> {
        Feed(self.store())
    }

    /// Whether a handle exists, whoever asks: a resolution tells anyone as much (RC 100 or
    /// not), so this reveals nothing more. For the offline commands that must not overwrite.
    pub fn exists(&self, handle: &Handle) -> Result<bool, Failure> {
        Ok(self.store().get(&handle.key()).map_err(internal)?.is_some())
    }

    /// The spelling under which a handle was first stored (handles match without regard to
    /// ASCII case), or `None` if it does not exist. Trace records are indexed under it.
    pub fn stored_spelling(&self, handle: &Handle) -> Result<Option<String>, Failure> {
        Ok(self
            .store()
            .get(&handle.key())
            .map_err(internal)?
            .map(|stored| stored.handle))
    }

    /// The prefixes homed here, in their stored spelling (public: OC 302 lists them as well).
    pub fn homed_prefixes(&self) -> Result<Vec<String>, Failure> {
        self.store().homed_prefixes().map_err(internal)
    }
}

impl<S: Store + TraceStore> Resolver<S> {
    /// The trace log, read-only.
    pub fn trace_log(&self) -> TraceLog<'_, S> {
        TraceLog(self.store())
    }

    /// Appends to the trace log (records, checkpoints, witness state) atomically and durably,
    /// under the batch's preconditions; resolves after the commit is on disk. Records are
    /// signed by the caller after [`Resolver::authorize_trace_write`] allowed each subject.
    pub async fn commit_trace(&self, batch: TraceBatch) -> Result<TraceCommitted, StoreError> {
        self.store().commit_trace(batch).await
    }
}

impl<S: Store> ChangeFeed for Feed<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        Store::get(self.0, key)
    }
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        Store::changes_since(self.0, after, limit)
    }
    fn last_change(&self) -> Result<u64, StoreError> {
        Store::last_change(self.0)
    }
    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError> {
        Store::scan_handles(self.0, after, limit)
    }
}

impl<S: TraceRead> TraceRead for TraceLog<'_, S> {
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
