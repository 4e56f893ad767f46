//! The reads of the pipeline's checks, noted while a batch prepares a request: every read that
//! decides the outcome of a create goes through [`read_handle`], so that a batch knows which
//! handles a request depended on (see `crate::batch`).

use std::cell::RefCell;
use std::collections::HashMap;

use idnode_registry::{Store, StoreError, StoredRecord};

/// What a batch keeps about the reads of the request it is preparing.
#[derive(Default)]
pub(crate) struct Reads {
    /// The keys read by the request being prepared.
    pub(crate) log: Vec<Vec<u8>>,
    /// Records read since the open segment began, by key. None of them is the target of a
    /// write in the segment (reading one commits the segment first, which clears this), so
    /// they are what the store holds apart from concurrent writes of other clients.
    pub(crate) memo: HashMap<Vec<u8>, StoredRecord>,
}

thread_local! {
    /// The reads of the request a batch is preparing on this thread, if any.
    static READS: RefCell<Option<Reads>> = const { RefCell::new(None) };
}

/// Reads a handle for a pipeline step. While a batch prepares a request on this thread, the
/// key is noted, and records that exist are remembered for the rest of the segment (such as
/// the manufacturer every product of an import refers to), so they are read once. Every read
/// that decides the outcome of a create goes through here.
pub(crate) fn read_handle<S: Store>(
    store: &S,
    key: &[u8],
) -> Result<Option<StoredRecord>, StoreError> {
    let remembered = READS.with(|reads| {
        let mut reads = reads.borrow_mut();
        let reads = reads.as_mut()?;
        reads.log.push(key.to_vec());
        reads.memo.get(key).cloned()
    });
    if let Some(record) = remembered {
        return Ok(Some(record));
    }
    let found = store.get(key)?;
    if let Some(record) = &found {
        READS.with(|reads| {
            if let Some(reads) = reads.borrow_mut().as_mut() {
                reads.memo.insert(key.to_vec(), record.clone());
            }
        });
    }
    Ok(found)
}

/// Runs `f` (which must not await) with `reads` in place, and returns its result and the
/// keys it read through [`read_handle`].
pub(crate) fn noting_reads<T>(reads: &mut Reads, f: impl FnOnce() -> T) -> (T, Vec<Vec<u8>>) {
    reads.log.clear();
    let taken = std::mem::take(reads);
    READS.with(|slot| *slot.borrow_mut() = Some(taken));
    let out = f();
    *reads = READS
        .with(|slot| slot.borrow_mut().take())
        .unwrap_or_default();
    let log = std::mem::take(&mut reads.log);
    (out, log)
}
