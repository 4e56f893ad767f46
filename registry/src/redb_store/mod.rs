//! [`RedbStore`]: the [`Store`] contract on a redb file, with group commit on one writer thread.
//!
//! Layout (schema version `SCHEMA_VERSION`):
//!
//! - table `handles`: normalized handle bytes → record header + values. The header is a format
//!   byte (`RECORD_FORMAT`), the version as a big-endian `u64`, and the creation spelling as a
//!   big-endian `u16` length followed by its UTF-8 bytes. The values (`int4 count` + value
//!   records) follow unchanged, so a resolution reads them without re-encoding anything.
//! - table `prefixes`: normalized prefix bytes → the prefix as first spelled.
//! - table `meta`: `"schema"` → the schema version, and `"trace_size"` → the number of trace
//!   records.
//! - table `aux`: `(space, key)` → version (big-endian `u64`) ‖ value, the auxiliary entries
//!   of the `aux` module (templates, enterprises, tokens, the audit log). Created when missing.
//! - table `changes`: sequence (`u64`) → normalized handle, the change feed of the `changes`
//!   module, written by the same transaction as the handle change. Created when missing.
//! - the `trace_*` tables of signed trace records and their Merkle log, described in the `trace`
//!   module. They are created when missing, so files from before they existed open unchanged.
//!
//! Writes go to a thread named `idnode-writer` that owns every write transaction. It blocks for
//! one batch, then takes whatever else is queued (up to `MAX_GROUP` batches), applies them in
//! order in one transaction, each atomically (handle batches and trace batches alike), commits with `Durability::Immediate`, and only then
//! answers every batch. [`Store::commit_all`] hands the writer several batches as one job: each
//! is applied atomically on its own, then the closing batch built from their outcomes, all in
//! the same transaction. Reads open their own read transaction on the caller's thread, except
//! for the homed prefixes: the writer keeps them in memory, loaded at open and updated after
//! each durable commit and before its writers are answered, so a homing check (made for every
//! request, and for every ancestor of a prefix) needs no transaction.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use tokio::sync::oneshot;

use idnode_trace::merkle::Hash;

use crate::aux::{AuxEntry, AuxOp, AuxScan, decode_entry, encode_entry, in_bounds};
use crate::changes::{Change, next_seq};
use crate::listen::{CommitListener, CommitNotice, ListenerSlot};
use crate::plan::{Current, Op, handle_range, plan};
use crate::trace::{
    CapturedEvent, EventKey, StoredTrace, SubjectEntry, SubjectHead, TraceBatch, TraceCommitted,
    TraceRead, TraceStore, TraceTables, WitnessState, apply_trace, decode_head,
    decode_record as decode_trace, decode_witness, encode_head, encode_record as encode_trace,
    encode_witness,
};
use crate::{Epilogue, Mutation, Store, StoreError, StoredRecord, WriteBatch};

/// Handles by normalized key.
mod trace;
mod writer;

use self::trace::*;
use self::writer::*;

/// The page cache of [`RedbStore::open`]: enough for the hot part of a few million handles,
/// and within a node's memory budget on a 2 GB machine.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

const HANDLES: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("handles");
/// Homed prefixes by normalized prefix, mapped to their spelling.
const PREFIXES: TableDefinition<'_, &[u8], &str> = TableDefinition::new("prefixes");
/// Auxiliary entries by (space, key): version (big-endian `u64`) ‖ value (see `aux`).
const AUX: TableDefinition<'_, (&str, &[u8]), &[u8]> = TableDefinition::new("aux");
/// The change feed: sequence → normalized handle (see `changes`).
const CHANGES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("changes");
/// Facts about the file itself.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// The key of the schema version in [`META`].
const SCHEMA_KEY: &str = "schema";
/// The key of the trace log size in [`META`].
const TRACE_SIZE_KEY: &str = "trace_size";

/// Trace records by leaf index: digest ‖ record bytes.
const TRACE_RECORDS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("trace_records");
/// Leaf indexes by record digest.
const TRACE_DIGESTS: TableDefinition<'_, &[u8], u64> = TableDefinition::new("trace_digests");
/// Subject histories: (subject, leaf index) → 1 for chained records, 0 for mentions.
const TRACE_SUBJECTS: TableDefinition<'_, (&str, u64), u8> = TableDefinition::new("trace_subjects");
/// The last chained record of each subject: leaf index ‖ digest.
const TRACE_HEADS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("trace_heads");
/// Merkle tree hashes by stored-hash index.
const TRACE_HASHES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("trace_hashes");
/// Signed checkpoint notes by tree size.
const TRACE_CHECKPOINTS: TableDefinition<'_, u64, &str> = TableDefinition::new("trace_checkpoints");
/// Witness state by log origin: size ‖ root.
const TRACE_WITNESS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("trace_witness");
/// Captured events by (subject, key): the record's leaf index and the event hash.
const TRACE_EVENTS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("trace_events");

/// The schema version this code reads and writes.
const SCHEMA_VERSION: u64 = 1;
/// The first byte of every stored record.
const RECORD_FORMAT: u8 = 1;
/// The most batches the writer applies in one transaction.
const MAX_GROUP: usize = 1024;

/// Format byte, version and spelling length.
const HEADER_LEN: usize = 1 + 8 + 2;

/// A batch waiting for the writer, with the channel its outcome goes back on.
enum Job {
    /// A batch of handle mutations.
    Handles {
        batch: WriteBatch,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Batches applied each on its own, then the batch their epilogue builds
    /// ([`Store::commit_all`]).
    All {
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
        reply: oneshot::Sender<Vec<Result<(), StoreError>>>,
    },
    /// A batch of trace mutations.
    Trace {
        batch: TraceBatch,
        reply: oneshot::Sender<Result<TraceCommitted, StoreError>>,
    },
}

/// The outcome of one job.
enum JobOutcome {
    /// A handle batch (`None`) or a trace batch (what the log did).
    One(Result<Option<TraceCommitted>, StoreError>),
    /// The batches of a [`Job::All`], and the closing batch applied with them.
    All(Vec<Result<(), StoreError>>, Option<WriteBatch>),
}

impl JobOutcome {
    /// Whether anything of the job was applied.
    fn applied_any(&self) -> bool {
        match self {
            Self::One(outcome) => outcome.is_ok(),
            Self::All(outcomes, closing) => closing.is_some() || outcomes.iter().any(Result::is_ok),
        }
    }

    /// The results of the job's batches, for the counters.
    fn results(&self) -> Vec<Result<(), &StoreError>> {
        match self {
            Self::One(outcome) => vec![outcome.as_ref().map(|_| ())],
            Self::All(outcomes, _) => outcomes.iter().map(|o| o.as_ref().map(|_| ())).collect(),
        }
    }
}

impl Job {
    /// The failure of every batch of the job, when the group fails as a whole.
    fn failed(&self, message: &str) -> JobOutcome {
        let error = || StoreError::Storage(message.to_owned());
        match self {
            Self::All { batches, .. } => {
                JobOutcome::All(batches.iter().map(|_| Err(error())).collect(), None)
            }
            Self::Handles { .. } | Self::Trace { .. } => JobOutcome::One(Err(error())),
        }
    }

    /// The handle batches of the job that were applied, given its outcome.
    fn applied<'a>(&'a self, outcome: &'a JobOutcome) -> Vec<&'a WriteBatch> {
        match (self, outcome) {
            (Self::Handles { batch, .. }, JobOutcome::One(Ok(_))) => vec![batch],
            (Self::All { batches, .. }, JobOutcome::All(outcomes, closing)) => batches
                .iter()
                .zip(outcomes)
                .filter(|(_, outcome)| outcome.is_ok())
                .map(|(batch, _)| batch)
                .chain(closing.iter())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Sends the outcome back; a caller that stopped waiting does not need it.
    fn answer(self, outcome: JobOutcome) {
        let mismatch = || StoreError::Storage("the writer answered a job of another kind".into());
        match (self, outcome) {
            (Self::Handles { reply, .. }, JobOutcome::One(outcome)) => {
                let _ = reply.send(outcome.map(|_| ()));
            }
            (Self::Trace { reply, .. }, JobOutcome::One(outcome)) => {
                let _ = reply.send(outcome.and_then(|committed| {
                    committed.ok_or_else(|| {
                        StoreError::Storage("trace batch without a log outcome".to_owned())
                    })
                }));
            }
            (Self::All { reply, .. }, JobOutcome::All(outcomes, _)) => {
                let _ = reply.send(outcomes);
            }
            (Self::Handles { reply, .. }, JobOutcome::All(..)) => {
                let _ = reply.send(Err(mismatch()));
            }
            (Self::Trace { reply, .. }, JobOutcome::All(..)) => {
                let _ = reply.send(Err(mismatch()));
            }
            (Self::All { batches, reply, .. }, JobOutcome::One(_)) => {
                let _ = reply.send(batches.iter().map(|_| Err(mismatch())).collect());
            }
        }
    }
}

/// The homed prefixes, normalized prefix → spelling, kept in memory: loaded at open and
/// updated by the writer after each durable commit, before its writers are acknowledged.
type HomedPrefixes = Arc<RwLock<BTreeMap<Vec<u8>, String>>>;

/// Counters of the writer thread, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedbStats {
    /// Write transactions committed by the writer (each one durable).
    pub transactions: u64,
    /// Batches applied and acknowledged.
    pub batches: u64,
    /// Batches rejected because a precondition failed.
    pub conflicts: u64,
    /// Batches answered with a storage failure.
    pub failures: u64,
    /// The most batches seen in one group.
    pub largest_group: u64,
}

/// The writer's counters, shared with the store.
#[derive(Debug, Default)]
struct Counters {
    transactions: AtomicU64,
    batches: AtomicU64,
    conflicts: AtomicU64,
    failures: AtomicU64,
    largest_group: AtomicU64,
}

/// A [`Store`] on a redb file.
///
/// Reads run on the caller's thread. [`Store::commit`] queues the batch for the writer thread
/// when the future is first polled and resolves once the transaction holding it is durable;
/// dropping the future after that does not withdraw the batch. The queue is unbounded, but
/// every queued batch belongs to a caller awaiting it, so it holds at most one batch per
/// waiting caller.
///
/// Dropping the store closes the queue and joins the writer thread, which first finishes the
/// group it is committing.
pub struct RedbStore {
    db: Arc<Database>,
    homed: HomedPrefixes,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    listener: ListenerSlot,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Creates or opens the database at `path`, creates its tables, checks the schema version
    /// and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Creates or opens the database at `path` as [`Self::open`] does, with a page cache of at
    /// most `cache_bytes` (redb's own default is 1 GiB).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(storage(format_args!("opening {}", path.display())))?;
        init_tables(&db)?;
        let homed: HomedPrefixes = Arc::new(RwLock::new(load_prefixes(&db)?));
        let db = Arc::new(db);
        let counters = Arc::new(Counters::default());
        let listener = ListenerSlot::default();
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("idnode-writer".to_owned())
            .spawn({
                let db = Arc::clone(&db);
                let counters = Arc::clone(&counters);
                let listener = listener.clone();
                let homed = Arc::clone(&homed);
                move || run_writer(&db, &queue, &counters, &listener, &homed)
            })
            .map_err(storage("starting the writer thread"))?;
        Ok(Self {
            db,
            homed,
            jobs: Some(jobs),
            writer: Some(writer),
            counters,
            listener,
        })
    }

    /// Calls `listener` after every group commit that changed handles or prefixes, once the
    /// commit is durable and before its writers are acknowledged. Replaces any earlier listener.
    pub fn set_commit_listener(&self, listener: CommitListener) {
        self.listener.set(listener);
    }

    /// A snapshot of the writer's counters.
    pub fn stats(&self) -> RedbStats {
        let c = &self.counters;
        RedbStats {
            transactions: c.transactions.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            conflicts: c.conflicts.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            largest_group: c.largest_group.load(Ordering::Relaxed),
        }
    }

    fn read_txn(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db
            .begin_read()
            .map_err(storage("beginning a read transaction"))
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // Closing the queue ends the writer's loop once it has answered what it holds.
        self.jobs = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the idnode-writer thread panicked");
        }
    }
}

impl Store for RedbStore {
    fn set_commit_listener(&self, listener: CommitListener) {
        self.listener.set(listener);
    }

    fn get(&self, key: &[u8]) -> Result<Option<StoredRecord>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(HANDLES)
            .map_err(storage("opening the handles table"))?;
        let found = table.get(key).map_err(storage("reading a handle"))?;
        match found {
            Some(guard) => decode_record(key, guard.value()).map(Some),
            None => Ok(None),
        }
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        jobs.send(Job::Handles { batch, reply })
            .map_err(|_| StoreError::Closed)?;
        // The writer answers every job it takes; a dropped reply means it stopped.
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    async fn commit_all(
        &self,
        batches: Vec<WriteBatch>,
        epilogue: Option<Epilogue>,
    ) -> Vec<Result<(), StoreError>> {
        let count = batches.len();
        let closed = || (0..count).map(|_| Err(StoreError::Closed)).collect();
        let (reply, outcome) = oneshot::channel();
        let Some(jobs) = self.jobs.as_ref() else {
            return closed();
        };
        let job = Job::All {
            batches,
            epilogue,
            reply,
        };
        if jobs.send(job).is_err() {
            return closed();
        }
        outcome.await.unwrap_or_else(|_| closed())
    }

    /// Answered from memory (see [`HomedPrefixes`]), without a read transaction.
    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError> {
        let key = idnode_proto::normalize(prefix);
        Ok(read_homed(&self.homed).contains_key(&key))
    }

    /// Answered from memory, without a read transaction.
    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError> {
        Ok(read_homed(&self.homed).values().cloned().collect())
    }

    /// A range scan from `PREFIX/`: O(log n + offset + limit).
    fn list_handles(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(HANDLES)
            .map_err(storage("opening the handles table"))?;
        let (start, end) = handle_range(prefix);
        let entries = table
            .range(start.as_slice()..end.as_slice())
            .map_err(storage("listing handles"))?;
        entries
            .skip(offset)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(storage("listing handles"))?;
                Ok(decode_header(key.value(), value.value())?.handle)
            })
            .collect()
    }

    /// Walks the keys under the prefix without decoding them: O(log n + count). A counter table
    /// kept in the write transaction would make this O(log n) if listing large prefixes
    /// becomes hot.
    fn count_handles(&self, prefix: &str) -> Result<usize, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(HANDLES)
            .map_err(storage("opening the handles table"))?;
        let (start, end) = handle_range(prefix);
        let entries = table
            .range(start.as_slice()..end.as_slice())
            .map_err(storage("counting handles"))?;
        let mut count = 0;
        for entry in entries {
            entry.map_err(storage("counting handles"))?;
            count += 1;
        }
        Ok(count)
    }

    fn aux(&self, space: &str, key: &[u8]) -> Result<Option<AuxEntry>, StoreError> {
        aux_in(&self.read_table(AUX)?, space, key)
    }

    fn scan_aux(
        &self,
        space: &str,
        scan: &AuxScan,
    ) -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError> {
        self.scan_aux_in(space, scan)
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let fail = || storage("reading the change feed");
        let table = self
            .read_txn()?
            .open_table(CHANGES)
            .map_err(storage("opening the changes table"))?;
        let entries = table.range(start..).map_err(fail())?;
        entries
            .take(limit)
            .map(|entry| {
                let (seq, key) = entry.map_err(fail())?;
                Ok(Change {
                    seq: seq.value(),
                    key: key.value().to_vec(),
                })
            })
            .collect()
    }

    fn last_change(&self) -> Result<u64, StoreError> {
        let table = self
            .read_txn()?
            .open_table(CHANGES)
            .map_err(storage("opening the changes table"))?;
        last_seq_in(&table)
    }

    fn scan_handles(
        &self,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredRecord)>, StoreError> {
        use std::ops::Bound;
        let fail = || storage("scanning handles");
        let table = self
            .read_txn()?
            .open_table(HANDLES)
            .map_err(storage("opening the handles table"))?;
        let lower = if after.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(after)
        };
        let entries = table
            .range::<&[u8]>((lower, Bound::Unbounded))
            .map_err(fail())?;
        entries
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(fail())?;
                let key = key.value();
                Ok((key.to_vec(), decode_record(key, value.value())?))
            })
            .collect()
    }
}

/// Reads the in-memory homed prefixes. The writer replaces entries one at a time, so a lock
/// poisoned by a panic elsewhere still holds a consistent map.
fn read_homed(homed: &HomedPrefixes) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, String>> {
    homed
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The homed prefixes as stored, for the in-memory copy.
fn load_prefixes(db: &Database) -> Result<BTreeMap<Vec<u8>, String>, StoreError> {
    let txn = db
        .begin_read()
        .map_err(storage("beginning a read transaction"))?;
    let table = txn
        .open_table(PREFIXES)
        .map_err(storage("opening the prefixes table"))?;
    let entries = table.iter().map_err(storage("listing prefixes"))?;
    entries
        .map(|entry| {
            let (key, spelling) = entry.map_err(storage("listing prefixes"))?;
            Ok((key.value().to_vec(), spelling.value().to_owned()))
        })
        .collect()
}

/// Applies the homing changes of durably committed batches to the in-memory copy, with the
/// semantics of the `prefixes` table (a homed prefix keeps its first spelling).
fn update_homed(homed: &HomedPrefixes, batches: &[&WriteBatch]) {
    let changes = batches.iter().flat_map(|b| &b.mutations).any(|m| {
        matches!(
            m,
            Mutation::HomePrefix { .. } | Mutation::UnhomePrefix { .. }
        )
    });
    if !changes {
        return;
    }
    let mut map = homed
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for mutation in batches.iter().flat_map(|b| &b.mutations) {
        match mutation {
            Mutation::HomePrefix { prefix } => {
                map.entry(idnode_proto::normalize(prefix))
                    .or_insert_with(|| prefix.clone());
            }
            Mutation::UnhomePrefix { prefix } => {
                map.remove(&idnode_proto::normalize(prefix));
            }
            _ => {}
        }
    }
}

/// The last sequence number of the change feed, or 0 when it is empty.
fn last_seq_in(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64, StoreError> {
    Ok(table
        .last()
        .map_err(storage("reading the change feed"))?
        .map_or(0, |(seq, _)| seq.value()))
}

/// Creates the tables if needed and checks the schema version.
fn init_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db
        .begin_write()
        .map_err(storage("beginning the schema transaction"))?;
    {
        txn.open_table(HANDLES)
            .map_err(storage("creating the handles table"))?;
        txn.open_table(PREFIXES)
            .map_err(storage("creating the prefixes table"))?;
        txn.open_table(AUX)
            .map_err(storage("creating the aux table"))?;
        txn.open_table(CHANGES)
            .map_err(storage("creating the changes table"))?;
        txn.open_table(TRACE_RECORDS)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_DIGESTS)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_SUBJECTS)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_HEADS)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_HASHES)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_CHECKPOINTS)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_WITNESS)
            .map_err(storage("creating the trace tables"))?;
        txn.open_table(TRACE_EVENTS)
            .map_err(storage("creating the trace tables"))?;
        let mut meta = txn
            .open_table(META)
            .map_err(storage("creating the meta table"))?;
        let stored = meta
            .get(SCHEMA_KEY)
            .map_err(storage("reading the schema version"))?
            .map(|guard| guard.value());
        match stored {
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION)
                    .map_err(storage("writing the schema version"))?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Storage(format!(
                    "schema version {other} is not supported (this build reads {SCHEMA_VERSION})"
                )));
            }
        }
    }
    txn.commit()
        .map_err(storage("committing the schema transaction"))
}

/// Maps a redb error to [`StoreError::Storage`] with what was being done.
fn storage<E: Display>(context: impl Display) -> impl FnOnce(E) -> StoreError {
    move |error| StoreError::Storage(format!("{context}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let record = StoredRecord {
            handle: "88.1/Ab".to_owned(),
            version: 7,
            values: vec![0, 0, 0, 0],
        };
        let bytes = encode_record(&record);
        assert_eq!(decode_record(b"88.1/AB", &bytes).unwrap(), record);
    }

    #[test]
    fn corrupt_headers_are_errors() {
        let record = StoredRecord {
            handle: "88.1/Ab".to_owned(),
            version: 7,
            values: vec![1, 2, 3],
        };
        let bytes = encode_record(&record);
        for cut in 0..HEADER_LEN + record.handle.len() {
            assert!(decode_record(b"K", &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong_format = bytes.clone();
        wrong_format[0] = 9;
        assert!(decode_record(b"K", &wrong_format).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(0u8.., 0..64)) {
            let _ = decode_record(b"K", &bytes);
        }
    }
}
