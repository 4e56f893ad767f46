//! Precondition checking shared by every store, so that all of them agree on batch semantics.
//!
//! A store hands [`plan`] a batch and a way to read the committed state (for [`crate::RedbStore`],
//! reads through the open write transaction). The planner checks every precondition in order
//! against that state plus the effects of the batch's own earlier mutations, and returns the list
//! of writes to perform. Nothing is written until the whole batch has been checked, which is how a
//! batch stays atomic inside a shared transaction.

use std::collections::HashMap;

use idnode_proto::normalize;

use crate::aux::{
    AuxEntry, AuxOp, AuxOverlay, SEQ_SPACE, check_address, check_aux_expect, conflict_name,
    decode_counter,
};
use crate::{Expect, Mutation, StoreError, StoredRecord, WriteBatch};

/// The largest handle spelling a store accepts; the redb header stores its length as a `u16`.
pub(crate) const MAX_HANDLE_LEN: usize = u16::MAX as usize;

/// One write that a checked batch performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Store this record under this key, replacing what is there.
    Put {
        /// The normalized handle.
        key: Vec<u8>,
        /// The record with its final version and spelling.
        record: StoredRecord,
    },
    /// Remove the handle with this key.
    Delete {
        /// The normalized handle.
        key: Vec<u8>,
    },
    /// Record a homed prefix unless it is already there (so the first spelling is kept).
    Home {
        /// The normalized prefix.
        key: Vec<u8>,
        /// The prefix as the caller spelled it.
        spelling: String,
    },
    /// Remove a homed prefix if it is there.
    Unhome {
        /// The normalized prefix.
        key: Vec<u8>,
    },
    /// Write or remove an auxiliary entry.
    Aux(AuxOp),
}

/// What the planner needs to know about a stored handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Current {
    /// The stored version.
    pub(crate) version: u64,
    /// The spelling of creation.
    pub(crate) handle: String,
}

/// Checks the preconditions of `batch` and returns the writes that apply it.
///
/// `lookup` reads the state of a handle before the batch, and `aux_lookup` that of an auxiliary
/// entry `(space, key)`. If a precondition fails the result is
/// [`StoreError::Conflict`] naming the handle as the caller spelled it, and the caller must
/// write nothing. A handle spelling longer than [`MAX_HANDLE_LEN`] bytes is rejected as
/// [`StoreError::Storage`] because it cannot be stored.
pub(crate) fn plan<F, G>(
    batch: &WriteBatch,
    mut lookup: F,
    mut aux_lookup: G,
) -> Result<Vec<Op>, StoreError>
where
    F: FnMut(&[u8]) -> Result<Option<Current>, StoreError>,
    G: FnMut(&str, &[u8]) -> Result<Option<AuxEntry>, StoreError>,
{
    // The state of every handle this batch has touched so far; `None` means deleted.
    let mut overlay: HashMap<Vec<u8>, Option<Current>> = HashMap::new();
    let mut aux_overlay = AuxOverlay::new();
    let mut ops = Vec::with_capacity(batch.mutations.len());
    for mutation in &batch.mutations {
        match mutation {
            Mutation::PutHandle {
                handle,
                values,
                expect,
            } => {
                check_len(handle)?;
                let key = normalize(handle);
                let current = current(&mut overlay, &mut lookup, &key)?;
                check_expect(handle, *expect, current.as_ref())?;
                let (version, spelling) = match current {
                    Some(existing) => {
                        let version = existing.version.checked_add(1).ok_or_else(|| {
                            StoreError::Storage(format!("version of {handle} would overflow"))
                        })?;
                        (version, existing.handle)
                    }
                    None => (1, handle.clone()),
                };
                overlay.insert(
                    key.clone(),
                    Some(Current {
                        version,
                        handle: spelling.clone(),
                    }),
                );
                ops.push(Op::Put {
                    key,
                    record: StoredRecord {
                        handle: spelling,
                        version,
                        values: values.clone(),
                    },
                });
            }
            Mutation::DeleteHandle { handle, expect } => {
                if *expect == Expect::Absent {
                    return Err(StoreError::Conflict {
                        handle: handle.clone(),
                    });
                }
                let key = normalize(handle);
                let current = current(&mut overlay, &mut lookup, &key)?;
                check_expect(handle, *expect, current.as_ref())?;
                overlay.insert(key.clone(), None);
                ops.push(Op::Delete { key });
            }
            Mutation::HomePrefix { prefix } => ops.push(Op::Home {
                key: normalize(prefix),
                spelling: prefix.clone(),
            }),
            Mutation::UnhomePrefix { prefix } => ops.push(Op::Unhome {
                key: normalize(prefix),
            }),
            Mutation::PutAux {
                space,
                key,
                value,
                expect,
            } => {
                check_address(space, key)?;
                let current = current_aux(&mut aux_overlay, &mut aux_lookup, space, key)?;
                check_aux_expect(space, key, *expect, current.as_ref())?;
                let version = next_version(current.as_ref())?;
                let entry = AuxEntry {
                    version,
                    value: value.clone(),
                };
                ops.push(put_aux(&mut aux_overlay, space, key.clone(), entry));
            }
            Mutation::DeleteAux { space, key, expect } => {
                check_address(space, key)?;
                let current = current_aux(&mut aux_overlay, &mut aux_lookup, space, key)?;
                if *expect == Expect::Absent {
                    return Err(StoreError::Conflict {
                        handle: conflict_name(space, key),
                    });
                }
                check_aux_expect(space, key, *expect, current.as_ref())?;
                aux_overlay.insert((space.clone(), key.clone()), None);
                ops.push(Op::Aux(AuxOp::Delete {
                    space: space.clone(),
                    key: key.clone(),
                }));
            }
            Mutation::AppendAux {
                space,
                key_prefix,
                value,
            } => {
                check_address(space, key_prefix)?;
                let counter_key = space.as_bytes().to_vec();
                let counter =
                    current_aux(&mut aux_overlay, &mut aux_lookup, SEQ_SPACE, &counter_key)?;
                let seq = decode_counter(counter.as_ref())?
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Storage(format!("sequence of {space} overflows")))?;
                let counter_entry = AuxEntry {
                    version: next_version(counter.as_ref())?,
                    value: seq.to_be_bytes().to_vec(),
                };
                ops.push(put_aux(
                    &mut aux_overlay,
                    SEQ_SPACE,
                    counter_key,
                    counter_entry,
                ));
                let mut key = key_prefix.clone();
                key.extend_from_slice(&seq.to_be_bytes());
                check_address(space, &key)?;
                let current = current_aux(&mut aux_overlay, &mut aux_lookup, space, &key)?;
                let entry = AuxEntry {
                    version: next_version(current.as_ref())?,
                    value: value.clone(),
                };
                ops.push(put_aux(&mut aux_overlay, space, key, entry));
            }
        }
    }
    Ok(ops)
}

/// The version an aux entry gets when it is written over `current`.
fn next_version(current: Option<&AuxEntry>) -> Result<u64, StoreError> {
    match current {
        None => Ok(1),
        Some(entry) => entry
            .version
            .checked_add(1)
            .ok_or_else(|| StoreError::Storage("aux entry version would overflow".to_owned())),
    }
}

/// Records a put in the overlay and returns its op.
fn put_aux(overlay: &mut AuxOverlay, space: &str, key: Vec<u8>, entry: AuxEntry) -> Op {
    overlay.insert((space.to_owned(), key.clone()), Some(entry.clone()));
    Op::Aux(AuxOp::Put {
        space: space.to_owned(),
        key,
        entry,
    })
}

/// The state of an aux entry as seen by the next mutation of the batch.
fn current_aux<G>(
    overlay: &mut AuxOverlay,
    lookup: &mut G,
    space: &str,
    key: &[u8],
) -> Result<Option<AuxEntry>, StoreError>
where
    G: FnMut(&str, &[u8]) -> Result<Option<AuxEntry>, StoreError>,
{
    match overlay.get(&(space.to_owned(), key.to_vec())) {
        Some(state) => Ok(state.clone()),
        None => lookup(space, key),
    }
}

/// The state of `key` as seen by the next mutation of the batch.
fn current<F>(
    overlay: &mut HashMap<Vec<u8>, Option<Current>>,
    lookup: &mut F,
    key: &[u8],
) -> Result<Option<Current>, StoreError>
where
    F: FnMut(&[u8]) -> Result<Option<Current>, StoreError>,
{
    match overlay.get(key) {
        Some(state) => Ok(state.clone()),
        None => lookup(key),
    }
}

/// Fails with [`StoreError::Conflict`] unless `current` satisfies `expect`.
fn check_expect(handle: &str, expect: Expect, current: Option<&Current>) -> Result<(), StoreError> {
    let holds = match (expect, current) {
        (Expect::Any, _) => true,
        (Expect::Absent, existing) => existing.is_none(),
        (Expect::Version(wanted), Some(existing)) => existing.version == wanted,
        (Expect::Version(_), None) => false,
    };
    if holds {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            handle: handle.to_owned(),
        })
    }
}

/// Rejects handle spellings too long for the stored header.
fn check_len(handle: &str) -> Result<(), StoreError> {
    if handle.len() > MAX_HANDLE_LEN {
        return Err(StoreError::Storage(format!(
            "handle of {} bytes is longer than the {MAX_HANDLE_LEN} bytes a store accepts",
            handle.len()
        )));
    }
    Ok(())
}

/// The key range of the handles under `prefix`: from `PREFIX/` (inclusive) to `PREFIX0`
/// (exclusive), since `0` is the byte after `/`.
pub(crate) fn handle_range(prefix: &str) -> (Vec<u8>, Vec<u8>) {
    let mut start = normalize(prefix);
    let mut end = start.clone();
    start.push(b'/');
    end.push(b'/' + 1);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_covers_exactly_the_prefix() {
        let (start, end) = handle_range("88.Ab");
        assert_eq!(start, b"88.AB/");
        assert_eq!(end, b"88.AB0");
        assert!(b"88.AB/X".as_slice() >= start.as_slice());
        assert!(b"88.AB/\xff".as_slice() < end.as_slice());
        assert!(
            b"88.AB.1/X".as_slice() < start.as_slice() || b"88.AB.1/X".as_slice() >= end.as_slice()
        );
    }
}
