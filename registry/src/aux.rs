//! Auxiliary key-value data kept beside the handles: templates, enterprise applications,
//! tokens, the audit log, and whatever else a domain layer needs, written in the same atomic
//! batches as handle changes.
//!
//! Entries live in *spaces* (short names such as `template` or `audit`) and are addressed by
//! `(space, key)` with an arbitrary byte key; keys of one space sort bytewise, so big-endian
//! numbers and `name ‖ 0 ‖ version` keys give ordered scans. Every entry carries a version that
//! grows with each change, so the same [`Expect`] preconditions as for handles apply.
//!
//! [`Mutation::AppendAux`](crate::Mutation::AppendAux) appends to an append-only space: the key
//! is the caller's prefix (for the audit log, a big-endian timestamp) followed by the next value
//! of the space's sequence counter as a big-endian `u64`, assigned inside the writer's
//! transaction, so entries of one space never collide and sort by time and then by arrival.
//!
//! Storage: [`crate::RedbStore`] keeps every space in one redb table `aux` keyed by
//! `(space, key)`, whose values are the version as a big-endian `u64` followed by the value
//! bytes; the sequence counters are entries of the reserved space [`SEQ_SPACE`], keyed by the
//! space name.

use std::collections::HashMap;

use crate::{Expect, StoreError};

/// The reserved space of sequence counters: key = space name, value = the last sequence number
/// handed out in that space, as a big-endian `u64`.
pub const SEQ_SPACE: &str = "$seq";

/// The longest space name, in bytes.
pub const MAX_SPACE_LEN: usize = 64;

/// The longest aux key, in bytes.
pub const MAX_AUX_KEY_LEN: usize = 1024;

/// One stored auxiliary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuxEntry {
    /// Grows by one with every change; starts at 1.
    pub version: u64,
    /// The value bytes, as written.
    pub value: Vec<u8>,
}

/// The bounds and direction of an aux scan within one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuxScan {
    /// The first key (inclusive).
    pub start: Vec<u8>,
    /// The end key (exclusive); `None` scans to the end of the space.
    pub end: Option<Vec<u8>>,
    /// The most entries returned.
    pub limit: usize,
    /// Scan from the end towards the start.
    pub reverse: bool,
}

impl AuxScan {
    /// Every key of the space, in key order, at most `limit`.
    pub fn all(limit: usize) -> Self {
        Self {
            start: Vec::new(),
            end: None,
            limit,
            reverse: false,
        }
    }

    /// Every key of the space that starts with `prefix`, in key order, at most `limit`.
    pub fn prefixed(prefix: &[u8], limit: usize) -> Self {
        Self {
            start: prefix.to_vec(),
            end: prefix_end(prefix),
            limit,
            reverse: false,
        }
    }

    /// The keys from `start` (inclusive) to `end` (exclusive), at most `limit`.
    pub fn range(start: &[u8], end: Option<&[u8]>, limit: usize) -> Self {
        Self {
            start: start.to_vec(),
            end: end.map(<[u8]>::to_vec),
            limit,
            reverse: false,
        }
    }

    /// The same bounds, scanned from the last key backwards.
    pub fn reversed(mut self) -> Self {
        self.reverse = true;
        self
    }
}

/// One aux write that a checked batch performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuxOp {
    /// Store this entry, replacing what is there.
    Put {
        /// The space.
        space: String,
        /// The key.
        key: Vec<u8>,
        /// The entry with its final version.
        entry: AuxEntry,
    },
    /// Remove the entry.
    Delete {
        /// The space.
        space: String,
        /// The key.
        key: Vec<u8>,
    },
}

/// The aux entries a batch has touched so far; `None` means deleted.
pub(crate) type AuxOverlay = HashMap<(String, Vec<u8>), Option<AuxEntry>>;

/// Checks a space name and key before anything is planned.
pub(crate) fn check_address(space: &str, key: &[u8]) -> Result<(), StoreError> {
    if space.is_empty() || space.len() > MAX_SPACE_LEN {
        return Err(StoreError::Storage(format!(
            "aux space names have 1 to {MAX_SPACE_LEN} bytes"
        )));
    }
    if key.len() > MAX_AUX_KEY_LEN {
        return Err(StoreError::Storage(format!(
            "aux keys have at most {MAX_AUX_KEY_LEN} bytes"
        )));
    }
    Ok(())
}

/// The name a conflict on an aux entry reports: `space:key`, with the key as lossy UTF-8.
pub(crate) fn conflict_name(space: &str, key: &[u8]) -> String {
    format!("{space}:{}", String::from_utf8_lossy(key))
}

/// Fails with [`StoreError::Conflict`] unless the current entry satisfies `expect`.
pub(crate) fn check_aux_expect(
    space: &str,
    key: &[u8],
    expect: Expect,
    current: Option<&AuxEntry>,
) -> Result<(), StoreError> {
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
            handle: conflict_name(space, key),
        })
    }
}

/// The stored form of an entry: version (big-endian `u64`) ‖ value.
pub(crate) fn encode_entry(entry: &AuxEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + entry.value.len());
    out.extend_from_slice(&entry.version.to_be_bytes());
    out.extend_from_slice(&entry.value);
    out
}

/// Reads a stored entry; fewer than 8 bytes is corruption.
pub(crate) fn decode_entry(space: &str, key: &[u8], bytes: &[u8]) -> Result<AuxEntry, StoreError> {
    let (version, value) = bytes.split_at_checked(8).ok_or_else(|| {
        StoreError::Storage(format!(
            "corrupt aux entry {}: shorter than its version",
            conflict_name(space, key)
        ))
    })?;
    let mut be = [0u8; 8];
    be.copy_from_slice(version);
    Ok(AuxEntry {
        version: u64::from_be_bytes(be),
        value: value.to_vec(),
    })
}

/// The value of a sequence counter entry.
pub(crate) fn decode_counter(entry: Option<&AuxEntry>) -> Result<u64, StoreError> {
    match entry {
        None => Ok(0),
        Some(entry) => {
            let bytes: [u8; 8] = entry
                .value
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Storage("corrupt aux sequence counter".to_owned()))?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

/// Whether `key` lies within a scan's bounds.
pub(crate) fn in_bounds(scan: &AuxScan, key: &[u8]) -> bool {
    key >= scan.start.as_slice() && scan.end.as_deref().is_none_or(|end| key < end)
}

/// The exclusive end of the keys that start with `prefix`: the prefix with its last byte below
/// 0xff incremented and everything after it dropped, or `None` when every byte is 0xff (no
/// finite bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let entry = AuxEntry {
            version: 3,
            value: b"abc".to_vec(),
        };
        assert_eq!(
            decode_entry("s", b"k", &encode_entry(&entry)).unwrap(),
            entry
        );
        assert!(decode_entry("s", b"k", &[0; 7]).is_err());
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
