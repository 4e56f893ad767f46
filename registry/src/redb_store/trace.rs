//! The trace log's side of [`RedbStore`]: its [`TraceStore`] and [`TraceRead`] implementations
//! and the tables the trace planner writes inside the writer's transaction.

use super::*;

impl RedbStore {
    /// The aux entries of one space within a scan's bounds.
    pub(super) fn scan_aux_in(
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

    pub(super) fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
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

    fn trace_events(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<Option<CapturedEvent>>, StoreError> {
        let table = self.read_table(TRACE_EVENTS)?;
        keys.iter()
            .map(|&(subject, key)| event_in(&table, subject, key))
            .collect()
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

/// The trace tables opened in a write transaction.
pub(super) struct RedbTraceTables<'txn> {
    records: Table<'txn, u64, &'static [u8]>,
    digests: Table<'txn, &'static [u8], u64>,
    subjects: Table<'txn, (&'static str, u64), u8>,
    heads: Table<'txn, &'static str, &'static [u8]>,
    hashes: Table<'txn, u64, &'static [u8]>,
    checkpoints: Table<'txn, u64, &'static str>,
    witness: Table<'txn, &'static str, &'static [u8]>,
    events: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    meta: Table<'txn, &'static str, u64>,
}

impl<'txn> RedbTraceTables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        let fail = || storage("opening the trace tables");
        Ok(Self {
            records: txn.open_table(TRACE_RECORDS).map_err(fail())?,
            digests: txn.open_table(TRACE_DIGESTS).map_err(fail())?,
            subjects: txn.open_table(TRACE_SUBJECTS).map_err(fail())?,
            heads: txn.open_table(TRACE_HEADS).map_err(fail())?,
            hashes: txn.open_table(TRACE_HASHES).map_err(fail())?,
            checkpoints: txn.open_table(TRACE_CHECKPOINTS).map_err(fail())?,
            witness: txn.open_table(TRACE_WITNESS).map_err(fail())?,
            events: txn.open_table(TRACE_EVENTS).map_err(fail())?,
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

    fn event(&self, subject: &str, key: &str) -> Result<Option<CapturedEvent>, StoreError> {
        event_in(&self.events, subject, key)
    }

    fn put_event(&mut self, subject: &str, event: &EventKey, index: u64) -> Result<(), StoreError> {
        let mut value = index.to_be_bytes().to_vec();
        value.extend_from_slice(event.event_hash.as_bytes());
        self.events
            .insert((subject, event.key.as_str()), value.as_slice())
            .map_err(storage("writing a captured event"))?;
        Ok(())
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

pub(super) fn trace_size_in(
    meta: &impl ReadableTable<&'static str, u64>,
) -> Result<u64, StoreError> {
    Ok(meta
        .get(TRACE_SIZE_KEY)
        .map_err(storage("reading the trace size"))?
        .map_or(0, |guard| guard.value()))
}

pub(super) fn head_in(
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

pub(super) fn event_in(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    subject: &str,
    key: &str,
) -> Result<Option<CapturedEvent>, StoreError> {
    let Some(guard) = table
        .get((subject, key))
        .map_err(storage("reading a captured event"))?
    else {
        return Ok(None);
    };
    let value = guard.value();
    let corrupt = || StoreError::Storage(format!("corrupt captured event {key} of {subject}"));
    let index = value
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(corrupt)?;
    let event_hash = std::str::from_utf8(&value[8..])
        .map_err(|_| corrupt())?
        .to_owned();
    Ok(Some(CapturedEvent { index, event_hash }))
}

pub(super) fn witness_in(
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

pub(super) fn hashes_in(
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
