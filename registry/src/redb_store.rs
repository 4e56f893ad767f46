//! [`RedbStore`]: the [`Store`] contract on a redb file, with group commit on one writer thread.
//!
//! Layout (schema version `SCHEMA_VERSION`):
//!
//! - table `handles`: normalized handle bytes → record header + values. The header is a format
//!   byte (`RECORD_FORMAT`), the version as a big-endian `u64`, and the creation spelling as a
//!   big-endian `u16` length followed by its UTF-8 bytes. The values (`int4 count` + value
//!   records) follow unchanged, so a resolution reads them without re-encoding anything.
//! - table `prefixes`: normalized prefix bytes → the prefix as first spelled.
//! - table `meta`: `"schema"` → the schema version.
//!
//! Writes go to a thread named `idnode-writer` that owns every write transaction. It blocks for
//! one batch, then takes whatever else is queued (up to `MAX_GROUP` batches), applies them in
//! order in one transaction, each atomically, commits with `Durability::Immediate`, and only then
//! answers every batch. Reads open their own read transaction on the caller's thread.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use tokio::sync::oneshot;

use crate::plan::{Current, Op, handle_range, plan};
use crate::{Store, StoreError, StoredRecord, WriteBatch};

/// Handles by normalized key.
const HANDLES: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("handles");
/// Homed prefixes by normalized prefix, mapped to their spelling.
const PREFIXES: TableDefinition<'_, &[u8], &str> = TableDefinition::new("prefixes");
/// Facts about the file itself.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// The key of the schema version in [`META`].
const SCHEMA_KEY: &str = "schema";

/// The schema version this code reads and writes.
const SCHEMA_VERSION: u64 = 1;
/// The first byte of every stored record.
const RECORD_FORMAT: u8 = 1;
/// The most batches the writer applies in one transaction.
const MAX_GROUP: usize = 1024;

/// Format byte, version and spelling length.
const HEADER_LEN: usize = 1 + 8 + 2;

/// A batch waiting for the writer, with the channel its outcome goes back on.
struct Job {
    batch: WriteBatch,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

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
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
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
        let db = Arc::new(db);
        let counters = Arc::new(Counters::default());
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("idnode-writer".to_owned())
            .spawn({
                let db = Arc::clone(&db);
                let counters = Arc::clone(&counters);
                move || run_writer(&db, &queue, &counters)
            })
            .map_err(storage("starting the writer thread"))?;
        Ok(Self {
            db,
            jobs: Some(jobs),
            writer: Some(writer),
            counters,
        })
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
        jobs.send(Job { batch, reply })
            .map_err(|_| StoreError::Closed)?;
        // The writer answers every job it takes; a dropped reply means it stopped.
        outcome.await.map_err(|_| StoreError::Closed)?
    }

    fn is_homed(&self, prefix: &str) -> Result<bool, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(PREFIXES)
            .map_err(storage("opening the prefixes table"))?;
        let key = idnode_proto::normalize(prefix);
        let found = table
            .get(key.as_slice())
            .map_err(storage("reading a prefix"))?;
        Ok(found.is_some())
    }

    fn homed_prefixes(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(PREFIXES)
            .map_err(storage("opening the prefixes table"))?;
        let entries = table.iter().map_err(storage("listing prefixes"))?;
        entries
            .map(|entry| {
                let (_, spelling) = entry.map_err(storage("listing prefixes"))?;
                Ok(spelling.value().to_owned())
            })
            .collect()
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
fn run_writer(db: &Database, queue: &mpsc::Receiver<Job>, counters: &Counters) {
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
        let outcomes = commit_group(db, &group, counters);
        for (job, outcome) in group.into_iter().zip(outcomes) {
            match &outcome {
                Ok(()) => counters.batches.fetch_add(1, Ordering::Relaxed),
                Err(StoreError::Conflict { .. }) => {
                    counters.conflicts.fetch_add(1, Ordering::Relaxed)
                }
                Err(_) => counters.failures.fetch_add(1, Ordering::Relaxed),
            };
            // A caller that stopped waiting does not need the answer.
            let _ = job.reply.send(outcome);
        }
    }
    tracing::debug!("idnode-writer stops: the store was dropped");
}

/// Applies a group in one transaction and returns one outcome per batch, in order.
fn commit_group(db: &Database, group: &[Job], counters: &Counters) -> Vec<Result<(), StoreError>> {
    let fail_all = |error: StoreError| {
        tracing::error!(%error, batches = group.len(), "group commit failed");
        let message = error.to_string();
        group
            .iter()
            .map(|_| Err(StoreError::Storage(message.clone())))
            .collect()
    };
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(error) => return fail_all(storage("beginning a write transaction")(error)),
    };
    // The durability stays at its default, `Durability::Immediate`.
    let outcomes = match apply_group(&txn, group) {
        Ok(outcomes) => outcomes,
        Err(error) => {
            // Something failed half-way through writing; nothing of the group may be kept.
            let _ = txn.abort();
            return fail_all(error);
        }
    };
    if outcomes.iter().all(Result::is_err) {
        // Nothing to write; spare the disk a sync.
        if let Err(error) = txn.abort() {
            tracing::warn!(%error, "aborting an empty write transaction failed");
        }
        return outcomes;
    }
    match txn.commit() {
        Ok(()) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(batches = group.len(), "group committed");
            outcomes
        }
        // The commit may or may not have reached the disk; the callers are told it failed.
        Err(error) => fail_all(storage("committing a write transaction")(error)),
    }
}

/// Checks and applies each batch of the group in turn. A batch whose precondition fails gets
/// its error in the outcomes and writes nothing; an error from redb while writing fails the
/// whole group.
fn apply_group(
    txn: &WriteTransaction,
    group: &[Job],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut handles = txn
        .open_table(HANDLES)
        .map_err(storage("opening the handles table"))?;
    let mut prefixes = txn
        .open_table(PREFIXES)
        .map_err(storage("opening the prefixes table"))?;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let checked = plan(&job.batch, |key| {
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
        });
        match checked {
            Ok(ops) => {
                apply_ops(&mut handles, &mut prefixes, ops)?;
                outcomes.push(Ok(()));
            }
            Err(error) => outcomes.push(Err(error)),
        }
    }
    Ok(outcomes)
}

/// Performs the writes of one checked batch.
fn apply_ops(
    handles: &mut Table<'_, &'static [u8], &'static [u8]>,
    prefixes: &mut Table<'_, &'static [u8], &'static str>,
    ops: Vec<Op>,
) -> Result<(), StoreError> {
    for op in ops {
        match op {
            Op::Put { key, record } => {
                let bytes = encode_record(&record);
                handles
                    .insert(key.as_slice(), bytes.as_slice())
                    .map_err(storage("writing a handle"))?;
            }
            Op::Delete { key } => {
                handles
                    .remove(key.as_slice())
                    .map_err(storage("deleting a handle"))?;
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
        }
    }
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
