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
    StoredTrace, SubjectEntry, SubjectHead, TraceBatch, TraceCommitted, TraceRead, TraceStore,
    TraceTables, WitnessState, apply_trace, decode_head, decode_record as decode_trace,
    decode_witness, encode_head, encode_record as encode_trace, encode_witness,
};
use crate::{Epilogue, Mutation, Store, StoreError, StoredRecord, WriteBatch};

/// Handles by normalized key.
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
        let db =
            Database::create(path).map_err(storage(format_args!("opening {}", path.display())))?;
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

impl RedbStore {
    /// The aux entries of one space within a scan's bounds.
    fn scan_aux_in(
        &self,
        space: &str,
        scan: &AuxScan,
    ) -> Result<Vec<(Vec<u8>, AuxEntry)>, StoreError> {
        let fail = || storage("scanning aux entries");
        if scan.end.as_ref().is_some_and(|end| *end <= scan.start) {
            return Ok(Vec::new());
        }
        let table = self.read_table(AUX)?;
        // Every key of `space` sorts below `(space + "\0", [])`.
        let space_end = format!("{space}\0");
        let upper: (&str, &[u8]) = match &scan.end {
            Some(end) => (space, end.as_slice()),
            None => (space_end.as_str(), &[]),
        };
        let range = table
            .range((space, scan.start.as_slice())..upper)
            .map_err(fail())?;
        let decode = |entry: Result<AuxGuards<'_>, redb::StorageError>| {
            let (key, value) = entry.map_err(fail())?;
            let (_, key) = key.value();
            debug_assert!(in_bounds(scan, key));
            Ok((key.to_vec(), decode_entry(space, key, value.value())?))
        };
        if scan.reverse {
            range.rev().take(scan.limit).map(decode).collect()
        } else {
            range.take(scan.limit).map(decode).collect()
        }
    }

    fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<redb::ReadOnlyTable<K, V>, StoreError> {
        self.read_txn()?
            .open_table(definition)
            .map_err(storage("opening a trace table"))
    }
}

impl TraceStore for RedbStore {
    async fn commit_trace(&self, batch: TraceBatch) -> Result<TraceCommitted, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        jobs.send(Job::Trace { batch, reply })
            .map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }
}

impl TraceRead for RedbStore {
    fn trace_size(&self) -> Result<u64, StoreError> {
        trace_size_in(&self.read_table(META)?)
    }

    fn trace_records(&self, start: u64, limit: usize) -> Result<Vec<StoredTrace>, StoreError> {
        let table = self.read_table(TRACE_RECORDS)?;
        let entries = table
            .range(start..)
            .map_err(storage("listing trace records"))?;
        entries
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(storage("listing trace records"))?;
                decode_trace(key.value(), value.value())
            })
            .collect()
    }

    fn trace_digests(&self, start: u64, limit: usize) -> Result<Vec<Hash>, StoreError> {
        let table = self.read_table(TRACE_RECORDS)?;
        let entries = table
            .range(start..)
            .map_err(storage("listing trace records"))?;
        entries
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(storage("listing trace records"))?;
                value
                    .value()
                    .get(..32)
                    .and_then(Hash::from_slice)
                    .ok_or_else(|| {
                        StoreError::Storage(format!("corrupt trace record {}", key.value()))
                    })
            })
            .collect()
    }

    fn trace_index_of(&self, digest: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self
            .read_table(TRACE_DIGESTS)?
            .get(digest.0.as_slice())
            .map_err(storage("reading a trace digest"))?
            .map(|guard| guard.value()))
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
        let table = self.read_table(TRACE_SUBJECTS)?;
        let entries = table
            .range((subject, start)..=(subject, u64::MAX))
            .map_err(storage("listing a trace subject"))?;
        entries
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(storage("listing a trace subject"))?;
                Ok(SubjectEntry {
                    index: key.value().1,
                    chained: value.value() == 1,
                })
            })
            .collect()
    }

    fn trace_head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError> {
        head_in(&self.read_table(TRACE_HEADS)?, subject)
    }

    fn trace_heads(&self, subjects: &[&str]) -> Result<Vec<Option<SubjectHead>>, StoreError> {
        let heads = self.read_table(TRACE_HEADS)?;
        subjects
            .iter()
            .map(|subject| head_in(&heads, subject))
            .collect()
    }

    fn trace_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        hashes_in(&self.read_table(TRACE_HASHES)?, indexes)
    }

    fn trace_checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .read_table(TRACE_CHECKPOINTS)?
            .get(size)
            .map_err(storage("reading a checkpoint"))?
            .map(|guard| guard.value().to_owned()))
    }

    fn trace_latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .read_table(TRACE_CHECKPOINTS)?
            .last()
            .map_err(storage("reading a checkpoint"))?
            .map(|(size, note)| (size.value(), note.value().to_owned())))
    }

    fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>, StoreError> {
        witness_in(&self.read_table(TRACE_WITNESS)?, origin)
    }
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

/// The writer thread: group commit until the queue closes.
fn run_writer(
    db: &Database,
    queue: &mpsc::Receiver<Job>,
    counters: &Counters,
    listener: &ListenerSlot,
    homed: &HomedPrefixes,
) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        counters
            .largest_group
            .fetch_max(group.len() as u64, Ordering::Relaxed);
        let outcomes = commit_group(db, &mut group, counters);
        // Everything applied is durable now; readers see it before any writer is answered.
        let applied: Vec<&WriteBatch> = group
            .iter()
            .zip(&outcomes)
            .flat_map(|(job, outcome)| job.applied(outcome))
            .collect();
        update_homed(homed, &applied);
        let mut notice = CommitNotice::default();
        for batch in applied {
            notice.add(batch);
        }
        listener.notify(&notice);
        for (job, outcome) in group.into_iter().zip(outcomes) {
            for result in outcome.results() {
                match result {
                    Ok(()) => counters.batches.fetch_add(1, Ordering::Relaxed),
                    Err(StoreError::Conflict { .. }) => {
                        counters.conflicts.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(_) => counters.failures.fetch_add(1, Ordering::Relaxed),
                };
            }
            job.answer(outcome);
        }
    }
    tracing::debug!("idnode-writer stops: the store was dropped");
}

/// Applies a group in one transaction and returns one outcome per job, in order.
fn commit_group(db: &Database, group: &mut [Job], counters: &Counters) -> Vec<JobOutcome> {
    let fail_all = |group: &[Job], error: StoreError| {
        tracing::error!(%error, jobs = group.len(), "group commit failed");
        let message = error.to_string();
        group.iter().map(|job| job.failed(&message)).collect()
    };
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(error) => return fail_all(group, storage("beginning a write transaction")(error)),
    };
    // The durability stays at its default, `Durability::Immediate`.
    let outcomes = match apply_group(&txn, group) {
        Ok(outcomes) => outcomes,
        Err(error) => {
            // Something failed half-way through writing; nothing of the group may be kept.
            let _ = txn.abort();
            return fail_all(group, error);
        }
    };
    if !outcomes.iter().any(JobOutcome::applied_any) {
        // Nothing to write; spare the disk a sync.
        if let Err(error) = txn.abort() {
            tracing::warn!(%error, "aborting an empty write transaction failed");
        }
        return outcomes;
    }
    match txn.commit() {
        Ok(()) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(jobs = group.len(), "group committed");
            outcomes
        }
        // The commit may or may not have reached the disk; the callers are told it failed.
        Err(error) => fail_all(group, storage("committing a write transaction")(error)),
    }
}

/// The handle tables of a write transaction and the change feed's last sequence number.
struct HandleTables<'txn> {
    handles: Table<'txn, &'static [u8], &'static [u8]>,
    prefixes: Table<'txn, &'static [u8], &'static str>,
    aux: Table<'txn, (&'static str, &'static [u8]), &'static [u8]>,
    changes: Table<'txn, u64, &'static [u8]>,
    seq: u64,
}

impl<'txn> HandleTables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        let changes = txn
            .open_table(CHANGES)
            .map_err(storage("opening the changes table"))?;
        Ok(Self {
            handles: txn
                .open_table(HANDLES)
                .map_err(storage("opening the handles table"))?,
            prefixes: txn
                .open_table(PREFIXES)
                .map_err(storage("opening the prefixes table"))?,
            aux: txn
                .open_table(AUX)
                .map_err(storage("opening the aux table"))?,
            seq: last_seq_in(&changes)?,
            changes,
        })
    }

    /// Checks one batch and applies it. The inner result is the batch's own (a failed
    /// precondition writes nothing); the outer error is a failure of redb while writing, after
    /// which nothing of the transaction may be kept.
    fn apply(&mut self, batch: &WriteBatch) -> Result<Result<(), StoreError>, StoreError> {
        let handles = &self.handles;
        let aux = &self.aux;
        let checked = plan(
            batch,
            |key| {
                let found = handles.get(key).map_err(storage("reading a handle"))?;
                match found {
                    Some(guard) => {
                        let header = decode_header(key, guard.value())?;
                        Ok(Some(Current {
                            version: header.version,
                            handle: header.handle,
                        }))
                    }
                    None => Ok(None),
                }
            },
            |space, key| aux_in(aux, space, key),
        );
        match checked {
            Ok(ops) => {
                let tables = OpTables {
                    handles: &mut self.handles,
                    prefixes: &mut self.prefixes,
                    aux: &mut self.aux,
                    changes: &mut self.changes,
                };
                apply_ops(tables, &mut self.seq, ops)?;
                Ok(Ok(()))
            }
            Err(error) => Ok(Err(error)),
        }
    }
}

/// Checks and applies each batch of the group in turn. A batch whose precondition fails gets
/// its error in the outcomes and writes nothing; an error from redb while writing fails the
/// whole group, and so does a closing batch of [`Store::commit_all`] that fails its own
/// precondition (its batches must not be kept without it).
fn apply_group(txn: &WriteTransaction, group: &mut [Job]) -> Result<Vec<JobOutcome>, StoreError> {
    let mut tables = HandleTables::open(txn)?;
    let mut trace: Option<RedbTraceTables<'_>> = None;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        match job {
            Job::Handles { batch, .. } => {
                let outcome = tables.apply(batch)?;
                outcomes.push(JobOutcome::One(outcome.map(|()| None)));
            }
            Job::All {
                batches, epilogue, ..
            } => {
                let mut results = Vec::with_capacity(batches.len());
                for batch in batches.iter() {
                    results.push(tables.apply(batch)?);
                }
                let closing = match epilogue.take() {
                    Some(epilogue) => {
                        let applied: Vec<bool> = results.iter().map(Result::is_ok).collect();
                        epilogue(&applied)
                    }
                    None => None,
                };
                if let Some(closing) = &closing
                    && let Err(error) = tables.apply(closing)?
                {
                    return Err(StoreError::Storage(format!(
                        "the closing batch of a commit_all failed: {error}"
                    )));
                }
                outcomes.push(JobOutcome::All(results, closing));
            }
            Job::Trace { batch, .. } => {
                let trace_tables = match &mut trace {
                    Some(tables) => tables,
                    None => trace.insert(RedbTraceTables::open(txn)?),
                };
                match apply_trace(trace_tables, batch) {
                    Ok(committed) => outcomes.push(JobOutcome::One(Ok(Some(committed)))),
                    Err(error @ StoreError::Conflict { .. }) => {
                        outcomes.push(JobOutcome::One(Err(error)));
                    }
                    // A storage error may have left half a batch written: fail the group.
                    Err(error) => return Err(error),
                }
            }
        }
    }
    Ok(outcomes)
}

/// The trace tables opened in a write transaction.
struct RedbTraceTables<'txn> {
    records: Table<'txn, u64, &'static [u8]>,
    digests: Table<'txn, &'static [u8], u64>,
    subjects: Table<'txn, (&'static str, u64), u8>,
    heads: Table<'txn, &'static str, &'static [u8]>,
    hashes: Table<'txn, u64, &'static [u8]>,
    checkpoints: Table<'txn, u64, &'static str>,
    witness: Table<'txn, &'static str, &'static [u8]>,
    meta: Table<'txn, &'static str, u64>,
}

impl<'txn> RedbTraceTables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        let fail = || storage("opening the trace tables");
        Ok(Self {
            records: txn.open_table(TRACE_RECORDS).map_err(fail())?,
            digests: txn.open_table(TRACE_DIGESTS).map_err(fail())?,
            subjects: txn.open_table(TRACE_SUBJECTS).map_err(fail())?,
            heads: txn.open_table(TRACE_HEADS).map_err(fail())?,
            hashes: txn.open_table(TRACE_HASHES).map_err(fail())?,
            checkpoints: txn.open_table(TRACE_CHECKPOINTS).map_err(fail())?,
            witness: txn.open_table(TRACE_WITNESS).map_err(fail())?,
            meta: txn.open_table(META).map_err(fail())?,
        })
    }
}

impl TraceTables for RedbTraceTables<'_> {
    fn size(&self) -> Result<u64, StoreError> {
        trace_size_in(&self.meta)
    }

    fn head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError> {
        head_in(&self.heads, subject)
    }

    fn has_digest(&self, digest: &Hash) -> Result<bool, StoreError> {
        Ok(self
            .digests
            .get(digest.0.as_slice())
            .map_err(storage("reading a trace digest"))?
            .is_some())
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .checkpoints
            .get(size)
            .map_err(storage("reading a checkpoint"))?
            .map(|guard| guard.value().to_owned()))
    }

    fn witness(&self, origin: &str) -> Result<Option<WitnessState>, StoreError> {
        witness_in(&self.witness, origin)
    }

    fn hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        hashes_in(&self.hashes, indexes)
    }

    fn put_record(&mut self, index: u64, digest: &Hash, record: &[u8]) -> Result<(), StoreError> {
        let fail = || storage("writing a trace record");
        self.records
            .insert(index, encode_trace(digest, record).as_slice())
            .map_err(fail())?;
        self.digests
            .insert(digest.0.as_slice(), index)
            .map_err(fail())?;
        Ok(())
    }

    fn put_subject(&mut self, subject: &str, index: u64, chained: bool) -> Result<(), StoreError> {
        self.subjects
            .insert((subject, index), u8::from(chained))
            .map_err(storage("writing a trace subject"))?;
        Ok(())
    }

    fn put_head(&mut self, subject: &str, head: SubjectHead) -> Result<(), StoreError> {
        self.heads
            .insert(subject, encode_head(head).as_slice())
            .map_err(storage("writing a trace head"))?;
        Ok(())
    }

    fn put_hashes(&mut self, first: u64, hashes: &[Hash]) -> Result<(), StoreError> {
        for (offset, hash) in (0u64..).zip(hashes) {
            self.hashes
                .insert(first + offset, hash.0.as_slice())
                .map_err(storage("writing a tree hash"))?;
        }
        Ok(())
    }

    fn put_size(&mut self, size: u64) -> Result<(), StoreError> {
        self.meta
            .insert(TRACE_SIZE_KEY, size)
            .map_err(storage("writing the trace size"))?;
        Ok(())
    }

    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), StoreError> {
        self.checkpoints
            .insert(size, note)
            .map_err(storage("writing a checkpoint"))?;
        Ok(())
    }

    fn put_witness(&mut self, origin: &str, state: WitnessState) -> Result<(), StoreError> {
        self.witness
            .insert(origin, encode_witness(state).as_slice())
            .map_err(storage("writing a witness state"))?;
        Ok(())
    }
}

fn trace_size_in(meta: &impl ReadableTable<&'static str, u64>) -> Result<u64, StoreError> {
    Ok(meta
        .get(TRACE_SIZE_KEY)
        .map_err(storage("reading the trace size"))?
        .map_or(0, |guard| guard.value()))
}

fn head_in(
    heads: &impl ReadableTable<&'static str, &'static [u8]>,
    subject: &str,
) -> Result<Option<SubjectHead>, StoreError> {
    match heads
        .get(subject)
        .map_err(storage("reading a trace head"))?
    {
        Some(guard) => decode_head(guard.value()).map(Some),
        None => Ok(None),
    }
}

fn witness_in(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    origin: &str,
) -> Result<Option<WitnessState>, StoreError> {
    match table
        .get(origin)
        .map_err(storage("reading a witness state"))?
    {
        Some(guard) => decode_witness(guard.value()).map(Some),
        None => Ok(None),
    }
}

fn hashes_in(
    table: &impl ReadableTable<u64, &'static [u8]>,
    indexes: &[u64],
) -> Result<Vec<Hash>, StoreError> {
    indexes
        .iter()
        .map(|&index| {
            let guard = table
                .get(index)
                .map_err(storage("reading a tree hash"))?
                .ok_or_else(|| StoreError::Storage(format!("tree hash {index} is missing")))?;
            Hash::from_slice(guard.value())
                .ok_or_else(|| StoreError::Storage(format!("tree hash {index} is corrupt")))
        })
        .collect()
}

/// A key and value guard of the aux table.
type AuxGuards<'a> = (
    redb::AccessGuard<'a, (&'static str, &'static [u8])>,
    redb::AccessGuard<'a, &'static [u8]>,
);

/// Reads one aux entry from a table of a read or write transaction.
fn aux_in(
    table: &impl ReadableTable<(&'static str, &'static [u8]), &'static [u8]>,
    space: &str,
    key: &[u8],
) -> Result<Option<AuxEntry>, StoreError> {
    match table
        .get((space, key))
        .map_err(storage("reading an aux entry"))?
    {
        Some(guard) => decode_entry(space, key, guard.value()).map(Some),
        None => Ok(None),
    }
}

/// The tables a checked batch writes to.
struct OpTables<'a, 'txn> {
    handles: &'a mut Table<'txn, &'static [u8], &'static [u8]>,
    prefixes: &'a mut Table<'txn, &'static [u8], &'static str>,
    aux: &'a mut Table<'txn, (&'static str, &'static [u8]), &'static [u8]>,
    changes: &'a mut Table<'txn, u64, &'static [u8]>,
}

/// Performs the writes of one checked batch. Every handle put or delete is also appended to the
/// change feed, numbered from `seq` (the last number handed out, advanced here).
fn apply_ops(tables: OpTables<'_, '_>, seq: &mut u64, ops: Vec<Op>) -> Result<(), StoreError> {
    let OpTables {
        handles,
        prefixes,
        aux,
        changes,
    } = tables;
    for op in ops {
        match op {
            Op::Put { key, record } => {
                let bytes = encode_record(&record);
                handles
                    .insert(key.as_slice(), bytes.as_slice())
                    .map_err(storage("writing a handle"))?;
                record_change(changes, seq, &key)?;
            }
            Op::Delete { key } => {
                handles
                    .remove(key.as_slice())
                    .map_err(storage("deleting a handle"))?;
                record_change(changes, seq, &key)?;
            }
            Op::Home { key, spelling } => {
                let present = prefixes
                    .get(key.as_slice())
                    .map_err(storage("reading a prefix"))?
                    .is_some();
                if !present {
                    prefixes
                        .insert(key.as_slice(), spelling.as_str())
                        .map_err(storage("writing a prefix"))?;
                }
            }
            Op::Unhome { key } => {
                prefixes
                    .remove(key.as_slice())
                    .map_err(storage("removing a prefix"))?;
            }
            Op::Aux(AuxOp::Put { space, key, entry }) => {
                aux.insert(
                    (space.as_str(), key.as_slice()),
                    encode_entry(&entry).as_slice(),
                )
                .map_err(storage("writing an aux entry"))?;
            }
            Op::Aux(AuxOp::Delete { space, key }) => {
                aux.remove((space.as_str(), key.as_slice()))
                    .map_err(storage("deleting an aux entry"))?;
            }
        }
    }
    Ok(())
}

/// Appends `key` to the change feed under the next sequence number.
fn record_change(
    changes: &mut Table<'_, u64, &'static [u8]>,
    seq: &mut u64,
    key: &[u8],
) -> Result<(), StoreError> {
    let next = next_seq(*seq)?;
    changes
        .insert(next, key)
        .map_err(storage("writing the change feed"))?;
    *seq = next;
    Ok(())
}

/// The stored form of a record: header, then the values unchanged.
fn encode_record(record: &StoredRecord) -> Vec<u8> {
    // The planner rejects longer spellings, so the length fits a u16.
    let spelling_len = u16::try_from(record.handle.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + record.handle.len() + record.values.len());
    out.push(RECORD_FORMAT);
    out.extend_from_slice(&record.version.to_be_bytes());
    out.extend_from_slice(&spelling_len.to_be_bytes());
    out.extend_from_slice(&record.handle.as_bytes()[..usize::from(spelling_len)]);
    out.extend_from_slice(&record.values);
    out
}

/// A decoded header and where the values start.
struct Header {
    version: u64,
    handle: String,
    values_at: usize,
}

/// Reads the header of a stored record; corrupt bytes give [`StoreError::Storage`].
fn decode_header(key: &[u8], bytes: &[u8]) -> Result<Header, StoreError> {
    let corrupt = |why: &str| {
        StoreError::Storage(format!(
            "corrupt record for {}: {why}",
            String::from_utf8_lossy(key)
        ))
    };
    let (fixed, rest) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| corrupt("shorter than its header"))?;
    if fixed[0] != RECORD_FORMAT {
        return Err(corrupt("unknown format byte"));
    }
    let mut version = [0; 8];
    version.copy_from_slice(&fixed[1..9]);
    let spelling_len = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    let spelling = rest
        .get(..spelling_len)
        .ok_or_else(|| corrupt("spelling runs past the end"))?;
    let handle = std::str::from_utf8(spelling)
        .map_err(|_| corrupt("spelling is not UTF-8"))?
        .to_owned();
    Ok(Header {
        version: u64::from_be_bytes(version),
        handle,
        values_at: HEADER_LEN + spelling_len,
    })
}

/// Decodes a whole stored record.
fn decode_record(key: &[u8], bytes: &[u8]) -> Result<StoredRecord, StoreError> {
    let header = decode_header(key, bytes)?;
    // `decode_header` checked that the spelling, and so `values_at`, lies within `bytes`.
    Ok(StoredRecord {
        handle: header.handle,
        version: header.version,
        values: bytes[header.values_at..].to_vec(),
    })
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
