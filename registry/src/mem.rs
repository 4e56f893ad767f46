//! [`MemStore`]: the [`Store`] contract on in-memory B-trees, for tests and simulations.

use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use idnode_proto::normalize;
use idnode_trace::merkle::Hash;

use crate::aux::{AuxEntry, AuxOp, AuxScan, in_bounds};
use crate::changes::{Change, next_seq};
use crate::listen::ListenerSlot;
use crate::plan::{Current, Op, handle_range, plan};
use crate::trace::{
    CapturedEvent, EventKey, StoredTrace, SubjectEntry, SubjectHead, TraceBatch, TraceCommitted,
    TraceRead, TraceStore, TraceTables, WitnessState, apply_trace,
};
use crate::{CommitListener, CommitNotice, Epilogue, Store, StoreError, StoredRecord, WriteBatch};

/// A [`Store`] held in memory, with the same semantics as [`crate::RedbStore`]: atomic batches,
/// preconditions, versions, homed prefixes and listing. Nothing survives a drop.
///
/// A commit takes the write lock for the whole batch, so batches are serialized and readers
/// never see half of one.
#[derive(Debug, Default)]
pub struct MemStore {
    state: RwLock<State>,
    /// Told what each commit changed, after it applied and before it is acknowledged.
    listener: ListenerSlot,
}

/// The tables, keyed by normalized handle or prefix.
#[derive(Debug, Default, Clone)]
struct State {
    handles: BTreeMap<Vec<u8>, StoredRecord>,
    prefixes: BTreeMap<Vec<u8>, String>,
    aux: BTreeMap<(String, Vec<u8>), AuxEntry>,
    /// The change feed: sequence → normalized key.
    changes: BTreeMap<u64, Vec<u8>>,
    trace: MemTrace,
}

/// The trace tables (see the `trace` module).
#[derive(Debug, Default, Clone)]
struct MemTrace {
    records: BTreeMap<u64, (Hash, Vec<u8>)>,
    digests: HashMap<Hash, u64>,
    subjects: BTreeMap<(String, u64), bool>,
    heads: HashMap<String, SubjectHead>,
    hashes: Vec<Hash>,
    checkpoints: BTreeMap<u64, String>,
    witness: HashMap<String, WitnessState>,
    events: HashMap<(String, String), CapturedEvent>,
    size: u64,
}

impl TraceTables for MemTrace {
    fn size(&self) -> Result<u64, StoreError> {
        Ok(self.size)
    }

    fn head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError> {
        Ok(self.heads.get(subject).copied())
    }

    fn has_digest(&self, digest: &Hash) -> Result<bool, StoreError> {
        Ok(self.digests.contains_key(digest))
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self.checkpoints.get(&size).cloned())
    }

    fn witness(&self, origin: &str) -> Result<Option<WitnessState>, StoreError> {
        Ok(self.witness.get(origin).copied())
    }

    fn hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or_else(|| StoreError::Storage(format!("tree hash {index} is missing")))
            })
            .collect()
    }

    fn event(&self, subject: &str, key: &str) -> Result<Option<CapturedEvent>, StoreError> {
        Ok(self
            .events
            .get(&(subject.to_owned(), key.to_owned()))
            .cloned())
    }

    fn put_event(&mut self, subject: &str, event: &EventKey, index: u64) -> Result<(), StoreError> {
        self.events.insert(
            (subject.to_owned(), event.key.clone()),
            CapturedEvent {
                index,
                event_hash: event.event_hash.clone(),
            },
        );
        Ok(())
    }

    fn put_record(&mut self, index: u64, digest: &Hash, record: &[u8]) -> Result<(), StoreError> {
        self.records.insert(index, (*digest, record.to_vec()));
        self.digests.insert(*digest, index);
        Ok(())
    }

    fn put_subject(&mut self, subject: &str, index: u64, chained: bool) -> Result<(), StoreError> {
        self.subjects.insert((subject.to_owned(), index), chained);
        Ok(())
    }

    fn put_head(&mut self, subject: &str, head: SubjectHead) -> Result<(), StoreError> {
        self.heads.insert(subject.to_owned(), head);
        Ok(())
    }

    fn put_hashes(&mut self, first: u64, hashes: &[Hash]) -> Result<(), StoreError> {
        // The appender writes each run right after the previous one.
        if first != self.hashes.len() as u64 {
            return Err(StoreError::Storage(format!(
                "tree hash run starts at {first}, not at {}",
                self.hashes.len()
            )));
        }
        self.hashes.extend_from_slice(hashes);
        Ok(())
    }

    fn put_size(&mut self, size: u64) -> Result<(), StoreError> {
        self.size = size;
        Ok(())
    }

    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), StoreError> {
        self.checkpoints.insert(size, note.to_owned());
        Ok(())
    }

    fn put_witness(&mut self, origin: &str, state: WitnessState) -> Result<(), StoreError> {
        self.witness.insert(origin.to_owned(), state);
        Ok(())
    }
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `listener` after every commit that changed handles or prefixes, before the
    /// commit returns, as `RedbStore::set_commit_listener` does. Replaces any earlier listener.
    pub fn set_commit_listener(&self, listener: CommitListener) {
        self.listener.set(listener);
    }

    /// Applies a batch synchronously; [`Store::commit`] wraps this.
    pub fn commit_now(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let applied = apply_batch(&mut self.write(), batch);
        if applied.is_ok() {
            let mut notice = CommitNotice::default();
            notice.add(batch);
            self.listener.notify(&notice);
        }
        applied
    }

    /// Applies batches and their epilogue synchronously; [`Store::commit_all`] wraps this.
    pub fn commit_all_now(
        &self,
        batches: &[WriteBatch],
        epilogue: Option<Epilogue>,
    ) -> Vec<Result<(), StoreError>> {
        let mut state = self.write();
        // A failing epilogue undoes the whole call, so the state before it is kept until then.
        let saved = epilogue.as_ref().map(|_| state.clone());
        let results: Vec<Result<(), StoreError>> = batches
            .iter()
            .map(|batch| apply_batch(&mut state, batch))
            .collect();
        let closing = epilogue.and_then(|epilogue| {
            let applied: Vec<bool> = results.iter().map(Result::is_ok).collect();
            epilogue(&applied)
        });
        if let Some(closing) = closing
            && let Err(error) = apply_batch(&mut state, &closing)
        {
            if let Some(saved) = saved {
                *state = saved;
            }
            let message = format!("the closing batch failed: {error}");
            return batches
                .iter()
                .map(|_| Err(StoreError::Storage(message.clone())))
                .collect();
        }
        drop(state);
        let mut notice = CommitNotice::default();
        for (batch, result) in batches.iter().zip(&results) {
            if result.is_ok() {
                notice.add(batch);
            }
        }
        self.listener.notify(&notice);
        results
    }

    /// Applies a trace batch synchronously; [`TraceStore::commit_trace`] wraps this.
    pub fn commit_trace_now(&self, batch: &TraceBatch) -> Result<TraceCommitted, StoreError> {
        // Every precondition is checked before anything is written, and the in-memory writes
        // cannot fail half-way (the appender writes each hash run where the last one ended).
        apply_trace(&mut self.write().trace, batch)
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

/// Checks a batch against the state and applies it, or fails having changed nothing.
fn apply_batch(state: &mut State, batch: &WriteBatch) -> Result<(), StoreError> {
    let ops = plan(
        batch,
        |key| {
            Ok(state.handles.get(key).map(|record| Current {
                version: record.version,
                handle: record.handle.clone(),
            }))
        },
        |space, key| Ok(state.aux.get(&(space.to_owned(), key.to_vec())).cloned()),
    )?;
    // Sequence numbers are checked before anything is written, so the batch stays atomic.
    let last = state.changes.last_key_value().map_or(0, |(seq, _)| *seq);
    let touched = ops
        .iter()
        .filter(|op| matches!(op, Op::Put { .. } | Op::Delete { .. }))
        .count() as u64;
    let mut seq = last;
    if touched > 0 {
        next_seq(last.saturating_add(touched - 1))?;
    }
    for op in ops {
        match op {
            Op::Put { key, record } => {
                seq += 1;
                state.changes.insert(seq, key.clone());
                state.handles.insert(key, record);
            }
            Op::Delete { key } => {
                seq += 1;
                state.changes.insert(seq, key.clone());
                state.handles.remove(&key);
            }
            Op::Home { key, spelling } => {
                state.prefixes.entry(key).or_insert(spelling);
            }
            Op::Unhome { key } => {
                state.prefixes.remove(&key);
            }
            Op::Aux(AuxOp::Put { space, key, entry }) => {
                state.aux.insert((space, key), entry);
            }
            Op::Aux(AuxOp::Delete { space, key }) => {
                state.aux.remove(&(space, key));
            }
        }
    }
    Ok(())
}

impl Store for MemStore {
    fn set_commit_listener(&self, listener: CommitListener) {
        self.listener.set(listener);
    }

    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.read().handles.get(key).cloned())
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commit_now(&batch)
    }

    async fn commit_all(
        &self,
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
    ) -> Vec<Result<(), StoreError>> {
        self.commit_all_now(&batches, epilogue)
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

    fn aux(&self, space: &str, key: &[u8]) -> Result<Option<AuxEntry>, StoreError> {
        Ok(self
            .read()
            .aux
            .get(&(space.to_owned(), key.to_vec()))
            .cloned())
    }

    fn scan_aux(
        &self,
        space: &str,
        scan: &AuxScan,
    ) -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError> {
        let state = self.read();
        let start = (space.to_owned(), scan.start.clone());
        let entries = state
            .aux
            .range(start..)
            .take_while(|((s, key), _)| s == space && in_bounds(scan, key))
            .map(|((_, key), entry)| (key.clone(), entry.clone()));
        Ok(if scan.reverse {
            let all: Vec<_> = entries.collect();
            all.into_iter().rev().take(scan.limit).collect()
        } else {
            entries.take(scan.limit).collect()
        })
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(self
            .read()
            .changes
            .range(start..)
            .take(limit)
            .map(|(seq, key)| Change {
                seq: *seq,
                key: key.clone(),
            })
            .collect())
    }

    fn last_change(&self) -> Result<u64, StoreError> {
        Ok(self
            .read()
            .changes
            .last_key_value()
            .map_or(0, |(seq, _)| *seq))
    }

    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError> {
        use std::ops::Bound;
        let lower = if after.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(after.to_vec())
        };
        Ok(self
            .read()
            .handles
            .range((lower, Bound::Unbounded))
            .take(limit)
            .map(|(key, record)| (key.clone(), record.clone()))
            .collect())
    }
}

impl TraceStore for MemStore {
    async fn commit_trace(&self, batch: TraceBatch) -> Result<TraceCommitted, StoreError> {
        self.commit_trace_now(&batch)
    }
}

impl TraceRead for MemStore {
    fn trace_size(&self) -> Result<u64, StoreError> {
        Ok(self.read().trace.size)
    }

    fn trace_records(&self, start: u64, limit: usize) -> Result<Vec<StoredTrace>, StoreError> {
        Ok(self
            .read()
            .trace
            .records
            .range(start..)
            .take(limit)
            .map(|(&index, (digest, record))| StoredTrace {
                index,
                digest: *digest,
                record: record.clone(),
            })
            .collect())
    }

    fn trace_digests(&self, start: u64, limit: usize) -> Result<Vec<Hash>, StoreError> {
        Ok(self
            .read()
            .trace
            .records
            .range(start..)
            .take(limit)
            .map(|(_, (digest, _))| *digest)
            .collect())
    }

    fn trace_index_of(&self, digest: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self.read().trace.digests.get(digest).copied())
    }

    fn trace_subject(
        &self,
        subject: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SubjectEntry>, StoreError> {
        let start = match after {
            Some(index) => match index.checked_add(1) {
                Some(next) => next,
                None => return Ok(Vec::new()),
            },
            None => 0,
        };
        let state = self.read();
        let range = (subject.to_owned(), start)..=(subject.to_owned(), u64::MAX);
        Ok(state
            .trace
            .subjects
            .range(range)
            .take(limit)
            .map(|((_, index), &chained)| SubjectEntry {
                index: *index,
                chained,
            })
            .collect())
    }

    fn trace_head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError> {
        self.read().trace.head(subject)
    }

    fn trace_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.read().trace.hashes(indexes)
    }

    fn trace_events(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<Option<CapturedEvent>>, StoreError> {
        let read = self.read();
        keys.iter()
            .map(|(subject, key)| read.trace.event(subject, key))
            .collect()
    }

    fn trace_checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self.read().trace.checkpoints.get(&size).cloned())
    }

    fn trace_latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .read()
            .trace
            .checkpoints
            .last_key_value()
            .map(|(size, note)| (*size, note.clone())))
    }

    fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>, StoreError> {
        Ok(self.read().trace.witness.get(origin).copied())
    }
}
