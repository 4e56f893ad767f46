//! Commit notifications: a store tells a listener which handles a group commit changed, after
//! the commit is durable and before any writer of the group is acknowledged.
//!
//! Caches above the store rely on this order: once a write is acknowledged, no cache can still
//! serve what it replaced (read-your-writes across every interface).

use std::sync::{Arc, RwLock};

use crate::{Mutation, WriteBatch};

/// What one group commit changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommitNotice {
    /// Normalized keys of the handles that were created, replaced or deleted.
    pub handles: Vec<Vec<u8>>,
    /// Whether a prefix was homed or unhomed.
    pub prefixes_changed: bool,
    /// The auxiliary spaces that were written (each once), for parts that follow records
    /// kept there, such as enterprise states.
    pub aux_spaces: Vec<String>,
}

impl CommitNotice {
    /// Adds the effects of an applied batch.
    pub(crate) fn add(&mut self, batch: &WriteBatch) {
        for mutation in &batch.mutations {
            match mutation {
                Mutation::PutHandle { handle, .. } | Mutation::DeleteHandle { handle, .. } => {
                    self.handles.push(idnode_proto::normalize(handle));
                }
                Mutation::HomePrefix { .. } | Mutation::UnhomePrefix { .. } => {
                    self.prefixes_changed = true;
                }
                Mutation::PutAux { space, .. }
                | Mutation::DeleteAux { space, .. }
                | Mutation::AppendAux { space, .. } => {
                    if !self.aux_spaces.contains(space) {
                        self.aux_spaces.push(space.clone());
                    }
                }
            }
        }
    }

    /// Whether nothing a reader could observe through handles, prefixes or aux spaces changed.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty() && !self.prefixes_changed && self.aux_spaces.is_empty()
    }

    /// Whether a handle or the homed prefixes changed: what caches of answers care about.
    pub fn touches_handles(&self) -> bool {
        !self.handles.is_empty() || self.prefixes_changed
    }
}

/// A function called with every commit's notice.
pub type CommitListener = Arc<dyn Fn(&CommitNotice) + Send + Sync>;

/// The listener slot a store shares with its writer.
#[derive(Default, Clone)]
pub(crate) struct ListenerSlot(Arc<RwLock<Option<CommitListener>>>);

impl ListenerSlot {
    pub(crate) fn set(&self, listener: CommitListener) {
        // A poisoned lock only means a listener panicked; replacing it is still right.
        let mut slot = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(listener);
    }

    pub(crate) fn notify(&self, notice: &CommitNotice) {
        if notice.is_empty() {
            return;
        }
        let slot = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(listener) = slot.as_ref() {
            listener(notice);
        }
    }
}

impl std::fmt::Debug for ListenerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenerSlot")
    }
}
