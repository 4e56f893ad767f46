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
//! * [`Resolver::approved_prefixes`] lists approved enterprise prefixes and their states, for
//!   the docking task that keeps their prefix handles at the top-level node.

use idnode_proto::Handle;
use idnode_registry::{
    ChangeFeed, Store, StoreError, TraceBatch, TraceCommitted, TraceRead, TraceStore,
};

use crate::onboarding::EntState;
use crate::op::{Failure, internal};
use crate::pipeline::Resolver;

impl<S: Store> Resolver<S> {
    /// The store's change feed, for followers such as the search index: the store seen as a
    /// [`ChangeFeed`] and nothing more.
    pub fn change_feed(&self) -> &impl ChangeFeed {
        self.store()
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

    /// Every enterprise prefix that was approved, with its state (enabled or disabled), in
    /// credit-code order: what the node's docking task keeps at the top-level node. It names
    /// prefixes and states only, which the top-level node publishes anyway.
    pub fn approved_prefixes(&self) -> Result<Vec<(String, EntState)>, Failure> {
        let mut out = Vec::new();
        self.scan_enterprises(|ent| {
            if matches!(ent.state, EntState::Enabled | EntState::Disabled) && ent.admin.is_some() {
                out.push((ent.application.prefix, ent.state));
            }
        })?;
        Ok(out)
    }

    /// The prefixes homed here, in their stored spelling (public: OC 302 lists them as well).
    pub fn homed_prefixes(&self) -> Result<Vec<String>, Failure> {
        self.store().homed_prefixes().map_err(internal)
    }
}

impl<S: Store + TraceStore> Resolver<S> {
    /// The trace log, read-only: the store seen as a [`TraceRead`] and nothing more.
    pub fn trace_log(&self) -> &impl TraceRead {
        self.store()
    }

    /// Appends to the trace log (records, checkpoints, witness state) atomically and durably,
    /// under the batch's preconditions; resolves after the commit is on disk. Records are
    /// signed by the caller after [`Resolver::authorize_trace_write`] allowed each subject.
    pub async fn commit_trace(&self, batch: TraceBatch) -> Result<TraceCommitted, StoreError> {
        self.store().commit_trace(batch).await
    }
}
