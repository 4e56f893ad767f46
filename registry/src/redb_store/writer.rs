//! The writer thread of [`RedbStore`]: it drains every job queued while the previous commit
//! was in flight, applies them in one write transaction, commits durably, tells the commit
//! listener, and only then answers each job (group commit). Also the encoding of stored
//! records.

use super::*;

/// The writer thread: group commit until the queue closes.
pub(super) fn run_writer(
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
pub(super) fn commit_group(
    db: &Database,
    group: &mut [Job],
    counters: &Counters,
) -> Vec<JobOutcome> {
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
pub(super) struct HandleTables<'txn> {
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
pub(super) fn apply_group(
    txn: &WriteTransaction,
    group: &mut [Job],
) -> Result<Vec<JobOutcome>, StoreError> {
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

/// A key and value guard of the aux table.
pub(super) type AuxGuards<'a> = (
    redb::AccessGuard<'a, (&'static str, &'static [u8])>,
    redb::AccessGuard<'a, &'static [u8]>,
);

/// Reads one aux entry from a table of a read or write transaction.
pub(super) fn aux_in(
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
pub(super) struct OpTables<'a, 'txn> {
    handles: &'a mut Table<'txn, &'static [u8], &'static [u8]>,
    prefixes: &'a mut Table<'txn, &'static [u8], &'static str>,
    aux: &'a mut Table<'txn, (&'static str, &'static [u8]), &'static [u8]>,
    changes: &'a mut Table<'txn, u64, &'static [u8]>,
}

/// Performs the writes of one checked batch. Every handle put or delete is also appended to the
/// change feed, numbered from `seq` (the last number handed out, advanced here).
pub(super) fn apply_ops(
    tables: OpTables<'_, '_>,
    seq: &mut u64,
    ops: Vec<Op>,
) -> Result<(), StoreError> {
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
pub(super) fn record_change(
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
pub(super) fn encode_record(record: &StoredRecord) -> Vec<u8> {
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
pub(super) struct Header {
    pub(super) version: u64,
    pub(super) handle: String,
    pub(super) values_at: usize,
}

/// Reads the header of a stored record; corrupt bytes give [`StoreError::Storage`].
pub(super) fn decode_header(key: &[u8], bytes: &[u8]) -> Result<Header, StoreError> {
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
pub(super) fn decode_record(key: &[u8], bytes: &[u8]) -> Result<StoredRecord, StoreError> {
    let header = decode_header(key, bytes)?;
    // `decode_header` checked that the spelling, and so `values_at`, lies within `bytes`.
    Ok(StoredRecord {
        handle: header.handle,
        version: header.version,
        values: bytes[header.values_at..].to_vec(),
    })
}
