//! Storage of signed trace records and their Merkle log: the [`TraceStore`] trait and the
//! planner that both stores share.
//!
//! The log is an RFC 6962 tree over record digests (the log entries). A [`TraceBatch`] appends
//! records, publishes a signed checkpoint, or advances a witness's state, each with a
//! precondition, atomically and durably, in the same transaction as anything else the writer
//! groups with it. The stored hashes use the tlog stored-hash numbering of
//! `idnode_trace::merkle` and are computed by `idnode_trace::merkle::Appender` inside the
//! transaction, so the sequence of leaves, their hashes and the size can never disagree.
//!
//! Tables (the redb names; [`crate::MemStore`] keeps the same maps in memory):
//!
//! | table | key → value |
//! |---|---|
//! | `trace_records` | leaf index → record digest (32 bytes) ‖ record bytes (the JWS) |
//! | `trace_digests` | record digest → leaf index |
//! | `trace_subjects` | (subject, leaf index) → 1 when the record's `subject` is this one (its `prev` chain), 0 when the event only mentions it |
//! | `trace_heads` | subject → leaf index (`u64` big-endian) ‖ digest of the subject's last chained record |
//! | `trace_hashes` | stored-hash index → hash |
//! | `trace_checkpoints` | tree size → signed checkpoint note |
//! | `trace_witness` | origin → size (`u64` big-endian) ‖ root of the last checkpoint this node cosigned |
//! | `meta` | `"trace_size"` → the number of leaves |

use std::collections::HashMap;
use std::future::Future;

use idnode_trace::merkle::{self, Appender, Hash, HashReader};

use crate::StoreError;

/// One record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// The record digest `SHA-256(record bytes)`: the log entry.
    pub digest: Hash,
    /// The stored form of the record (the compact JWS), shared with whoever answers the
    /// caller, so that the writer neither copies nor frees it.
    pub record: bytes::Bytes,
    /// The record's subject, whose `prev` chain this record extends.
    pub subject: String,
    /// The digest of the subject's previous record that this record names as `prev`; `None`
    /// for the first record of the subject. The append fails unless this is the subject's
    /// current head (counting earlier entries of the same batch).
    pub expect_prev: Option<Hash>,
    /// Other identifiers the event names, indexed so that their history includes it.
    pub mentions: Vec<String>,
    /// The event the record is for, by which a retried capture is recognised: recorded under
    /// the subject in the same transaction, and the append fails (conflict) if the subject
    /// already holds it.
    pub event: Option<EventKey>,
}

/// What identifies a captured event under its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey {
    /// `id:` and the event's `eventID`, or `hash:` and its CBV 2.0 event hash when it has none.
    pub key: String,
    /// The event's CBV 2.0 event hash, to tell a retry from a different event under the same
    /// `eventID`.
    pub event_hash: String,
}

/// A captured event found under its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEvent {
    /// The leaf index of its record.
    pub index: u64,
    /// Its CBV 2.0 event hash.
    pub event_hash: String,
}

/// One change to the trace tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceMutation {
    /// Appends records to the log, in order, under per-subject preconditions.
    Append {
        /// The records.
        entries: Vec<TraceEntry>,
    },
    /// Stores a signed checkpoint for `size`. Fails unless `root` is the log's root at that
    /// size, and unless any checkpoint already stored for `size` has the same body (`text`);
    /// a note with the same body replaces the stored one (to add cosignatures).
    PutCheckpoint {
        /// The tree size.
        size: u64,
        /// The root hash the note commits to.
        root: Hash,
        /// The checkpoint body (the signed text).
        text: String,
        /// The whole signed note.
        note: String,
    },
    /// Advances what this node, as a witness, has cosigned for a log origin.
    PutWitnessState {
        /// The log origin.
        origin: String,
        /// The size that must be stored now (0 when nothing is).
        expect_size: u64,
        /// The new state.
        state: WitnessState,
    },
}

/// Trace changes applied all together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceBatch {
    /// The mutations, in order.
    pub mutations: Vec<TraceMutation>,
}

/// What a committed [`TraceBatch`] did to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceCommitted {
    /// The leaf index of the first appended record (the old size when nothing was appended).
    pub first_index: u64,
    /// The tree size after the batch.
    pub size: u64,
}

/// A stored record: its digest and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTrace {
    /// The leaf index.
    pub index: u64,
    /// The record digest.
    pub digest: Hash,
    /// The record bytes as appended.
    pub record: Vec<u8>,
}

/// The last chained record of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectHead {
    /// Its leaf index.
    pub index: u64,
    /// Its digest.
    pub digest: Hash,
}

/// One record in a subject's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectEntry {
    /// The leaf index.
    pub index: u64,
    /// Whether the record's `subject` is this subject (so it is part of its `prev` chain),
    /// rather than a mention.
    pub chained: bool,
}

/// A witness's state for one log: the checkpoint it last cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessState {
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
}

/// Storage of trace records, the Merkle log and checkpoints: the reads of [`TraceRead`] and the
/// one way to write.
pub trait TraceStore: TraceRead + 'static {
    /// Applies a batch atomically and durably. Resolves after the commit is on disk. A failed
    /// precondition gives [`StoreError::Conflict`] naming the subject, size or origin.
    fn commit_trace(
        &self,
        batch: TraceBatch,
    ) -> impl Future<Output = Result<TraceCommitted, StoreError>> + Send;
}

/// The reads of a trace store: records, the log's hashes, checkpoints and witness state. Front
/// ends and tasks get them through the resolver's read-only view of the log, which implements
/// this trait and nothing that writes.
pub trait TraceRead: Send + Sync {
    /// The number of records in the log.
    fn trace_size(&self) -> Result<u64, StoreError>;

    /// The records with leaf indexes in `[start, start + limit)`, in order.
    fn trace_records(&self, start: u64, limit: usize) -> Result<Vec<StoredTrace>, StoreError>;

    /// The record digests of leaves `[start, start + limit)`, in order.
    fn trace_digests(&self, start: u64, limit: usize) -> Result<Vec<Hash>, StoreError>;

    /// The leaf index of the record with this digest.
    fn trace_index_of(&self, digest: &Hash) -> Result<Option<u64>, StoreError>;

    /// A subject's history after leaf `after` (exclusive; `None` from the start), at most
    /// `limit` entries, in log order.
    fn trace_subject(
        &self,
        subject: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SubjectEntry>, StoreError>;

    /// The last chained record of a subject.
    fn trace_head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError>;

    /// The heads of several subjects, in order, read from one snapshot.
    fn trace_heads(&self, subjects: &[&str]) -> Result<Vec<Option<SubjectHead>>, StoreError> {
        subjects
            .iter()
            .map(|subject| self.trace_head(subject))
            .collect()
    }

    /// The events already captured under each `(subject, key)`, read in one snapshot.
    fn trace_events(&self, keys: &[(&str, &str)])
    -> Result<Vec<Option<CapturedEvent>>, StoreError>;
    /// The stored hashes at these stored-hash indexes; a missing one is an error.
    fn trace_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;

    /// The checkpoint note stored for this size.
    fn trace_checkpoint(&self, size: u64) -> Result<Option<String>, StoreError>;

    /// The checkpoint with the largest size, with that size.
    fn trace_latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError>;

    /// What this node last cosigned for a log origin.
    fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>, StoreError>;
}

/// Reads stored hashes of a [`TraceRead`], for proofs and tiles.
#[derive(Debug)]
pub struct TraceHashes<'a, S: ?Sized>(pub &'a S);

impl<S: TraceRead + ?Sized> HashReader for TraceHashes<'_, S> {
    type Error = StoreError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.0.trace_hashes(indexes)
    }
}

/// The state a store exposes to the trace planner, inside its write transaction.
pub(crate) trait TraceTables {
    /// The number of leaves.
    fn size(&self) -> Result<u64, StoreError>;
    /// A subject's head.
    fn head(&self, subject: &str) -> Result<Option<SubjectHead>, StoreError>;
    /// Whether a record with this digest exists.
    fn has_digest(&self, digest: &Hash) -> Result<bool, StoreError>;
    /// The note stored for a size.
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError>;
    /// A witness state.
    fn witness(&self, origin: &str) -> Result<Option<WitnessState>, StoreError>;
    /// Stored hashes.
    fn hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;
    /// The event captured under a subject and key.
    fn event(&self, subject: &str, key: &str) -> Result<Option<CapturedEvent>, StoreError>;

    /// Stores a record at a leaf index, with its digest index.
    fn put_record(&mut self, index: u64, digest: &Hash, record: &[u8]) -> Result<(), StoreError>;
    /// Adds a leaf index to a subject's history.
    fn put_subject(&mut self, subject: &str, index: u64, chained: bool) -> Result<(), StoreError>;
    /// Sets a subject's head.
    fn put_head(&mut self, subject: &str, head: SubjectHead) -> Result<(), StoreError>;
    /// Stores hashes at consecutive stored-hash indexes from `first`.
    fn put_hashes(&mut self, first: u64, hashes: &[Hash]) -> Result<(), StoreError>;
    /// Sets the number of leaves.
    fn put_size(&mut self, size: u64) -> Result<(), StoreError>;
    /// Stores a checkpoint note.
    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), StoreError>;
    /// Stores a witness state.
    fn put_witness(&mut self, origin: &str, state: WitnessState) -> Result<(), StoreError>;
    /// Records a captured event under its subject.
    fn put_event(&mut self, subject: &str, event: &EventKey, index: u64) -> Result<(), StoreError>;
}

/// Adapts [`TraceTables`] to [`HashReader`].
struct TablesReader<'a, T: ?Sized>(&'a T);

impl<T: TraceTables + ?Sized> HashReader for TablesReader<'_, T> {
    type Error = StoreError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.0.hashes(indexes)
    }
}

/// The body of a stored note: everything before the blank line that ends the text.
fn note_body(note: &str) -> &str {
    match note.find("\n\n") {
        Some(end) => &note[..=end],
        None => note,
    }
}

fn conflict(what: impl Into<String>) -> StoreError {
    StoreError::Conflict {
        handle: what.into(),
    }
}

fn tree_error(error: merkle::TreeError<StoreError>) -> StoreError {
    match error {
        merkle::TreeError::Read(error) => error,
        other => StoreError::Storage(format!("trace log: {other}")),
    }
}

/// Checks every precondition of `batch` against `tables`, then applies it. Nothing is written
/// unless every precondition holds.
pub(crate) fn apply_trace<T: TraceTables>(
    tables: &mut T,
    batch: &TraceBatch,
) -> Result<TraceCommitted, StoreError> {
    let size = tables.size()?;
    // Check phase: the heads as the batch's own earlier appends leave them.
    let mut heads: HashMap<&str, Option<Hash>> = HashMap::new();
    let mut digests: std::collections::HashSet<Hash> = std::collections::HashSet::new();
    let mut events: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
    let mut appended = 0u64;
    for mutation in &batch.mutations {
        match mutation {
            TraceMutation::Append { entries } => {
                for entry in entries {
                    let head = match heads.get(entry.subject.as_str()) {
                        Some(head) => *head,
                        None => tables.head(&entry.subject)?.map(|h| h.digest),
                    };
                    if head != entry.expect_prev {
                        return Err(conflict(entry.subject.clone()));
                    }
                    if !digests.insert(entry.digest) || tables.has_digest(&entry.digest)? {
                        return Err(conflict(format!("record {}", entry.digest)));
                    }
                    if let Some(event) = &entry.event
                        && (!events.insert((entry.subject.as_str(), event.key.as_str()))
                            || tables.event(&entry.subject, &event.key)?.is_some())
                    {
                        return Err(conflict(format!(
                            "event {} of {}",
                            event.key, entry.subject
                        )));
                    }
                    heads.insert(&entry.subject, Some(entry.digest));
                    appended += 1;
                }
            }
            TraceMutation::PutCheckpoint {
                size: cp_size,
                root,
                text,
                note,
            } => {
                if *cp_size > size || note_body(note) != text.as_str() {
                    return Err(conflict(format!("checkpoint {cp_size}")));
                }
                let actual =
                    merkle::tree_hash(*cp_size, &TablesReader(&*tables)).map_err(tree_error)?;
                if actual != *root {
                    return Err(conflict(format!("checkpoint {cp_size}")));
                }
                if let Some(existing) = tables.checkpoint(*cp_size)?
                    && note_body(&existing) != text.as_str()
                {
                    return Err(conflict(format!("checkpoint {cp_size}")));
                }
            }
            TraceMutation::PutWitnessState {
                origin,
                expect_size,
                ..
            } => {
                let stored = tables.witness(origin)?.map_or(0, |s| s.size);
                if stored != *expect_size {
                    return Err(conflict(origin.clone()));
                }
            }
        }
    }
    // Write phase.
    let mut appender = if appended > 0 {
        Appender::resume(size, &TablesReader(&*tables)).map_err(tree_error)?
    } else {
        Appender::new()
    };
    let mut next = size;
    for mutation in &batch.mutations {
        match mutation {
            TraceMutation::Append { entries } => {
                for entry in entries {
                    let index = next;
                    next += 1;
                    tables.put_record(index, &entry.digest, &entry.record)?;
                    tables.put_subject(&entry.subject, index, true)?;
                    for mention in &entry.mentions {
                        if mention != &entry.subject {
                            tables.put_subject(mention, index, false)?;
                        }
                    }
                    if let Some(event) = &entry.event {
                        tables.put_event(&entry.subject, event, index)?;
                    }
                    tables.put_head(
                        &entry.subject,
                        SubjectHead {
                            index,
                            digest: entry.digest,
                        },
                    )?;
                    let (first, hashes) = appender.append(merkle::leaf_hash(&entry.digest.0));
                    tables.put_hashes(first, &hashes)?;
                }
            }
            TraceMutation::PutCheckpoint { size, note, .. } => {
                tables.put_checkpoint(*size, note)?;
            }
            TraceMutation::PutWitnessState { origin, state, .. } => {
                tables.put_witness(origin, *state)?;
            }
        }
    }
    if next != size {
        tables.put_size(next)?;
    }
    Ok(TraceCommitted {
        first_index: size,
        size: next,
    })
}

/// Encodes a subject head: index then digest.
pub(crate) fn encode_head(head: SubjectHead) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&head.index.to_be_bytes());
    out[8..].copy_from_slice(&head.digest.0);
    out
}

/// Decodes a subject head; corrupt bytes are a storage error.
pub(crate) fn decode_head(bytes: &[u8]) -> Result<SubjectHead, StoreError> {
    let (index, digest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| StoreError::Storage("corrupt trace head".to_owned()))?;
    let digest = Hash::from_slice(digest)
        .ok_or_else(|| StoreError::Storage("corrupt trace head".to_owned()))?;
    Ok(SubjectHead {
        index: u64::from_be_bytes(*index),
        digest,
    })
}

/// Encodes a witness state: size then root.
pub(crate) fn encode_witness(state: WitnessState) -> [u8; 40] {
    encode_head(SubjectHead {
        index: state.size,
        digest: state.root,
    })
}

/// Decodes a witness state.
pub(crate) fn decode_witness(bytes: &[u8]) -> Result<WitnessState, StoreError> {
    let head = decode_head(bytes)?;
    Ok(WitnessState {
        size: head.index,
        root: head.digest,
    })
}

/// Splits a stored record value into digest and record bytes.
pub(crate) fn decode_record(index: u64, bytes: &[u8]) -> Result<StoredTrace, StoreError> {
    let (digest, record) = bytes
        .split_at_checked(merkle::HASH_SIZE)
        .ok_or_else(|| StoreError::Storage(format!("corrupt trace record {index}")))?;
    let digest = Hash::from_slice(digest)
        .ok_or_else(|| StoreError::Storage(format!("corrupt trace record {index}")))?;
    Ok(StoredTrace {
        index,
        digest,
        record: record.to_vec(),
    })
}

/// Joins digest and record bytes for storage.
pub(crate) fn encode_record(digest: &Hash, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(merkle::HASH_SIZE + record.len());
    out.extend_from_slice(&digest.0);
    out.extend_from_slice(record);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip_and_reject_short_input() {
        let head = SubjectHead {
            index: 7,
            digest: Hash([3; 32]),
        };
        assert_eq!(decode_head(&encode_head(head)).unwrap(), head);
        assert!(decode_head(&[0; 39]).is_err());
        let record = decode_record(1, &encode_record(&Hash([1; 32]), b"jws")).unwrap();
        assert_eq!(record.record, b"jws");
        assert!(decode_record(1, &[0; 31]).is_err());
        assert_eq!(note_body("a\nb\n\n- sig\n"), "a\nb\n");
    }
}
