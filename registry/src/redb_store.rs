//! [`RedbStore`]: the [`Store`] contract on a redb file (work in progress: delegates to memory).

use std::future::Future;
use std::path::Path;

use crate::{MemStore, Store, StoreError, StoredRecord, WriteBatch};

/// A [`Store`] on a redb file. Not finished yet: it currently keeps everything in memory.
#[derive(Debug, Default)]
pub struct RedbStore {
    inner: MemStore,
}

impl RedbStore {
    /// Creates or opens the database at `path`.
    pub fn open(_path: &Path) -> Result<Self, StoreError> {
        Ok(Self::default())
    }
}

impl Store for RedbStore {
    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        self.inner.get(key)
    }

    fn commit(&self, batch: WriteBatch) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.commit(batch)
    }

    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError> {
        self.inner.is_homed(prefix)
    }

    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError> {
        self.inner.homed_prefixes()
    }

    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.list_handles(prefix, offset, limit)
    }

    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError> {
        self.inner.count_handles(prefix)
    }
}
