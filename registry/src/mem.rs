//! [`MemStore`]: the [`Store`] contract on in-memory B-trees, for tests and simulations.

use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use idnode_proto::normalize;

use crate::plan::{Current, Op, handle_range, plan};
use crate::{Store, StoreError, StoredRecord, WriteBatch};

/// A [`Store`] held in memory, with the same semantics as [`crate::RedbStore`]: atomic batches,
/// preconditions, versions, homed prefixes and listing. Nothing survives a drop.
///
/// A commit takes the write lock for the whole batch, so batches are serialized and readers
/// never see half of one.
#[derive(Debug, Default)]
pub struct MemStore {
    state: RwLock<State>,
}

/// The tables, keyed by normalized handle or prefix.
#[derive(Debug, Default)]
struct State {
    handles: BTreeMap<Vec<u8>, StoredRecord>,
    prefixes: BTreeMap<Vec<u8>, String>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a batch synchronously; [`Store::commit`] wraps this.
    pub fn commit_now(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let mut state = self.write();
        let ops = plan(batch, |key| {
            Ok(state.handles.get(key).map(|record| Current {
                version: record.version,
                handle: record.handle.clone(),
            }))
        })?;
        for op in ops {
            match op {
                Op::Put { key, record } => {
                    state.handles.insert(key, record);
                }
                Op::Delete { key } => {
                    state.handles.remove(&key);
                }
                Op::Home { key, spelling } => {
                    state.prefixes.entry(key).or_insert(spelling);
                }
                Op::Unhome { key } => {
                    state.prefixes.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than the panic itself (ops are applied after all checks), so a poisoned
        // lock is recovered.
        self.state
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Store for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.read().handles.get(key).cloned())
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commit_now(&batch)
    }

    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError> {
        Ok(self.read().prefixes.contains_key(&normalize(prefix)))
    }

    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.read().prefixes.values().cloned().collect())
    }

    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let (start, end) = handle_range(prefix);
        Ok(self
            .read()
            .handles
            .range(start..end)
            .skip(offset)
            .take(limit)
            .map(|(_, record)| record.handle.clone())
            .collect())
    }

    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError> {
        let (start, end) = handle_range(prefix);
        Ok(self.read().handles.range(start..end).count())
    }
}
